package ratls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"time"
)

// CertSource supplies the certificate a TLS endpoint presents. A static certificate
// (StaticCert) satisfies it; a server that reloads its certificate implements it with an atomic
// pointer.
type CertSource interface {
	GetCertificate() (*tls.Certificate, error)
}

// StaticCert returns a CertSource that always returns c.
func StaticCert(c *tls.Certificate) CertSource { return staticCert{c} }

type staticCert struct{ c *tls.Certificate }

func (s staticCert) GetCertificate() (*tls.Certificate, error) {
	if s.c == nil {
		return nil, errors.New("ratls: no certificate")
	}
	return s.c, nil
}

// DefaultVerifyTimeout bounds one RA-TLS verification (quote verification may fetch collateral)
// unless WithVerifyTimeout says otherwise.
const DefaultVerifyTimeout = 30 * time.Second

// Option configures the tls.Config helpers.
type Option interface{ apply(*options) }

type options struct {
	timeout          time.Duration
	now              func() time.Time
	hook             func(*Evidence)
	serverNameFromCN bool
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

func newOptions(opts []Option) *options {
	o := &options{timeout: DefaultVerifyTimeout, now: time.Now}
	for _, opt := range opts {
		opt.apply(o)
	}
	return o
}

// WithVerifyTimeout bounds each RA-TLS verification (default DefaultVerifyTimeout; 0 = only the
// handshake context's deadline applies).
func WithVerifyTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.timeout = d })
}

// WithClock sets the clock that gives the verification time (default time.Now).
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) {
		if now != nil {
			o.now = now
		}
	})
}

// WithEvidenceHook calls f with the evidence of every peer that was verified and authorized,
// from inside the handshake. For per-connection evidence on a server, NewEvidenceContext is
// simpler.
func WithEvidenceHook(f func(*Evidence)) Option {
	return optionFunc(func(o *options) { o.hook = f })
}

// WithServerNameFromCN makes ClientConfig accept a server certificate that has no subject
// alternative name when its subject CN matches the server name (exactly, or through a leading
// "*." wildcard for one label), as mbedTLS and Gramine's example server certificates expect. Go
// itself ignores the CN. The chain is still verified against the roots; a certificate with any
// SAN is checked against its SANs only. Off by default.
func WithServerNameFromCN() Option {
	return optionFunc(func(o *options) { o.serverNameFromCN = true })
}

// ServerConfig returns a TLS server configuration that presents cert and requires every client
// to present exactly one RA-TLS certificate, which is verified with v and authorized with authz
// (the enclave-facing side of secret provisioning). TLS 1.2 is the minimum, with only ECDHE AEAD
// suites. Verification runs in VerifyConnection, so resumed sessions are re-verified too.
//
// Per-connection evidence: handshake each connection with tls.Conn.HandshakeContext(ctx), where
// ctx comes from NewEvidenceContext; the slot then holds that connection's outcome. The
// handshake context's deadline and cancellation also bound the verification.
func ServerConfig(cert CertSource, v QuoteVerifier, authz Authorizer, opts ...Option) *tls.Config {
	c := &tls.Config{}
	HookServerConfig(c, cert, v, authz, opts...)
	return c
}

// HookServerConfig sets up c as ServerConfig does, keeping its unrelated fields (ALPN, session
// settings, ...). Every authentication field is reset first. A GetConfigForClient already set on
// c is still called; the configuration it returns gets the same RA-TLS settings.
func HookServerConfig(c *tls.Config, cert CertSource, v QuoteVerifier, authz Authorizer, opts ...Option) {
	o := newOptions(opts)
	applyServerAuth(context.Background(), c, cert, v, authz, o)
	prev := c.GetConfigForClient
	c.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		base := c
		if prev != nil {
			pc, err := prev(hello)
			if err != nil {
				return nil, err
			}
			if pc != nil {
				base = pc
			}
		}
		cc := base.Clone()
		cc.GetConfigForClient = nil
		applyServerAuth(hello.Context(), cc, cert, v, authz, o)
		return cc, nil
	}
}

