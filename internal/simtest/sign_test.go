package simtest_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/secretprov/secretprov/internal/simtest"
)

func TestSignRS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("forged quote body")
	sig := simtest.SignRS(t, key, data)
	digest := sha256.Sum256(data)
	if !ecdsa.Verify(&key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("r‖s does not verify")
	}

	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec := &failRecorder{TB: t}
	simtest.SignRS(rec, p384, data)
	if !rec.failed {
		t.Error("SignRS did not fail the test for a P-384 key")
	}
}
