package simtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/sim"
)

func TestTLSHelpers(t *testing.T) {
	a := simtest.TLSAuthority(t)
	if a.Certificate().Subject.CommonName != simtest.TLSAuthorityName {
		t.Errorf("authority CN %q", a.Certificate().Subject.CommonName)
	}
	certPEM, keyPEM := simtest.ServerCertificatePEM(t, a, "localhost")
	fromPEM, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert tls.Certificate
		host string
		ok   bool
	}{
		{"loopback localhost", simtest.LoopbackCertificate(t, a), "localhost", true},
		{"loopback ipv4", simtest.LoopbackCertificate(t, a), "127.0.0.1", true},
		{"loopback ipv6", simtest.LoopbackCertificate(t, a), "::1", true},
		{"named", simtest.ServerCertificate(t, a, "svc.example"), "svc.example", true},
		{"named, other host", simtest.ServerCertificate(t, a, "svc.example"), "localhost", false},
		{"cn only", simtest.ServerCertificateWithCN(t, a, "svc.example"), "svc.example", false},
		{"pem", fromPEM, "localhost", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: tc.host})
			if (err == nil) != tc.ok {
				t.Errorf("verify for %s: %v, want ok=%t", tc.host, err, tc.ok)
			}
		})
	}
	if cn := simtest.ServerCertificateWithCN(t, a, "svc.example").Leaf; cn.Subject.CommonName != "svc.example" || len(cn.DNSNames)+len(cn.IPAddresses) != 0 {
		t.Errorf("CN-only certificate: CN %q, DNS %v, IP %v", cn.Subject.CommonName, cn.DNSNames, cn.IPAddresses)
	}
}

func TestTLSHelpersFailTheTest(t *testing.T) {
	a := simtest.TLSAuthority(t)
	now := time.Now()
	for name, call := range map[string]func(testing.TB){
		"authority":  func(tb testing.TB) { simtest.TLSAuthority(tb, sim.WithTLSValidity(now, now)) },
		"server":     func(tb testing.TB) { simtest.ServerCertificate(tb, a) },
		"with cn":    func(tb testing.TB) { simtest.ServerCertificateWithCN(tb, a, "") },
		"server pem": func(tb testing.TB) { simtest.ServerCertificatePEM(tb, a, "") },
	} {
		rec := &failRecorder{TB: t}
		call(rec)
		if !rec.failed {
			t.Errorf("%s did not fail the test", name)
		}
	}
}
