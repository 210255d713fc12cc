package collateral

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

func TestStaticSource(t *testing.T) {
	src, err := File(testvectors.Path("phala-dcap-qvl/sgx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	fmspc := pcs.FMSPC{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}
	good := pcs.Key{TEE: quote.TEESGX, FMSPC: fmspc, CA: pcs.CAProcessor}
	ctx := context.Background()
	b, err := src.Collateral(ctx, good)
	if err != nil || b != src.Bundle() {
		t.Fatalf("Collateral(%s) = %v, %v", good, b, err)
	}
	for _, key := range []pcs.Key{
		{TEE: quote.TEESGX, FMSPC: pcs.FMSPC{1}, CA: pcs.CAProcessor},
		{TEE: quote.TEETDX, FMSPC: fmspc, CA: pcs.CAProcessor},
		{TEE: quote.TEESGX, FMSPC: fmspc, CA: pcs.CAPlatform},
	} {
		if _, err := src.Collateral(ctx, key); !errors.Is(err, pcs.ErrMismatch) {
			t.Errorf("Collateral(%s): %v, want a pcs mismatch", key, err)
		}
	}
	raw := testvectors.Read(t, "phala-dcap-qvl/sgx_quote")
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := verify.New(src)
	if err != nil {
		t.Fatal(err)
	}
	res, err := v.Verify(ctx, q, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || res.TCBStatus != pcs.StatusConfigurationAndSWHardeningNeeded {
		t.Errorf("verification with the file source: %v, %v", res, err)
	}
	// A TDX quote against the SGX file: the verifier reports the source's mismatch.
	tdx, err := quote.Parse(testvectors.Read(t, "phala-dcap-qvl/tdx_quote"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, tdx, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)); verify.ReasonOf(err) != verify.ReasonCollateralMismatch {
		t.Errorf("TDX quote with SGX collateral: %v", err)
	}
	if _, err := Static(nil).Collateral(ctx, good); err == nil {
		t.Error("empty static source served a bundle")
	}
}

func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"tcb_info":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := File(big); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized file: %v", err)
	}
	if _, err := File(bad); !errors.Is(err, pcs.ErrFormat) {
		t.Errorf("malformed file: %v", err)
	}
	if _, err := File(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
