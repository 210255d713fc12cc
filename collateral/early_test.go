package collateral

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// earlySimPCS is a simulated PCS whose world has early TCB data for its SGX platforms (the
// standard levels with the next evaluation data number), or, with withoutEarly, a service
// that has none (sim.WithoutEarlyData: 404). It returns a counter of update=early requests.
func earlySimPCS(t *testing.T, withoutEarly bool) (*simPCS, func() int) {
	t.Helper()
	var opts []sim.PCSOption
	if withoutEarly {
		opts = append(opts, sim.WithoutEarlyData())
	}
	s := newSimPCS(t, opts...)
	std, err := s.world.TCBInfo(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.world.SetEarlyTCBLevels(quote.TEESGX, std.Levels); err != nil {
		t.Fatal(err)
	}
	return s, func() int {
		return s.faults.EarlyRequests(sim.SGXBasePath+"/tcb") + s.faults.EarlyRequests(sim.SGXBasePath+"/qe/identity")
	}
}

// TestCachedEarlyBundle: the lookup never does I/O; a missing early bundle is fetched by Run
// in the background and found by a later call, or stays missing when the service has none.
func TestCachedEarlyBundle(t *testing.T) {
	tests := []struct {
		name         string
		withoutEarly bool  // the service has no early data (404)
		wantErr      error // of CachedEarlyBundle once Run fetched
	}{
		{"early data served", false, nil},
		{"service without early data", true, ErrNotCached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, earlyRequests := earlySimPCS(t, tc.withoutEarly)
			key := s.platform(t, quote.TEESGX).Key()
			rec := &recorder{}
			cache := newTestCache(t, s, Config{EarlyWarning: true, Hooks: rec.hooks()})

			if _, err := cache.CachedEarlyBundle(key); !errors.Is(err, ErrNotCached) {
				t.Fatalf("first lookup: %v, want ErrNotCached", err)
			}
			if got := s.requests(); got != [4]int{} {
				t.Fatalf("the lookup made requests %v", got)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- cache.Run(ctx) }()
			defer func() { cancel(); <-done }()

			waitUntil(t, "Run's fetch of the early bundle", func() bool {
				if tc.wantErr != nil {
					return rec.errorMatching(ErrStatus) != nil
				}
				b, _ := cache.CachedEarlyBundle(key)
				return b != nil
			})
			b, err := cache.CachedEarlyBundle(key)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("after Run: %v, want %v", err, tc.wantErr)
			}
			if earlyRequests() == 0 {
				t.Error("no update=early request")
			}
			if err := cache.Ready(); err != nil {
				t.Errorf("Ready: %v (early data kept for warnings must not be required)", err)
			}
			if tc.wantErr != nil {
				return
			}
			if b.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber+1 {
				t.Errorf("early bundle has evaluation data number %d", b.TCBInfo.TCBEvaluationDataNumber)
			}
			if again, _ := cache.CachedEarlyBundle(key); again != b {
				t.Error("a second lookup returned another bundle")
			}
			if std, err := cache.Collateral(ctx, key); err != nil || std.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber {
				t.Errorf("standard bundle: %v", err)
			}
		})
	}
}

func TestCachedEarlyBundleNotConfigured(t *testing.T) {
	s := newSimPCS(t)
	cache := newTestCache(t, s, Config{})
	if _, err := cache.CachedEarlyBundle(s.platform(t, quote.TEESGX).Key()); err == nil || errors.Is(err, ErrNotCached) {
		t.Errorf("without EarlyWarning: %v, want a configuration error", err)
	}
}

// TestEarlyDataAndReadiness: early data kept for warnings never fails Prefetch or Ready, even
// when the service has none; early data that decides verdicts (Update early) is required.
func TestEarlyDataAndReadiness(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		wantReady bool
		wantKeys  int // in Status
	}{
		{"warnings only", Config{EarlyWarning: true}, true, 2},
		{"verdicts on early data", Config{Update: UpdateEarly}, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := earlySimPCS(t, true)
			key := s.platform(t, quote.TEESGX).Key()
			cache := newTestCache(t, s, tc.cfg)
			err := cache.Prefetch(context.Background(), key)
			if tc.wantReady != (err == nil) {
				t.Errorf("Prefetch: %v, want success %v", err, tc.wantReady)
			}
			if err := cache.Ready(); tc.wantReady != (err == nil) {
				t.Errorf("Ready: %v, want ready %v", err, tc.wantReady)
			}
			if got := len(cache.Status()); got != tc.wantKeys {
				t.Errorf("Status lists %d keys, want %d", got, tc.wantKeys)
			}
		})
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	simtest.WaitFor(t, 10*time.Second, what, cond)
}
