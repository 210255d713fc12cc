package ratls_test

import (
	"context"
	"testing"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
)

// BenchmarkParseSimCertificate measures the evidence path on the certificates enclaves really
// present: simulated SGX and TDX quotes with a PEM PCK chain (about 5 KB each), a P-384 key and
// both extensions (TCG and legacy, the quote twice), as NewCertificate writes by default.
// "der" is ParseCertificate (crypto/x509 included), "x509" is ParseX509 alone: the RA-TLS
// checks, what the server runs after the handshake parsed the certificate.
func BenchmarkParseSimCertificate(b *testing.B) {
	w := simtest.World(b)
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		e := simtest.Platform(b, w, tee, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity())
		cert, err := ratls.NewCertificate(context.Background(), e)
		if err != nil {
			b.Fatal(err)
		}
		der, leaf := cert.Certificate[0], cert.Leaf
		if c, err := ratls.ParseX509(leaf); err != nil || c.Binding != ratls.BindingTCG {
			b.Fatalf("%s certificate: binding %v, error %v", tee, c, err)
		}
		b.Run(tee.String()+"/der", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ratls.ParseCertificate(der); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tee.String()+"/x509", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ratls.ParseX509(leaf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
