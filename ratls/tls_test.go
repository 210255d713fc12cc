package ratls

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// testPKI is the operator's CA (sim.TLSAuthority) with two server certificates: one with SANs,
// one with a CN only (like the AKS example's server certificate). crypto/tls checks ordinary
// certificates at the real time, which the authority's default validity covers.
type testPKI struct {
	ca       *sim.TLSAuthority
	roots    *x509.CertPool
	server   *tls.Certificate // CN server, SAN localhost, 127.0.0.1
	serverCN *tls.Certificate // CN secretprov.test, no SAN
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func getPKI(t testing.TB) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		ca := simtest.TLSAuthority(t)
		server := simtest.ServerCertificateWithCN(t, ca, "server", "localhost", "127.0.0.1")
		serverCN := simtest.ServerCertificateWithCN(t, ca, "secretprov.test")
		pki = testPKI{ca: ca, roots: ca.Pool(), server: &server, serverCN: &serverCN}
	})
	return pki
}

func fixedClock() time.Time { return testTime }

// serverResult is what the server side of one handshake saw.
type serverResult struct {
	err   error
	slot  *EvidenceSlot
	state tls.ConnectionState
}

// handshake runs one TLS connection over loopback; the server handshakes with an evidence
// context and writes "ok", the client reads it (so a TLS 1.3 client sees the server's alert).
func handshake(t *testing.T, ln net.Listener, server, client *tls.Config) (serverResult, error) {
	t.Helper()
	res := make(chan serverResult, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			res <- serverResult{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(conn, server)
		ctx, slot := NewEvidenceContext(context.Background())
		err = tc.HandshakeContext(ctx)
		if err == nil {
			_, err = tc.Write([]byte("ok"))
		}
		res <- serverResult{err: err, slot: slot, state: tc.ConnectionState()}
	}()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	conn, clientErr := tls.DialWithDialer(dialer, "tcp", ln.Addr().String(), client)
	if clientErr == nil {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 2)
		if _, clientErr = io.ReadFull(conn, buf); clientErr == nil && string(buf) != "ok" {
			clientErr = errors.New("unexpected data")
		}
		conn.Close()
	}
	return <-res, clientErr
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

func TestTLSEndToEnd(t *testing.T) {
	p := getPKI(t)
	good := newRATLS(t, mrEnclaveA)
	tcgOnly := newRATLS(t, mrEnclaveA, WithFormats(FormatTCG))
	tampered := &tls.Certificate{Certificate: [][]byte{bytes.Clone(tcgOnly.Certificate[0])}, PrivateKey: tcgOnly.PrivateKey}
	i := bytes.Index(tampered.Certificate[0], mrEnclaveA[:])
	if i < 0 || bytes.Index(tampered.Certificate[0][i+1:], mrEnclaveA[:]) >= 0 {
		t.Fatal("test bug: MRENCLAVE not found exactly once")
	}
	tampered.Certificate[0][i] ^= 0xff
	otherKey, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	notHeld := &tls.Certificate{Certificate: good.Certificate, PrivateKey: otherKey}

	tests := []struct {
		name       string
		cert       *tls.Certificate
		allow      quote.Measurement
		wantReason Reason // "" = handshake succeeds
		wantFail   bool   // fails without an RA-TLS reason (TLS-level failure)
	}{
		{"authorized", good, mrEnclaveA, "", false},
		{"wrong mrenclave", good, mrEnclaveB, ReasonIdentityMismatch, false},
		{"tampered quote", tampered, mrEnclaveA, "quote_signature_invalid", false},
		{"key not held", notHeld, mrEnclaveA, "", true},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(tls.VersionName(version)+"/"+tt.name, func(t *testing.T) {
				var seen []quote.Measurement
				var mu sync.Mutex
				authz := func(ev *Evidence) error {
					mu.Lock()
					seen = append(seen, ev.Result.SGX.MREnclave)
					mu.Unlock()
					return AuthorizeMREnclave(tt.allow)(ev)
				}
				v := newVerifier()
				server := ServerConfig(StaticCert(p.server), v, authz, WithClock(fixedClock))
				client := ClientConfig(StaticCert(tt.cert), p.roots, "localhost")
				client.MaxVersion = version
				sr, clientErr := handshake(t, listen(t), server, client)
				switch {
				case tt.wantFail:
					if sr.err == nil || clientErr == nil || ReasonOf(sr.err) != "" {
						t.Fatalf("server %v, client %v", sr.err, clientErr)
					}
					return
				case tt.wantReason != "":
					if got := ReasonOf(sr.err); got != tt.wantReason || clientErr == nil {
						t.Fatalf("server reason %q (%v), want %q; client %v", got, sr.err, tt.wantReason, clientErr)
					}
					if _, err := sr.slot.Outcome(); ReasonOf(err) != tt.wantReason || sr.slot.Evidence() != nil {
						t.Errorf("slot outcome %v", err)
					}
					return
				}
				if sr.err != nil || clientErr != nil {
					t.Fatalf("server %v, client %v", sr.err, clientErr)
				}
				if sr.state.Version != version {
					t.Errorf("version %x, want %x", sr.state.Version, version)
				}
				ev := sr.slot.Evidence()
				if ev == nil || ev.Result.SGX.MREnclave != mrEnclaveA || ev.Binding != BindingTCG {
					t.Fatalf("slot evidence %+v", ev)
				}
				if len(seen) != 1 || seen[0] != mrEnclaveA {
					t.Errorf("authorizer saw %v", seen)
				}
			})
		}
	}
}

