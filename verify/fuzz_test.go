package verify

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// FuzzVerifyQuote verifies mutated vector quotes against the real collateral, cold and warm.
// Properties: no panic; every refusal carries one of the documented reasons; a success has a
// TCB status; both paths agree.
func FuzzVerifyQuote(f *testing.F) {
	sgxB, tdxB := loadBundle(f, sgxCollateral), loadBundle(f, tdxCollateral)
	at := mustTime(f, v1At)
	for _, name := range []string{sgxQuote, tdxQuote, tdxHex, goTDXQuoteV5} {
		f.Add(readQuote(f, name))
	}
	check := verifyProperties(f, sgxB, tdxB, at)
	f.Fuzz(check)
}

// TestRandomMutations runs the fuzz properties over seeded random mutations of the vectors
// (1–4 random bytes, sometimes truncated), so they hold in every plain test run too.
func TestRandomMutations(t *testing.T) {
	sgxB, tdxB := loadBundle(t, sgxCollateral), loadBundle(t, tdxCollateral)
	check := verifyProperties(t, sgxB, tdxB, mustTime(t, v1At))
	rng := rand.New(rand.NewPCG(3, 5))
	for _, name := range []string{sgxQuote, tdxQuote, tdxHex, goTDXQuoteV5} {
		raw := readQuote(t, name)
		for range 500 {
			m := bytes.Clone(raw)
			for range 1 + rng.IntN(4) {
				m[rng.IntN(len(m))] = byte(rng.Uint32())
			}
			if rng.IntN(4) == 0 {
				m = m[:rng.IntN(len(m))]
			}
			check(t, m)
		}
	}
}

// verifyProperties returns the property check shared by FuzzVerifyQuote and
// TestRandomMutations.
func verifyProperties(tb testing.TB, sgxB, tdxB *pcs.Bundle, at time.Time) func(*testing.T, []byte) {
	sgxV, err1 := New(Static(sgxB))
	tdxV, err2 := New(Static(tdxB))
	if err1 != nil || err2 != nil {
		tb.Fatal(err1, err2)
	}
	reasons := Reasons()
	return func(t *testing.T, raw []byte) {
		bundle, v := sgxB, sgxV
		if len(raw) > 4 && raw[4] == byte(quote.TEETDX) {
			bundle, v = tdxB, tdxV
		}
		cold, err := Quote(raw, bundle, at)
		checkOutcome(t, "cold", cold, err, reasons)
		q, perr := quote.ParseText(raw)
		if perr != nil {
			if cold != nil {
				t.Fatalf("cold returned a result for an unparsable quote")
			}
			return
		}
		hot, err2 := v.Verify(context.Background(), q, at)
		checkOutcome(t, "warm", hot, err2, reasons)
		if ReasonOf(err) != ReasonOf(err2) {
			t.Fatalf("cold %v, warm %v", err, err2)
		}
	}
}

func checkOutcome(t *testing.T, path string, r *Result, err error, reasons []Reason) {
	t.Helper()
	if err != nil {
		if !slices.Contains(reasons, ReasonOf(err)) {
			t.Fatalf("%s: error without a documented reason: %v", path, err)
		}
		return
	}
	if r == nil || r.TCBStatus == "" {
		t.Fatalf("%s: success without a TCB status: %+v", path, r)
	}
}
