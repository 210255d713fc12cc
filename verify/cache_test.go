package verify

import (
	"context"
	"sync"
	"testing"

	"github.com/secretprov/secretprov/pcs"
)

func TestLRU(t *testing.T) {
	c := newLRU[int, string](2)
	c.add(1, "a")
	c.add(2, "b")
	if v, ok := c.get(1); !ok || v != "a" { // 1 is now the most recent
		t.Fatalf("get(1) = %q, %v", v, ok)
	}
	c.add(3, "c") // evicts 2
	if _, ok := c.get(2); ok {
		t.Error("2 not evicted")
	}
	for k, want := range map[int]string{1: "a", 3: "c"} {
		if v, ok := c.get(k); !ok || v != want {
			t.Errorf("get(%d) = %q, %v", k, v, ok)
		}
	}
	c.add(3, "C")
	if v, _ := c.get(3); v != "C" || c.len() != 2 {
		t.Errorf("update: %q, len %d", v, c.len())
	}
	off := newLRU[int, string](0)
	off.add(1, "a")
	if _, ok := off.get(1); ok || off.len() != 0 {
		t.Error("disabled cache stored a value")
	}
}

// TestCacheSizes: bounded caches, and caching disabled entirely still verifies.
func TestCacheSizes(t *testing.T) {
	b := loadBundle(t, sgxCollateral)
	q := parseQuote(t, readQuote(t, sgxQuote))
	at := mustTime(t, v1At)
	v, err := New(Static(b), WithCacheSize(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		r, err := v.Verify(context.Background(), q, at)
		if err != nil || r.TCBStatus != "ConfigurationAndSWHardeningNeeded" {
			t.Fatalf("uncached: %v, %v", r, err)
		}
	}
	if v.chains.len() != 0 || v.qeReports.len() != 0 {
		t.Error("disabled caches hold entries")
	}
}

// TestConcurrentVerify runs SGX and TDX verifications on one Verifier from many goroutines
// (meaningful under -race).
func TestConcurrentVerify(t *testing.T) {
	sgxB, tdxB := loadBundle(t, sgxCollateral), loadBundle(t, tdxCollateral)
	src := sourceFunc(func(k pcs.Key) (*pcs.Bundle, error) {
		if k.TEE == 0 {
			return sgxB, nil
		}
		return tdxB, nil
	})
	v, err := New(src, WithCacheSize(1, 1)) // tiny caches: constant eviction
	if err != nil {
		t.Fatal(err)
	}
	sgxQ, tdxQ := parseQuote(t, readQuote(t, sgxQuote)), parseQuote(t, readQuote(t, tdxQuote))
	at := mustTime(t, v1At)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			q, want := sgxQ, "ConfigurationAndSWHardeningNeeded"
			if i%2 == 1 {
				q, want = tdxQ, "UpToDate"
			}
			for range 5 {
				r, err := v.Verify(context.Background(), q, at)
				if err != nil || string(r.TCBStatus) != want {
					t.Errorf("goroutine %d: %v, %v", i, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
