package ratls_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// simCert creates an RA-TLS certificate whose quotes come from e.
func simCert(t *testing.T, e *sim.Enclave, opts ...ratls.CreateOption) *tls.Certificate {
	t.Helper()
	c, err := ratls.NewCertificate(context.Background(), e, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tamperedCert flips a byte of MRENCLAVE in the (single) quote of a TCG-only certificate: the
// binding still holds, the quote signature does not.
func tamperedCert(t *testing.T, c *tls.Certificate, mr quote.Measurement) *tls.Certificate {
	t.Helper()
	der := bytes.Clone(c.Certificate[0])
	i := bytes.Index(der, mr[:])
	if i < 0 || bytes.Contains(der[i+1:], mr[:]) {
		t.Fatal("test bug: MRENCLAVE not found exactly once")
	}
	der[i] ^= 0x01
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: c.PrivateKey}
}

// swappedKeyCert carries the RA-TLS extensions of c but a fresh key, which it holds: the TLS
// handshake succeeds, the quote binds another key.
func swappedKeyCert(t *testing.T, c *tls.Certificate) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), RawSubject: c.Leaf.RawSubject, NotBefore: c.Leaf.NotBefore, NotAfter: c.Leaf.NotAfter}
	for _, e := range c.Leaf.Extensions {
		if e.Id.Equal(ratls.OIDTaggedEvidence) || e.Id.Equal(ratls.OIDLegacyQuote) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: e.Id, Value: e.Value})
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func simVerifier(t *testing.T, w *sim.World, tee quote.TEE, opts ...verify.Option) *verify.Verifier {
	t.Helper()
	v, err := verify.New(verify.Static(simtest.Bundle(t, w, tee)), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seen records the evidence an Authorizer was shown.
type seen struct {
	mu  sync.Mutex
	evs []*ratls.Evidence
}

func (s *seen) wrap(authz ratls.Authorizer) ratls.Authorizer {
	return func(ev *ratls.Evidence) error {
		s.mu.Lock()
		s.evs = append(s.evs, ev)
		s.mu.Unlock()
		return authz(ev)
	}
}

func (s *seen) all() []*ratls.Evidence {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.evs
}

// authorizeMRTD accepts a TD whose MRTD is mrtd.
func authorizeMRTD(mrtd quote.TDMeasurement) ratls.Authorizer {
	return func(ev *ratls.Evidence) error {
		if ev.Result.TDX == nil || ev.Result.TDX.MRTD != mrtd {
			return &ratls.Error{Reason: ratls.ReasonIdentityMismatch, Step: "authorize", Err: errors.New("MRTD not allowed")}
		}
		return nil
	}
}

// TestSimEndToEnd: an enclave on the simulated platform presents its RA-TLS certificate to a
// server built with ServerConfig and a real verify.Verifier over the simulator's collateral and
// root, over real TLS on 127.0.0.1. The Authorizer sees the verified identity; a wrong identity,
// a tampered certificate, a quote binding another key, an outdated platform or the Intel root
// fail the handshake with the reason recorded in the evidence slot.
func TestSimEndToEnd(t *testing.T) {
	w := simtest.World(t)
	at := simtest.At(w)
	id := sim.DefaultIdentity()
	id.ISVProdID, id.ISVSVN = 7, 3
	sgx := simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate).Enclave(id)
	good := simCert(t, sgx)
	tcgOnly := simCert(t, sgx, ratls.WithFormats(ratls.FormatTCG))
	legacyOnly := simCert(t, sgx, ratls.WithFormats(ratls.FormatLegacy), ratls.WithKeyAlgorithm(ratls.ECDSAP256))
	outdated := simCert(t, simtest.Platform(t, w, quote.TEESGX, pcs.StatusOutOfDate).Enclave(id))
	td := simCert(t, simtest.Platform(t, w, quote.TEETDX, pcs.StatusUpToDate).Enclave(id))

	sgxV := simVerifier(t, w, quote.TEESGX, verify.WithRoot(w.Root()))
	tdxV := simVerifier(t, w, quote.TEETDX, verify.WithRoot(w.Root()))
	intelV := simVerifier(t, w, quote.TEESGX) // default trust: the real Intel root
	otherMR := id.MREnclave
	otherMR[0] ^= 0xff
	otherMRTD := id.MRTD
	otherMRTD[0] ^= 0xff

	tests := []struct {
		name        string
		cert        *tls.Certificate
		v           ratls.QuoteVerifier
		authz       ratls.Authorizer
		wantReason  ratls.Reason // "" = the handshake succeeds
		wantBinding ratls.Binding
		wantStatus  pcs.TCBStatus
	}{
		{"mrenclave", good, sgxV, ratls.AuthorizeMREnclave(id.MREnclave), "", ratls.BindingTCG, pcs.StatusUpToDate},
		{"mrsigner", good, sgxV, ratls.AuthorizeMRSigner(id.MRSigner, 7, 3), "", ratls.BindingTCG, pcs.StatusUpToDate},
		{"legacy p256", legacyOnly, sgxV, ratls.AuthorizeMREnclave(id.MREnclave), "", ratls.BindingLegacy, pcs.StatusUpToDate},
		{"tdx mrtd", td, tdxV, authorizeMRTD(id.MRTD), "", ratls.BindingTCG, pcs.StatusUpToDate},
		{"outdated accepted by a looser authorizer", outdated, sgxV, ratls.AuthorizeAnyInsecure(), "", ratls.BindingTCG, pcs.StatusOutOfDate},
		{"wrong mrenclave", good, sgxV, ratls.AuthorizeMREnclave(otherMR), ratls.ReasonIdentityMismatch, ratls.BindingTCG, pcs.StatusUpToDate},
		{"isv svn too low", good, sgxV, ratls.AuthorizeMRSigner(id.MRSigner, 7, 4), ratls.ReasonIdentityMismatch, ratls.BindingTCG, pcs.StatusUpToDate},
		{"wrong mrtd", td, tdxV, authorizeMRTD(otherMRTD), ratls.ReasonIdentityMismatch, ratls.BindingTCG, pcs.StatusUpToDate},
		{"outdated platform", outdated, sgxV, ratls.AuthorizeMREnclave(id.MREnclave), ratls.ReasonTCBRefused, ratls.BindingTCG, pcs.StatusOutOfDate},
		{"tampered quote", tamperedCert(t, tcgOnly, id.MREnclave), sgxV, ratls.AuthorizeAnyInsecure(), "quote_signature_invalid", ratls.BindingTCG, ""},
		{"quote binds another key", swappedKeyCert(t, tcgOnly), sgxV, ratls.AuthorizeAnyInsecure(), ratls.ReasonBindingInvalid, "", ""},
		{"intel root", good, intelV, ratls.AuthorizeAnyInsecure(), "pck_chain_invalid", ratls.BindingTCG, ""},
	}
	operatorCA := simtest.TLSAuthority(t)
	serverCert, pool := simtest.ServerCertificate(t, operatorCA, "localhost"), operatorCA.Pool()
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tc := range tests {
			t.Run(tls.VersionName(version)+"/"+tc.name, func(t *testing.T) {
				var s seen
				server := ratls.ServerConfig(ratls.StaticCert(&serverCert), tc.v, s.wrap(tc.authz), ratls.WithClock(func() time.Time { return at }))
				client := ratls.ClientConfig(ratls.StaticCert(tc.cert), pool, "localhost")
				client.MaxVersion = version
				slot, serverErr, clientErr := simHandshake(t, server, client)
				ev, outcome := slot.Outcome()
				if got := ratls.ReasonOf(serverErr); got != tc.wantReason || ratls.ReasonOf(outcome) != tc.wantReason {
					t.Fatalf("server reason %q (%v), slot %v; want %q", got, serverErr, outcome, tc.wantReason)
				}
				if tc.wantReason != "" {
					if clientErr == nil || slot.Evidence() != nil {
						t.Fatalf("refused handshake: client error %v, slot evidence %v", clientErr, slot.Evidence())
					}
				} else if clientErr != nil || slot.Evidence() != ev {
					t.Fatalf("client %v", clientErr)
				}
				checkEvidence(t, ev, s.all(), tc.cert.Certificate[0], tc.wantBinding, tc.wantStatus, id)
			})
		}
	}
}

