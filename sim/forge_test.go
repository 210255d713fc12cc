package sim_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"math/big"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// TestSignRS: a quote whose attestation key is replaced (and bound by the QE report) verifies
// once SignRS re-signs it with that key, and not otherwise: SignRS writes the signature that
// DCAP verifiers check. The r‖s halves also verify with crypto/ecdsa.
func TestSignRS(t *testing.T) {
	w, err := sim.New(sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := w.Platform(quote.TEESGX, pcs.StatusUpToDate)
	if err != nil {
		t.Fatal(err)
	}
	b, err := w.Bundle(quote.TEESGX, pcs.CAProcessor)
	if err != nil {
		t.Fatal(err)
	}
	ak, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		resign bool
		want   verify.Reason
	}{
		{"re-signed with the new key", true, ""},
		{"signed by the replaced key", false, verify.ReasonQuoteSignatureInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := p.Enclave(sim.DefaultIdentity())
			e.Hooks.BeforeQESign = func(q *quote.Quote) { replaceAttestationKey(t, q, ak) }
			if tc.resign {
				e.Hooks.AfterSign = func(q *quote.Quote) {
					sig, err := sim.SignRS(ak, q.SignedData())
					if err != nil {
						t.Error(err)
					}
					q.Signature = sig
				}
			}
			raw, err := e.Quote(context.Background(), [64]byte{1})
			if err != nil {
				t.Fatal(err)
			}
			_, err = verify.Quote(raw, b, w.Now().Add(time.Hour), verify.WithRoot(w.Root()))
			if got := verify.ReasonOf(err); got != tc.want {
				t.Errorf("reason %q (%v), want %q", got, err, tc.want)
			}
		})
	}

	data := []byte("signed data")
	sig, err := sim.SignRS(ak, data)
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256(data)
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&ak.PublicKey, digest[:], r, s) {
		t.Error("r‖s does not verify with crypto/ecdsa")
	}
	if ecdsa.Verify(&ak.PublicKey, digest[:], s, r) {
		t.Error("s‖r verifies too")
	}
}

func TestSignRSRejectsOtherKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, key := range map[string]*ecdsa.PrivateKey{"nil": nil, "P-384": p384} {
		if _, err := sim.SignRS(key, []byte("x")); err == nil {
			t.Errorf("%s key: no error", name)
		}
	}
}

// replaceAttestationKey puts key's public key in q as the attestation key and binds it in the
// QE report (REPORTDATA = SHA-256(attestation key ‖ QE authentication data) ‖ zeros).
func replaceAttestationKey(t *testing.T, q *quote.Quote, key *ecdsa.PrivateKey) {
	t.Helper()
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	copy(q.AttestationKey[:], pub.Bytes()[1:]) // X‖Y, without the uncompressed form's 0x04
	h := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
	q.QEReport.ReportData = [64]byte{}
	copy(q.QEReport.ReportData[:], h[:])
}
