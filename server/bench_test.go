package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/secretprov/secretprov/wire"
)

// BenchmarkProvision: one full provisioning over loopback per iteration: TCP connect, TLS 1.3
// handshake with the RA-TLS client certificate, RA-TLS verification with warm collateral, policy,
// the V1 request and the secret, close.
func BenchmarkProvision(b *testing.B) {
	e := start(b, envOptions{quiet: true, limits: Limits{MaxConnectionsPerIP: 1 << 20}})
	conf := clientConf(b, goodCert(b))
	provisionOnce(b, e.addr, conf) // warm the verifier's caches
	b.ReportAllocs()
	for b.Loop() {
		provisionOnce(b, e.addr, conf)
	}
}

// BenchmarkProvisionPlainMTLS is the baseline: the same exchange with the same wire code over
// plain mutual TLS (an ordinary P-384 client certificate verified against a CA, no attestation),
// served by a benchmark-local server.
func BenchmarkProvisionPlainMTLS(b *testing.B) {
	pki := testPKI(b)
	clientCert, clientCAs := plainClientCert(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go plainServe(ln, &tls.Config{
		Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs: clientCAs, MinVersion: tls.VersionTLS12, CipherSuites: tls12Suites, SessionTicketsDisabled: true,
	})
	conf := &tls.Config{Certificates: []tls.Certificate{clientCert}, RootCAs: pki.roots}
	provisionOnce(b, ln.Addr().String(), conf)
	b.ReportAllocs()
	for b.Loop() {
		provisionOnce(b, ln.Addr().String(), conf)
	}
}

func clientConf(b *testing.B, cert *tls.Certificate) *tls.Config {
	conf := &tls.Config{RootCAs: testPKI(b).roots}
	conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	return conf
}

func provisionOnce(b *testing.B, addr string, conf *tls.Config) {
	c, err := dialConfig(addr, conf)
	if err != nil {
		b.Fatal(err)
	}
	got := v1Raw(b, c)
	if len(got) != 41+len(secretDefault) {
		b.Fatalf("got %d bytes", len(got))
	}
	_ = c.CloseWrite()
	c.Close()
}

// plainServe is the baseline server: accept, handshake, wire.ReadRequest, wire.WriteV1Response,
// wait for the client to close.
func plainServe(ln net.Listener, conf *tls.Config) {
	secret := []byte(secretDefault)
	for {
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			c := tls.Server(raw, conf)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := wire.ReadRequest(c, wire.Limits{}); err != nil {
				return
			}
			if err := wire.WriteV1Response(c, secret); err != nil {
				return
			}
			_, _ = wire.ReadNamedRequest(c, wire.Limits{})
		}()
	}
}

// plainClientCert is an ordinary client certificate with a P-384 key, like the RA-TLS
// certificate's, issued by a CA the baseline server trusts.
func plainClientCert(b *testing.B) (tls.Certificate, *x509.CertPool) {
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "enclave"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}