func TestTLS12NonAEADRefused(t *testing.T) {
	p := getPKI(t)
	server := ServerConfig(StaticCert(p.server), newVerifier(), AuthorizeAnyInsecure())
	client := ClientConfig(StaticCert(newRATLS(t, mrEnclaveA)), p.roots, "localhost")
	client.MaxVersion = tls.VersionTLS12
	client.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	sr, clientErr := handshake(t, listen(t), server, client)
	if sr.err == nil || clientErr == nil {
		t.Fatalf("CBC suite accepted: server %v client %v", sr.err, clientErr)
	}
	for _, s := range server.CipherSuites {
		if info := suiteInfo(s); info == nil || len(info.SupportedVersions) == 0 {
			t.Errorf("suite %#x unknown", s)
		}
	}
	if server.MinVersion != tls.VersionTLS12 || server.ClientAuth != tls.RequireAnyClientCert {
		t.Errorf("min version %x, client auth %v", server.MinVersion, server.ClientAuth)
	}
}

func suiteInfo(id uint16) *tls.CipherSuite {
	for _, s := range tls.CipherSuites() {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func TestTLSResumptionReverified(t *testing.T) {
	p := getPKI(t)
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			v := newVerifier()
			server := ServerConfig(StaticCert(p.server), v, AuthorizeMREnclave(mrEnclaveA))
			client := ClientConfig(StaticCert(newRATLS(t, mrEnclaveA)), p.roots, "localhost")
			client.MaxVersion = version
			client.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			ln := listen(t)
			for i := range 2 {
				sr, clientErr := handshake(t, ln, server, client)
				if sr.err != nil || clientErr != nil {
					t.Fatalf("handshake %d: server %v client %v", i, sr.err, clientErr)
				}
				if i == 1 && !sr.state.DidResume {
					t.Fatal("second handshake did not resume")
				}
				if sr.slot.Evidence() == nil {
					t.Fatalf("handshake %d: no evidence", i)
				}
			}
			if got := v.calls.Load(); got != 2 {
				t.Errorf("verifier called %d times, want 2 (resumption re-verifies)", got)
			}
		})
	}
}

func TestServerConfigRequiresClientCert(t *testing.T) {
	p := getPKI(t)
	v := newVerifier()
	server := ServerConfig(StaticCert(p.server), v, AuthorizeAnyInsecure())
	client := &tls.Config{RootCAs: p.roots, ServerName: "localhost"}
	sr, clientErr := handshake(t, listen(t), server, client)
	if sr.err == nil || clientErr == nil || v.calls.Load() != 0 {
		t.Fatalf("server %v client %v", sr.err, clientErr)
	}
}

