package sim

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// TLSOrganization is the organisation of every certificate a TLSAuthority issues.
const TLSOrganization = "secretprov SIMULATED operator CA - never trust"

// DefaultTLSValidity is how long a TLSAuthority and its certificates stay valid by default,
// counted from its creation; they become valid an hour before it (clock skew).
const DefaultTLSValidity = 7 * 24 * time.Hour

// TLSAuthority is a stand-in for the operator's own certificate authority: the CA that issues
// the provisioning server's ordinary TLS certificate, which enclave clients check against the
// CA file they are given (client.Config.Roots, `client get --ca`, Gramine's
// SECRET_PROVISION_CA_CHAIN_PATH). It has nothing to do with Intel's PKI or with attestation:
// the server proves its name with it, the enclave proves itself with RA-TLS.
//
// Nothing trusts it by default: a client trusts it only when the caller passes Pool() (or
// writes CertificatePEM() to the CA file it names). Its private key lives in memory only and
// every certificate it issues says "SIMULATED" in its organisation. It is for tests and the
// demo; a real deployment uses the operator's CA (or cert-manager) instead.
//
// The authority and its certificates are ECDSA P-256 and share one validity period
// (DefaultTLSValidity, or WithTLSValidity). A TLSAuthority is safe for concurrent use.
type TLSAuthority struct {
	cert      *x509.Certificate
	key       *ecdsa.PrivateKey
	notBefore time.Time
	notAfter  time.Time
}

// TLSOption configures NewTLSAuthority.
type TLSOption interface{ applyTLS(*tlsOptions) }

type tlsOptions struct {
	notBefore, notAfter time.Time
}

type tlsOptionFunc func(*tlsOptions)

func (f tlsOptionFunc) applyTLS(o *tlsOptions) { f(o) }

// WithTLSValidity sets the validity period of the authority and of every certificate it
// issues, for tests that run at another time (testing/synctest's clock starts in 2000) or need
// an expired certificate.
func WithTLSValidity(notBefore, notAfter time.Time) TLSOption {
	return tlsOptionFunc(func(o *tlsOptions) { o.notBefore, o.notAfter = notBefore, notAfter })
}

// ErrTLSRequest is wrapped by the errors of NewTLSAuthority and its methods when what was asked
// for cannot be issued (a certificate without any name, an empty validity period).
var ErrTLSRequest = errors.New("invalid request")

// NewTLSAuthority creates a self-signed CA whose subject common name is name (path length 0:
// it issues leaves only).
func NewTLSAuthority(name string, opts ...TLSOption) (*TLSAuthority, error) {
	now := time.Now()
	o := tlsOptions{notBefore: now.Add(-time.Hour), notAfter: now.Add(DefaultTLSValidity)}
	for _, opt := range opts {
		opt.applyTLS(&o)
	}
	if !o.notAfter.After(o.notBefore) {
		return nil, fmt.Errorf("sim: tls authority: validity: notAfter %s is not after notBefore %s: %w", o.notAfter, o.notBefore, ErrTLSRequest)
	}
	tmpl, key, err := tlsTemplate(name, o.notBefore, o.notAfter)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	tmpl.IsCA, tmpl.MaxPathLenZero = true, true
	cert, err := signTLS(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	return &TLSAuthority{cert: cert, key: key, notBefore: o.notBefore, notAfter: o.notAfter}, nil
}

// Certificate returns the authority's own (root) certificate. The caller must not modify it.
func (a *TLSAuthority) Certificate() *x509.Certificate { return a.cert }

// Pool returns a new pool holding only the authority's certificate: what a client that trusts
// this operator CA uses as its roots.
func (a *TLSAuthority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

// CertificatePEM returns the authority's certificate in PEM: the content of the CA file given
// to clients.
func (a *TLSAuthority) CertificatePEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

// ServerCertificate issues a TLS server certificate (ECDSA P-256, extended key usage
// serverAuth) for names: each is a DNS name, or an IP literal ("127.0.0.1", "::1") that goes
// into the IP address SAN. The subject common name is the first name. The chain holds the leaf
// only (the authority is the root the client trusts) and Leaf is set.
func (a *TLSAuthority) ServerCertificate(names ...string) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, fmt.Errorf("sim: tls authority: server certificate: no name: %w", ErrTLSRequest)
	}
	return a.ServerCertificateWithCN(names[0], names...)
}

// ServerCertificateWithCN is ServerCertificate with the subject common name cn, which need not
// be one of names. With no names the certificate has no subject alternative name at all: a
// legacy CN-only certificate, which crypto/tls refuses unless the client opts into a CN
// fallback (ratls.WithServerNameFromCN).
func (a *TLSAuthority) ServerCertificateWithCN(cn string, names ...string) (tls.Certificate, error) {
	if cn == "" && len(names) == 0 {
		return tls.Certificate{}, fmt.Errorf("sim: tls authority: server certificate: no name: %w", ErrTLSRequest)
	}
	if slices.Contains(names, "") {
		return tls.Certificate{}, fmt.Errorf("sim: tls authority: server certificate: empty name: %w", ErrTLSRequest)
	}
	tmpl, key, err := tlsTemplate(cn, a.notBefore, a.notAfter)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	leaf, err := signTLS(tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// ServerCertificatePEM is ServerCertificate encoded as the two files a server configuration
// names (tls.cert and tls.key): the certificate in PEM and its key as "EC PRIVATE KEY" (SEC 1).
func (a *TLSAuthority) ServerCertificatePEM(names ...string) (certPEM, keyPEM []byte, err error) {
	c, err := a.ServerCertificate(names...)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, nil, fmt.Errorf("sim: tls authority: encode key: %w", err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}

// tlsTemplate generates a P-256 key and returns it with a certificate template carrying a
// random serial, the subject for cn and the validity period; the caller adds the usages.
func tlsTemplate(cn string, notBefore, notAfter time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	return &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               tlsName(cn),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
	}, key, nil
}

// tlsName is the subject of a TLSAuthority certificate: cn (possibly empty), marked simulated.
func tlsName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{TLSOrganization}}
}

// signTLS signs tmpl for pub with parent's key and parses the result.
func signTLS(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sim: tls authority: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sim: tls authority: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return c, nil
}