// checkEvidence checks what the slot recorded and what the Authorizer saw: the authorizer runs
// only once the quote verified, and is shown the verified identity.
func checkEvidence(t *testing.T, ev *ratls.Evidence, authorized []*ratls.Evidence, presented []byte, binding ratls.Binding, status pcs.TCBStatus, id sim.Identity) {
	t.Helper()
	if binding == "" {
		if ev != nil || len(authorized) != 0 {
			t.Errorf("unparsable certificate produced evidence %v, authorizer calls %d", ev, len(authorized))
		}
		return
	}
	if ev == nil || ev.Binding != binding || !bytes.Equal(ev.Certificate.Raw, presented) || ev.Quote == nil {
		t.Fatalf("slot evidence %+v, want binding %q and the presented certificate", ev, binding)
	}
	if status == "" { // the verifier refused: no authorization
		if len(authorized) != 0 {
			t.Errorf("authorizer called %d times for a refused quote", len(authorized))
		}
		return
	}
	if len(authorized) != 1 || authorized[0] != ev {
		t.Fatalf("authorizer saw %d evidences, want exactly the slot's", len(authorized))
	}
	res := ev.Result
	if res.TCBStatus != status {
		t.Errorf("tcb status %q, want %q", res.TCBStatus, status)
	}
	switch {
	case res.SGX != nil:
		if *res.MREnclave != id.MREnclave || *res.MRSigner != id.MRSigner || *res.ISVProdID != 7 || *res.ISVSVN != 3 {
			t.Errorf("authorizer saw %s/%s prod %d svn %d", res.MREnclave, res.MRSigner, *res.ISVProdID, *res.ISVSVN)
		}
	case res.TDX != nil:
		if *res.MRTD != id.MRTD {
			t.Errorf("authorizer saw MRTD %s", res.MRTD)
		}
	default:
		t.Errorf("result without identity: %+v", res)
	}
}

// simHandshake runs one connection on 127.0.0.1: the server handshakes with an evidence
// context and writes "ok"; the client reads it, so a TLS 1.3 client sees the server's alert.
func simHandshake(t *testing.T, server, client *tls.Config) (slot *ratls.EvidenceSlot, serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, slot := ratls.NewEvidenceContext(context.Background())
	done := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(conn, server)
		err = tc.HandshakeContext(ctx)
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		done <- err
	}()
	conn, clientErr := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ln.Addr().String(), client)
	if clientErr == nil {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 2)
		if _, clientErr = io.ReadFull(conn, buf); clientErr == nil && string(buf) != "ok" {
			clientErr = errors.New("unexpected data from the server")
		}
		_ = conn.Close()
	}
	return slot, <-done, clientErr
}
