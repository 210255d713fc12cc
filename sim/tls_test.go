package sim_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/sim"
)

func newTLSAuthority(t *testing.T, opts ...sim.TLSOption) *sim.TLSAuthority {
	t.Helper()
	a, err := sim.NewTLSAuthority("test operator CA", opts...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestTLSAuthorityCertificate(t *testing.T) {
	a := newTLSAuthority(t)
	ca := a.Certificate()
	if !ca.IsCA || !ca.BasicConstraintsValid || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA basic constraints: IsCA %t valid %t pathlen %d zero %t", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA key usage %b lacks keyCertSign", ca.KeyUsage)
	}
	if ca.Subject.CommonName != "test operator CA" || !slices.Equal(ca.Subject.Organization, []string{sim.TLSOrganization}) {
		t.Errorf("CA subject %s", ca.Subject)
	}
	if !strings.Contains(sim.TLSOrganization, "SIMULATED") {
		t.Errorf("organisation %q does not say it is simulated", sim.TLSOrganization)
	}
	if err := ca.CheckSignatureFrom(ca); err != nil {
		t.Errorf("CA is not self-signed: %v", err)
	}
	block, rest := pem.Decode(a.CertificatePEM())
	if block == nil || block.Type != "CERTIFICATE" || len(rest) != 0 || !bytes.Equal(block.Bytes, ca.Raw) {
		t.Errorf("CertificatePEM is not the CA certificate")
	}
	if !a.Pool().Equal(a.Pool()) || a.Pool() == a.Pool() {
		t.Error("Pool must return equal, distinct pools")
	}
	checkP256(t, "CA", ca)
	if now := time.Now(); now.Before(ca.NotBefore) || now.Add(sim.DefaultTLSValidity-time.Minute).After(ca.NotAfter) {
		t.Errorf("default validity %s .. %s does not cover now + DefaultTLSValidity", ca.NotBefore, ca.NotAfter)
	}
}

func checkP256(t *testing.T, what string, c *x509.Certificate) {
	t.Helper()
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() || c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("%s: key %T, signature %s; want ECDSA P-256 with SHA-256", what, c.PublicKey, c.SignatureAlgorithm)
	}
}

// TestTLSAuthorityServerCertificate: each leaf verifies for exactly its names against the
// authority's pool, for server authentication only, and against no other roots.
func TestTLSAuthorityServerCertificate(t *testing.T) {
	a, other := newTLSAuthority(t), newTLSAuthority(t)
	tests := []struct {
		name     string
		cn       string // "" = ServerCertificate(names...)
		names    []string
		wantCN   string
		wantDNS  []string
		wantIPs  []string
		accepted []string
		refused  []string
	}{
		{"loopback", "", []string{"localhost", "127.0.0.1", "::1"}, "localhost", []string{"localhost"}, []string{"127.0.0.1", "::1"},
			[]string{"localhost", "127.0.0.1", "::1"}, []string{"example.com", "127.0.0.2"}},
		{"ip first", "", []string{"10.0.0.1", "svc.example"}, "10.0.0.1", []string{"svc.example"}, []string{"10.0.0.1"},
			[]string{"10.0.0.1", "svc.example"}, []string{"localhost"}},
		{"cn not among names", "server", []string{"localhost"}, "server", []string{"localhost"}, nil,
			[]string{"localhost"}, []string{"server"}},
		{"cn only", "provisioning.example", nil, "provisioning.example", nil, nil,
			nil, []string{"provisioning.example", "localhost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c tls.Certificate
			var err error
			if tc.cn == "" {
				c, err = a.ServerCertificate(tc.names...)
			} else {
				c, err = a.ServerCertificateWithCN(tc.cn, tc.names...)
			}
			if err != nil {
				t.Fatal(err)
			}
			leaf := c.Leaf
			if len(c.Certificate) != 1 || leaf == nil || !bytes.Equal(leaf.Raw, c.Certificate[0]) {
				t.Fatalf("chain of %d, Leaf %v", len(c.Certificate), leaf != nil)
			}
			checkP256(t, "leaf", leaf)
			var ips []string
			for _, ip := range leaf.IPAddresses {
				ips = append(ips, ip.String())
			}
			if leaf.Subject.CommonName != tc.wantCN || !slices.Equal(leaf.DNSNames, tc.wantDNS) || !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("CN %q DNS %v IP %v; want %q %v %v", leaf.Subject.CommonName, leaf.DNSNames, ips, tc.wantCN, tc.wantDNS, tc.wantIPs)
			}
			if leaf.IsCA || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
				t.Errorf("IsCA %t, extended key usage %v", leaf.IsCA, leaf.ExtKeyUsage)
			}
			if !leaf.NotBefore.Equal(a.Certificate().NotBefore) || !leaf.NotAfter.Equal(a.Certificate().NotAfter) {
				t.Errorf("leaf validity %s..%s differs from the authority's", leaf.NotBefore, leaf.NotAfter)
			}
			verifyLeaf(t, leaf, a, other, tc.accepted, tc.refused)
		})
	}
}