func TestVerifyTimeout(t *testing.T) {
	p := getPKI(t)
	server := ServerConfig(StaticCert(p.server), &fakeVerifier{block: true}, AuthorizeAnyInsecure(), WithVerifyTimeout(50*time.Millisecond))
	client := ClientConfig(StaticCert(newRATLS(t, mrEnclaveA)), p.roots, "localhost")
	sr, _ := handshake(t, listen(t), server, client)
	if ReasonOf(sr.err) != ReasonVerificationFailed || !errors.Is(sr.err, context.DeadlineExceeded) {
		t.Fatalf("server %v", sr.err)
	}
}

func TestVerifyingClientConfig(t *testing.T) {
	raTLS := newRATLS(t, mrEnclaveA)
	for _, tt := range []struct {
		name  string
		allow quote.Measurement
		want  Reason
	}{
		{"authorized", mrEnclaveA, ""},
		{"wrong mrenclave", mrEnclaveB, ReasonIdentityMismatch},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var hooked *Evidence
			client := VerifyingClientConfig(newVerifier(), AuthorizeMREnclave(tt.allow),
				WithEvidenceHook(func(ev *Evidence) { hooked = ev }), WithClock(fixedClock))
			server := &tls.Config{Certificates: []tls.Certificate{*raTLS}}
			_, clientErr := handshake(t, listen(t), server, client)
			if got := ReasonOf(clientErr); got != tt.want {
				t.Fatalf("client reason %q, want %q: %v", got, tt.want, clientErr)
			}
			if (hooked != nil) != (tt.want == "") {
				t.Errorf("hook evidence %v", hooked)
			}
		})
	}
}

func TestClientConfigServerNameFromCN(t *testing.T) {
	p := getPKI(t)
	tests := []struct {
		name       string
		serverCert *tls.Certificate
		serverName string
		opts       []Option
		wantOK     bool
	}{
		{"san, default", p.server, "localhost", nil, true},
		{"cn only, default refuses", p.serverCN, "secretprov.test", nil, false},
		{"cn only, option", p.serverCN, "secretprov.test", []Option{WithServerNameFromCN()}, true},
		{"cn only, option, other name", p.serverCN, "other.test", []Option{WithServerNameFromCN()}, false},
		{"san with option, cn ignored", p.server, "server", []Option{WithServerNameFromCN()}, false},
		{"san with option, san checked", p.server, "localhost", []Option{WithServerNameFromCN()}, true},
		{"cn only, option, untrusted", p.serverCN, "secretprov.test", []Option{WithServerNameFromCN(), WithClock(func() time.Time { return p.ca.Certificate().NotAfter.Add(time.Hour) })}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := ServerConfig(StaticCert(tt.serverCert), newVerifier(), AuthorizeAnyInsecure())
			client := ClientConfig(StaticCert(newRATLS(t, mrEnclaveA)), p.roots, tt.serverName, tt.opts...)
			_, clientErr := handshake(t, listen(t), server, client)
			if (clientErr == nil) != tt.wantOK {
				t.Fatalf("client error %v, want ok=%t", clientErr, tt.wantOK)
			}
		})
	}
}

func TestMatchCN(t *testing.T) {
	for _, tt := range []struct {
		cn, name string
		want     bool
	}{
		{"a.example", "A.Example.", true},
		{"*.example", "a.example", true},
		{"*.example", "a.b.example", false},
		{"*.example", "example", false},
		{"*.", "a.", false},
		{"", "", false},
		{"10.0.0.1", "10.0.0.1", true},
	} {
		if got := matchCN(tt.cn, tt.name); got != tt.want {
			t.Errorf("matchCN(%q, %q) = %t", tt.cn, tt.name, got)
		}
	}
}

