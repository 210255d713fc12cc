package simtest

import (
	"crypto/tls"
	"testing"

	"github.com/secretprov/secretprov/sim"
)

// TLSAuthorityName is the common name of the authorities TLSAuthority creates.
const TLSAuthorityName = "simtest operator CA"

// TLSAuthority creates an operator-side TLS authority (sim.NewTLSAuthority): the CA of the
// provisioning server's ordinary certificate. Trust it by passing a.Pool() as the client's
// roots, or a.CertificatePEM() as its CA file.
func TLSAuthority(t testing.TB, opts ...sim.TLSOption) *sim.TLSAuthority {
	t.Helper()
	a, err := sim.NewTLSAuthority(TLSAuthorityName, opts...)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return a
}

// ServerCertificate issues a server certificate of a for names (DNS names or IP literals; the
// first is also the common name).
func ServerCertificate(t testing.TB, a *sim.TLSAuthority, names ...string) tls.Certificate {
	t.Helper()
	c, err := a.ServerCertificate(names...)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return c
}

// LoopbackCertificate issues a server certificate of a for localhost, 127.0.0.1 and ::1.
func LoopbackCertificate(t testing.TB, a *sim.TLSAuthority) tls.Certificate {
	t.Helper()
	return ServerCertificate(t, a, "localhost", "127.0.0.1", "::1")
}

// ServerCertificateWithCN issues a server certificate of a with common name cn and names; with
// no names, a CN-only certificate without any subject alternative name.
func ServerCertificateWithCN(t testing.TB, a *sim.TLSAuthority, cn string, names ...string) tls.Certificate {
	t.Helper()
	c, err := a.ServerCertificateWithCN(cn, names...)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return c
}

// ServerCertificatePEM issues a server certificate of a for names and returns it and its key in
// PEM, the contents of a server configuration's tls.cert and tls.key files.
func ServerCertificatePEM(t testing.TB, a *sim.TLSAuthority, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	certPEM, keyPEM, err := a.ServerCertificatePEM(names...)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return certPEM, keyPEM
}
