package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
)

// BenchmarkVerify measures V1 (SGX) and V2 (TDX) at their fixed times. cold: parse the
// collateral JSON and the quote and verify everything (verify.Quote); warm: Verifier.Verify on
// a parsed quote with the caches filled. Compare warm with BenchmarkECDSAP256Verify.
func BenchmarkVerify(b *testing.B) {
	for _, tc := range []struct{ name, quote, coll, at string }{
		{"sgx", sgxQuote, sgxCollateral, v1At},
		{"tdx", tdxQuote, tdxCollateral, v2At},
	} {
		raw, js, at := readQuote(b, tc.quote), testvectors.Read(b, tc.coll), mustTime(b, tc.at)
		b.Run(tc.name+"-cold", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bundle, err := pcs.ParseBundleJSON(js)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := Quote(raw, bundle, at); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"-warm", func(b *testing.B) {
			bundle := loadBundle(b, tc.coll)
			q := parseQuote(b, raw)
			v, err := New(Static(bundle))
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := v.Verify(ctx, q, at); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, q, at); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkECDSAP256Verify is the yardstick: one ECDSA P-256 verification of a SHA-256 digest
// with crypto/ecdsa, the primitive every signature check here uses.
func BenchmarkECDSAP256Verify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("yardstick"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &key.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			b.Fatal("verify failed")
		}
	}
}
