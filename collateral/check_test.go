package collateral

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// TestCheckPCKCRL: a PCK CRL is accepted only with an issuer chain of the requested CA under
// the trust root (pcs.VerifyPCKCRLIssuerChain), a CA the root CRL does not revoke, and a CRL
// that CA signed.
func TestCheckPCKCRL(t *testing.T) {
	chain, err := pcs.ParseChainPEM(testvectors.Read(t, "go-tdx-guest/pckCrlIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := pcs.ParseCRL(testvectors.Read(t, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		t.Fatal(err)
	}
	tcbChain, err := pcs.ParseChainPEM(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body := testvectors.Read(t, "go-tdx-guest/pckcrl")
	root := verify.IntelRoot()
	w, err := sim.New(sim.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		item  Item
		chain []*x509.Certificate
		body  []byte
		cause error // nil: accepted
	}{
		{"platform crl", PCKCRLItem(pcs.CAPlatform), chain, body, nil},
		{"asked for the processor crl", PCKCRLItem(pcs.CAProcessor), chain, body, ErrInvalid},
		{"tcb signing chain", PCKCRLItem(pcs.CAPlatform), tcbChain, body, pcs.ErrChain},
		{"root as its own pck ca", PCKCRLItem(pcs.CAPlatform), []*x509.Certificate{root, root}, body, pcs.ErrChain},
		{"one certificate", PCKCRLItem(pcs.CAPlatform), chain[:1], body, pcs.ErrChain},
		{"no chain", PCKCRLItem(pcs.CAPlatform), nil, body, pcs.ErrChain},
		{"simulated root", PCKCRLItem(pcs.CAPlatform), []*x509.Certificate{chain[0], w.Root()}, body, pcs.ErrUntrusted},
		{"root crl as body", PCKCRLItem(pcs.CAPlatform), chain, testvectors.Read(t, "go-tdx-guest/rootcrl.der"), ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := check(&Document{Item: tc.item, Body: tc.body, IssuerChain: tc.chain}, root, rootCRL)
			if tc.cause == nil {
				if err != nil || e.crl == nil || !e.next.Equal(e.crl.NextUpdate) {
					t.Fatalf("got %v, %v", e, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, tc.cause) {
				t.Fatalf("got %v, want %v", err, tc.cause)
			}
			if errors.Is(err, pcs.ErrMismatch) {
				t.Fatalf("%v: a mismatch must not reach the verifier as collateral_mismatch", err)
			}
		})
	}
}

// TestCheckPCKCRLRevokedCA: a PCK CRL whose issuing CA the root CRL revokes is refused.
func TestCheckPCKCRLRevokedCA(t *testing.T) {
	w, err := sim.New(sim.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := w.Certificate(sim.RoleProcessorCA)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := w.PCKCRL(pcs.CAProcessor)
	if err != nil {
		t.Fatal(err)
	}
	doc := &Document{Item: PCKCRLItem(pcs.CAProcessor), Body: crl.Raw, IssuerChain: []*x509.Certificate{ca, w.Root()}}
	if _, err := check(doc, w.Root(), w.RootCRL()); err != nil {
		t.Fatalf("before revocation: %v", err)
	}
	if err := w.Revoke(ca); err != nil {
		t.Fatal(err)
	}
	_, err = check(doc, w.Root(), w.RootCRL())
	if !errors.Is(err, ErrInvalid) || !errors.Is(err, &pcs.Error{Kind: pcs.KindRevoked, Doc: pcs.DocPCKCA}) {
		t.Fatalf("after revocation: %v", err)
	}
}
