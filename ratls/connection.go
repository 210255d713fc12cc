package ratls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"sync"
	"time"
)

// VerifyConnection returns a tls.Config.VerifyConnection callback that requires the peer to
// present exactly one certificate, verifies it as an RA-TLS certificate with v at now() (nil:
// time.Now), and authorizes the evidence with authz; a nil v or authz refuses every peer. ctx
// bounds the verification; if it carries an EvidenceSlot (NewEvidenceContext), the outcome is
// recorded there.
//
// Use VerifyConnection, not VerifyPeerCertificate: crypto/tls calls it on resumed sessions too.
// Only the peer's proof of key possession comes from the handshake; everything else is checked
// here. Set ClientAuth to tls.RequireAnyClientCert on servers and InsecureSkipVerify on clients
// (the certificate is self-signed), as ServerConfig and VerifyingClientConfig do.
func VerifyConnection(ctx context.Context, v QuoteVerifier, authz Authorizer, now func() time.Time) func(tls.ConnectionState) error {
	o := newOptions([]Option{WithVerifyTimeout(0), WithClock(now)})
	return verifyConnection(ctx, v, authz, o)
}

func verifyConnection(ctx context.Context, v QuoteVerifier, authz Authorizer, o *options) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		ev, err := verifyPeer(ctx, cs.PeerCertificates, v, authz, o)
		if s, ok := ctx.Value(slotKey{}).(*EvidenceSlot); ok {
			s.record(ev, err)
		}
		if err == nil && o.hook != nil {
			o.hook(ev)
		}
		return err
	}
}

func verifyPeer(ctx context.Context, peer []*x509.Certificate, v QuoteVerifier, authz Authorizer, o *options) (*Evidence, error) {
	if len(peer) != 1 {
		return nil, refuse(ReasonChainInvalid, "peer certificates", "want exactly one certificate")
	}
	if v == nil || authz == nil {
		return nil, refuse(ReasonUnauthorized, "configuration", "no quote verifier or no authorizer")
	}
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	ev, err := VerifyCertificate(ctx, peer[0], v, o.now())
	if err != nil {
		return ev, err
	}
	if err := authz(ev); err != nil {
		if _, ok := errors.AsType[*Error](err); ok {
			return ev, err
		}
		return ev, refuseErr(ReasonUnauthorized, "authorize", err)
	}
	return ev, nil
}

// EvidenceSlot receives the RA-TLS outcome of one handshake. Get one from NewEvidenceContext and
// pass the context to tls.Conn.HandshakeContext; it is safe for concurrent use.
type EvidenceSlot struct {
	mu  sync.Mutex
	ev  *Evidence
	err error
}

type slotKey struct{}

// NewEvidenceContext returns a context carrying a fresh EvidenceSlot. A server gets the evidence
// of each connection without any shared map:
//
//	ctx, slot := ratls.NewEvidenceContext(connCtx)
//	if err := tlsConn.HandshakeContext(ctx); err != nil { ... } // ratls.ReasonOf(err)
//	ev := slot.Evidence() // verified and authorized
func NewEvidenceContext(ctx context.Context) (context.Context, *EvidenceSlot) {
	s := &EvidenceSlot{}
	return context.WithValue(ctx, slotKey{}, s), s
}

func (s *EvidenceSlot) record(ev *Evidence, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ev, s.err = ev, err
}

// Evidence returns the evidence of a peer that was verified and authorized, nil otherwise.
func (s *EvidenceSlot) Evidence() *Evidence {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil
	}
	return s.ev
}

// Outcome returns what the verification recorded: the evidence and nil; for a refused peer the
// error and, when the certificate parsed, the unauthorized evidence (for logs and audit only);
// (nil, nil) when no verification ran.
func (s *EvidenceSlot) Outcome() (*Evidence, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ev, s.err
}

// verifyServerCN verifies the server chain as crypto/tls would, but also accepts a certificate
// without SANs whose CN matches the server name (WithServerNameFromCN).
func verifyServerCN(roots *x509.CertPool, serverName string, now func() time.Time) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		const step = "server certificate"
		if len(cs.PeerCertificates) == 0 {
			return refuse(ReasonChainInvalid, step, "no certificate")
		}
		name := serverName
		if name == "" {
			name = cs.ServerName
		}
		if name == "" {
			return refuse(ReasonChainInvalid, step, "no server name to check")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return refuseErr(ReasonChainInvalid, step, err)
		}
		if hasSAN(leaf) {
			if err := leaf.VerifyHostname(name); err != nil {
				return refuseErr(ReasonChainInvalid, step, err)
			}
			return nil
		}
		if !matchCN(leaf.Subject.CommonName, name) {
			return refuse(ReasonChainInvalid, step, "subject CN does not match "+name)
		}
		return nil
	}
}

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

func hasSAN(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidSubjectAltName) {
			return true
		}
	}
	return false
}

// matchCN compares case-insensitively, ignoring one trailing dot; a CN "*.example.com" matches
// exactly one label in front of example.com.
func matchCN(cn, name string) bool {
	cn = strings.ToLower(strings.TrimSuffix(cn, "."))
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if cn == "" || name == "" {
		return false
	}
	if suffix, ok := strings.CutPrefix(cn, "*."); ok {
		label, rest, found := strings.Cut(name, ".")
		return found && label != "" && rest == suffix && suffix != ""
	}
	return cn == name
}
