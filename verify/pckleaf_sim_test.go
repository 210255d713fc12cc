package verify_test

import (
	"context"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// TestPCKLeafRequiredExtensions re-issues a simulated platform's PCK certificate without one of
// the standard extensions QVL requires (dcap spec §3.3; the AKI cannot be dropped this way:
// crypto/x509 copies it from the issuing CA, see pcs TestPCKLeafExtensions). The quote is
// refused with pck_chain_invalid by both paths; re-issued unchanged, it verifies.
func TestPCKLeafRequiredExtensions(t *testing.T) {
	tests := []struct {
		name   string
		oid    asn1.ObjectIdentifier
		edit   func(*x509.Certificate)
		reason verify.Reason
	}{
		{"unchanged", nil, func(*x509.Certificate) {}, ""},
		{"no CRL distribution points", asn1.ObjectIdentifier{2, 5, 29, 31}, func(c *x509.Certificate) { c.CRLDistributionPoints = nil }, verify.ReasonPCKChainInvalid},
		{"no subject key identifier", asn1.ObjectIdentifier{2, 5, 29, 14}, func(c *x509.Certificate) { c.SubjectKeyId = nil }, verify.ReasonPCKChainInvalid},
		{"no key usage", asn1.ObjectIdentifier{2, 5, 29, 15}, func(c *x509.Certificate) { c.KeyUsage = 0 }, verify.ReasonPCKChainInvalid},
		{"no basic constraints", asn1.ObjectIdentifier{2, 5, 29, 19}, func(c *x509.Certificate) { c.BasicConstraintsValid = false }, verify.ReasonPCKChainInvalid},
	}
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		for _, tc := range tests {
			t.Run(tee.String()+"/"+tc.name, func(t *testing.T) {
				w, err := sim.New(sim.Options{Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
				if err != nil {
					t.Fatal(err)
				}
				p, err := w.Platform(tee, pcs.StatusUpToDate)
				if err != nil {
					t.Fatal(err)
				}
				before := len(p.PCK().Extensions)
				if err := w.ReissuePCK(p, tc.edit); err != nil {
					t.Fatal(err)
				}
				if tc.oid != nil && (hasOID(p.PCK(), tc.oid) || len(p.PCK().Extensions) != before-1) {
					t.Fatalf("forge: the PCK still has %v or lost another extension", tc.oid)
				}
				q, err := p.Enclave(sim.DefaultIdentity()).QuoteValue(context.Background(), [64]byte{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := p.Bundle()
				if err != nil {
					t.Fatal(err)
				}
				at := w.Now().Add(time.Hour)
				_, err = verify.Quote(q.Marshal(), b, at, verify.WithRoot(w.Root()))
				if got := verify.ReasonOf(err); got != tc.reason {
					t.Fatalf("cold: reason %q (%v), want %q", got, err, tc.reason)
				}
				v, err := verify.New(w, verify.WithRoot(w.Root()))
				if err != nil {
					t.Fatal(err)
				}
				for range 2 { // the refusal is not cached as a success
					_, err = v.Verify(context.Background(), q, at)
					if got := verify.ReasonOf(err); got != tc.reason {
						t.Fatalf("warm: reason %q (%v), want %q", got, err, tc.reason)
					}
				}
			})
		}
	}
}

func hasOID(c *x509.Certificate, id asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return true
		}
	}
	return false
}
