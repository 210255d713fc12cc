package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Vector files (vectors README).
const (
	sgxQuote         = "phala-dcap-qvl/sgx_quote"
	sgxCollateral    = "phala-dcap-qvl/sgx_quote_collateral.json"
	tdxQuote         = "phala-dcap-qvl/tdx_quote"
	tdxCollateral    = "phala-dcap-qvl/tdx_quote_collateral.json"
	tdxOutdated      = "phala-dcap-qvl/tdx_quote_outdated"
	tdxOutdatedColl  = "phala-dcap-qvl/tdx_quote_outdated_collateral.json"
	tdxHex           = "phala-dcap-qvl/tdx-quote.hex"
	tappdHex         = "phala-dcap-qvl/quote-from-tappd.hex"
	goTDXQuote       = "go-tdx-guest/tdx_prod_quote_SPR_E4.dat"
	goTDXQuoteV5     = "go-tdx-guest/quote_v5_sample.dat"
	goTDXCollateral  = "go-tdx-guest (files)" // built by goTDXBundle
	v1At, v2At, v3At = "2025-07-01T00:00:00Z", "2025-07-01T00:00:00Z", "2026-03-01T00:00:00Z"
	v5At             = "2023-07-01T01:00:00Z"
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadBundle returns the collateral for a vector: a dcap-qvl JSON file, or goTDXCollateral.
func loadBundle(t testing.TB, name string) *pcs.Bundle {
	t.Helper()
	if name == goTDXCollateral {
		return goTDXBundle(t)
	}
	b, err := pcs.ParseBundleJSON(testvectors.Read(t, name))
	if err != nil {
		t.Fatalf("ParseBundleJSON(%s): %v", name, err)
	}
	return b
}

// goTDXBundle assembles V5's collateral from the go-tdx-guest files: PCS response bodies for
// TCB Info and QE Identity, DER CRLs and PEM issuer chains.
func goTDXBundle(t testing.TB) *pcs.Bundle {
	t.Helper()
	chain := func(name string) []*x509.Certificate {
		c, err := pcs.ParseChainPEM(testvectors.Read(t, "go-tdx-guest/"+name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	crl := func(name string) *x509.RevocationList {
		c, err := pcs.ParseCRL(testvectors.Read(t, "go-tdx-guest/"+name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	tcb, err := pcs.ParseTCBInfo(testvectors.Read(t, "go-tdx-guest/sample_tcbInfo_response"))
	if err != nil {
		t.Fatal(err)
	}
	qe, err := pcs.ParseQEIdentity(testvectors.Read(t, "go-tdx-guest/sample_qeIdentity_response"))
	if err != nil {
		t.Fatal(err)
	}
	return &pcs.Bundle{
		PCKCRLIssuerChain:     chain("pckCrlIssuerChain.pem"),
		RootCRL:               crl("rootcrl.der"),
		PCKCRL:                crl("pckcrl"),
		TCBInfoIssuerChain:    chain("tcbInfoIssuerChain.pem"),
		TCBInfo:               tcb,
		QEIdentityIssuerChain: chain("qeIdentityIssuerChain.pem"),
		QEIdentity:            qe,
	}
}

// readQuote returns a vector's raw bytes (hex text as stored; Quote accepts both forms).
func readQuote(t testing.TB, name string) []byte {
	t.Helper()
	return testvectors.Read(t, name)
}

func parseQuote(t testing.TB, raw []byte) *quote.Quote {
	t.Helper()
	q, err := quote.ParseText(raw)
	if err != nil {
		t.Fatalf("quote.ParseText: %v", err)
	}
	return q
}

// warm verifies q with a fresh Verifier over b, twice, so that the second run is served from
// the caches; it fails the test if the two runs disagree.
func warm(t testing.TB, q *quote.Quote, b *pcs.Bundle, at time.Time, opts ...Option) (*Result, error) {
	t.Helper()
	v, err := New(Static(b), opts...)
	if err != nil {
		t.Fatal(err)
	}
	r1, err1 := v.Verify(context.Background(), q, at)
	r2, err2 := v.Verify(context.Background(), q, at)
	if ReasonOf(err1) != ReasonOf(err2) || (r1 == nil) != (r2 == nil) {
		t.Fatalf("warm: first run %v, second run %v", err1, err2)
	}
	return r2, err2
}

// wantReason fails unless err carries reason r (and is an *Error reachable with errors.Is).
func wantReason(t testing.TB, err error, r Reason) {
	t.Helper()
	if r == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if got := ReasonOf(err); got != r {
		t.Fatalf("reason = %q (%v), want %q", got, err, r)
	}
	if !errors.Is(err, &Error{Reason: r}) {
		t.Fatalf("errors.Is(%v, %s) = false", err, r)
	}
}