func verifyLeaf(t *testing.T, leaf *x509.Certificate, a, other *sim.TLSAuthority, accepted, refused []string) {
	t.Helper()
	server := x509.VerifyOptions{Roots: a.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if _, err := leaf.Verify(server); err != nil {
		t.Errorf("does not verify against its authority: %v", err)
	}
	for _, name := range accepted {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("name %s: %v", name, err)
		}
	}
	for _, name := range refused {
		if leaf.VerifyHostname(name) == nil {
			t.Errorf("name %s accepted", name)
		}
	}
	client := x509.VerifyOptions{Roots: a.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if _, err := leaf.Verify(client); err == nil {
		t.Error("verifies for client authentication")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: other.Pool()}); err == nil {
		t.Error("verifies against another authority")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{}); err == nil {
		t.Error("verifies against the system roots")
	}
}

func TestTLSAuthorityValidity(t *testing.T) {
	from := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newTLSAuthority(t, sim.WithTLSValidity(from, until))
	c, err := a.ServerCertificate("localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, cert := range []*x509.Certificate{a.Certificate(), c.Leaf} {
		if !cert.NotBefore.Equal(from) || !cert.NotAfter.Equal(until) {
			t.Errorf("%s: validity %s..%s", cert.Subject.CommonName, cert.NotBefore, cert.NotAfter)
		}
	}
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"synctest epoch", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"before", from.Add(-time.Second), false},
		{"after", until.Add(time.Second), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), CurrentTime: tc.at, DNSName: "localhost"})
			if (err == nil) != tc.ok {
				t.Errorf("verify at %s: %v, want ok=%t", tc.at, err, tc.ok)
			}
		})
	}
}

func TestTLSAuthorityErrors(t *testing.T) {
	a := newTLSAuthority(t)
	now := time.Now()
	tests := []struct {
		name string
		call func() error
	}{
		{"no names", func() error { _, err := a.ServerCertificate(); return err }},
		{"empty name", func() error { _, err := a.ServerCertificate("localhost", ""); return err }},
		{"no cn, no names", func() error { _, err := a.ServerCertificateWithCN(""); return err }},
		{"pem, no names", func() error { _, _, err := a.ServerCertificatePEM(); return err }},
		{"empty validity", func() error { _, err := sim.NewTLSAuthority("x", sim.WithTLSValidity(now, now)); return err }},
		{"reversed validity", func() error {
			_, err := sim.NewTLSAuthority("x", sim.WithTLSValidity(now, now.Add(-time.Hour)))
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, sim.ErrTLSRequest) {
				t.Errorf("err = %v, want ErrTLSRequest", err)
			}
		})
	}
}

func TestTLSAuthorityServerCertificatePEM(t *testing.T) {
	a := newTLSAuthority(t)
	certPEM, keyPEM, err := a.ServerCertificatePEM("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "EC PRIVATE KEY" {
		t.Fatalf("key PEM block %v", b)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatalf("X509KeyPair: %v", err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: a.Pool(), DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("PEM certificate does not verify: %v", err)
	}
	// Two calls issue two different key pairs.
	_, keyPEM2, err := a.ServerCertificatePEM("localhost")
	if err != nil || bytes.Equal(keyPEM, keyPEM2) {
		t.Errorf("second key pair: equal %t, %v", bytes.Equal(keyPEM, keyPEM2), err)
	}
}

// TestTLSAuthorityHandshake: a crypto/tls client trusting the authority's pool completes a
// handshake with a server presenting its certificate; one with the system roots does not.
func TestTLSAuthorityHandshake(t *testing.T) {
	a := newTLSAuthority(t)
	cert, err := a.ServerCertificate("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		client *tls.Config
		ok     bool
	}{
		{"trusting pool", &tls.Config{RootCAs: a.Pool(), ServerName: "localhost"}, true},
		{"ip name", &tls.Config{RootCAs: a.Pool(), ServerName: "127.0.0.1"}, true},
		{"wrong name", &tls.Config{RootCAs: a.Pool(), ServerName: "other.example"}, false},
		{"system roots", &tls.Config{ServerName: "localhost"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := pipeHandshake(t, &tls.Config{Certificates: []tls.Certificate{cert}}, tc.client); (err == nil) != tc.ok {
				t.Errorf("handshake: %v, want ok=%t", err, tc.ok)
			}
		})
	}
}

func pipeHandshake(t *testing.T, server, client *tls.Config) error {
	t.Helper()
	c1, c2 := net.Pipe()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c2.Close()
		_ = tls.Server(c2, server).HandshakeContext(ctx)
	}()
	err := tls.Client(c1, client).HandshakeContext(ctx)
	c1.Close()
	<-done
	return err
}

// An operator-side TLS authority issues the provisioning server's ordinary certificate; a
// client trusts it only through the pool it is given.
func ExampleTLSAuthority() {
	ca, err := sim.NewTLSAuthority("example operator CA")
	if err != nil {
		panic(err)
	}
	cert, err := ca.ServerCertificate("provisioning.example", "127.0.0.1")
	if err != nil {
		panic(err)
	}
	_, err = cert.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "provisioning.example"})
	fmt.Println("trusted with the CA's pool:", err == nil)
	_, err = cert.Leaf.Verify(x509.VerifyOptions{DNSName: "provisioning.example"})
	fmt.Println("trusted with the system roots:", err == nil)
	fmt.Println("names:", cert.Leaf.DNSNames, cert.Leaf.IPAddresses)
	// Output:
	// trusted with the CA's pool: true
	// trusted with the system roots: false
	// names: [provisioning.example] [127.0.0.1]
}