func applyServerAuth(ctx context.Context, c *tls.Config, cert CertSource, v QuoteVerifier, authz Authorizer, o *options) {
	resetAuthFields(c)
	harden(c)
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.GetCertificate() }
	c.ClientAuth = tls.RequireAnyClientCert
	c.VerifyConnection = verifyConnection(ctx, v, authz, o)
}

// ClientConfig returns a TLS client configuration for an enclave: it presents the RA-TLS
// certificate from cert in every handshake (through GetClientCertificate, whatever CA names the
// server asks for: Gramine's server names its own certificate) and verifies the server
// certificate against roots (nil: the system roots) and serverName (empty: the name tls.Dial
// derives from the address). See WithServerNameFromCN for servers whose certificate has no SAN.
func ClientConfig(cert CertSource, roots *x509.CertPool, serverName string, opts ...Option) *tls.Config {
	c := &tls.Config{}
	HookClientConfig(c, cert, roots, serverName, opts...)
	return c
}

// HookClientConfig sets up c as ClientConfig does; every authentication field is reset first.
func HookClientConfig(c *tls.Config, cert CertSource, roots *x509.CertPool, serverName string, opts ...Option) {
	o := newOptions(opts)
	resetAuthFields(c)
	harden(c)
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return cert.GetCertificate()
	}
	c.RootCAs = roots
	c.ServerName = serverName
	if o.serverNameFromCN {
		// Go's own check would refuse a CN-only certificate; verify the same way, plus the CN.
		c.InsecureSkipVerify = true
		c.VerifyConnection = verifyServerCN(roots, serverName, o.now)
	}
}

// VerifyingClientConfig returns a TLS client configuration that requires the server to present
// exactly one RA-TLS certificate, verified with v and authorized with authz (the reverse of
// ServerConfig, e.g. to talk to an enclave serving RA-TLS). The server name is not checked: the
// attested identity replaces it. The client presents no certificate.
func VerifyingClientConfig(v QuoteVerifier, authz Authorizer, opts ...Option) *tls.Config {
	c := &tls.Config{}
	HookVerifyingClientConfig(c, v, authz, opts...)
	return c
}

// HookVerifyingClientConfig sets up c as VerifyingClientConfig does; every authentication field
// is reset first.
func HookVerifyingClientConfig(c *tls.Config, v QuoteVerifier, authz Authorizer, opts ...Option) {
	o := newOptions(opts)
	resetAuthFields(c)
	harden(c)
	// The chain cannot verify (the certificate is self-signed); VerifyConnection does the RA-TLS
	// verification instead, and the handshake still proves possession of the key.
	c.InsecureSkipVerify = true
	c.VerifyConnection = verifyConnection(context.Background(), v, authz, o)
}

// resetAuthFields clears every field that decides who is authenticated and how.
func resetAuthFields(c *tls.Config) {
	c.Certificates = nil
	c.GetCertificate = nil
	c.GetClientCertificate = nil
	c.ClientAuth = tls.NoClientCert
	c.ClientCAs = nil
	c.RootCAs = nil
	c.InsecureSkipVerify = false
	c.VerifyPeerCertificate = nil
	c.VerifyConnection = nil
}

// tls12Suites are the TLS 1.2 suites allowed: ECDHE key exchange with an AEAD. (TLS 1.3 suites
// are all AEAD and not configurable.)
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// harden raises MinVersion to TLS 1.2 and keeps only ECDHE AEAD suites for TLS 1.2: the
// caller's suites that are allowed, or all allowed ones when none of the caller's is.
func harden(c *tls.Config) {
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	var kept []uint16
	for _, s := range c.CipherSuites {
		if slices.Contains(tls12Suites, s) {
			kept = append(kept, s)
		}
	}
	if len(kept) == 0 {
		kept = slices.Clone(tls12Suites)
	}
	c.CipherSuites = kept
}