func TestVerifyConnectionPeerCount(t *testing.T) {
	leaf := newRATLS(t, mrEnclaveA).Leaf
	tests := []struct {
		name  string
		peers []*x509.Certificate
		v     QuoteVerifier
		authz Authorizer
		want  Reason
	}{
		{"one", []*x509.Certificate{leaf}, newVerifier(), AuthorizeMREnclave(mrEnclaveA), ""},
		{"none", nil, newVerifier(), AuthorizeAnyInsecure(), ReasonChainInvalid},
		{"two", []*x509.Certificate{leaf, leaf}, newVerifier(), AuthorizeAnyInsecure(), ReasonChainInvalid},
		{"nil verifier", []*x509.Certificate{leaf}, nil, AuthorizeAnyInsecure(), ReasonUnauthorized},
		{"nil authorizer", []*x509.Certificate{leaf}, newVerifier(), nil, ReasonUnauthorized},
		{"foreign authorizer error", []*x509.Certificate{leaf}, newVerifier(), func(*Evidence) error { return io.EOF }, ReasonUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, slot := NewEvidenceContext(context.Background())
			err := VerifyConnection(ctx, tt.v, tt.authz, fixedClock)(tls.ConnectionState{PeerCertificates: tt.peers})
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
			ev, slotErr := slot.Outcome()
			if slotErr != err || (tt.want == "") != (slot.Evidence() != nil) || (tt.want == "" && ev == nil) {
				t.Errorf("slot: %v %v", ev, slotErr)
			}
		})
	}
}

func TestHookServerConfig(t *testing.T) {
	p := getPKI(t)
	var prevCalled bool
	c := &tls.Config{
		NextProtos:            []string{"secretprov"},
		InsecureSkipVerify:    true,
		Certificates:          []tls.Certificate{*p.serverCN},
		ClientAuth:            tls.NoClientCert,
		MinVersion:            tls.VersionTLS10,
		VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { return nil },
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			prevCalled = true
			return &tls.Config{NextProtos: []string{"from-prev"}}, nil
		},
	}
	HookServerConfig(c, StaticCert(p.server), newVerifier(), AuthorizeMREnclave(mrEnclaveA))
	if c.InsecureSkipVerify || c.Certificates != nil || c.VerifyPeerCertificate != nil ||
		c.ClientAuth != tls.RequireAnyClientCert || c.MinVersion != tls.VersionTLS12 || c.NextProtos[0] != "secretprov" {
		t.Fatalf("hooked config: %+v", c)
	}
	client := ClientConfig(StaticCert(newRATLS(t, mrEnclaveA)), p.roots, "localhost")
	client.NextProtos = []string{"from-prev"}
	sr, clientErr := handshake(t, listen(t), c, client)
	if sr.err != nil || clientErr != nil || !prevCalled || sr.slot.Evidence() == nil {
		t.Fatalf("server %v client %v prev %t", sr.err, clientErr, prevCalled)
	}
	if sr.state.NegotiatedProtocol != "from-prev" {
		t.Errorf("ALPN %q: the previous GetConfigForClient's config was not used", sr.state.NegotiatedProtocol)
	}
}

func TestClientConfigAlwaysSendsCertificate(t *testing.T) {
	raTLS := newRATLS(t, mrEnclaveA)
	c := ClientConfig(StaticCert(raTLS), nil, "x")
	// A Gramine server names its own certificate's subject as the acceptable CA.
	got, err := c.GetClientCertificate(&tls.CertificateRequestInfo{AcceptableCAs: [][]byte{[]byte("some other CA")}})
	if err != nil || got != raTLS {
		t.Fatalf("GetClientCertificate = %v, %v", got, err)
	}
	if _, err := StaticCert(nil).GetCertificate(); err == nil {
		t.Error("nil static certificate")
	}
}

func TestHardenKeepsCallerSuites(t *testing.T) {
	c := &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}}
	HookVerifyingClientConfig(c, newVerifier(), AuthorizeAnyInsecure())
	if len(c.CipherSuites) != 1 || c.CipherSuites[0] != tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 || !c.InsecureSkipVerify {
		t.Errorf("suites %x", c.CipherSuites)
	}
	c = &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256}}
	HookClientConfig(c, StaticCert(nil), nil, "x")
	if len(c.CipherSuites) != len(tls12Suites) {
		t.Errorf("suites %x", c.CipherSuites)
	}
}
