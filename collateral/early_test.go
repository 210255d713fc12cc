package collateral

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// earlyPCS makes s answer update=early requests with the early TCB Info of earlyTCBInfo, or,
// with status set, with that HTTP status. It returns a counter of update=early requests.
func earlyPCS(t *testing.T, s *simPCS, status int) func() int {
	t.Helper()
	body := earlyTCBInfo(t, s)
	chain := sim.IssuerChainHeader(signingChain(t, s))
	var n atomic.Int64
	s.setMiddleware(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.URL.Query().Get("update") != string(UpdateEarly) {
			next.ServeHTTP(w, r)
			return
		}
		n.Add(1)
		switch {
		case status != 0:
			http.Error(w, "no early data", status)
		case strings.HasSuffix(r.URL.Path, "/tcb"):
			w.Header().Set(sim.HeaderTCBInfoIssuerChain, chain)
			_, _ = w.Write(body)
		default:
			next.ServeHTTP(w, r)
		}
	})
	return func() int { return int(n.Load()) }
}

// TestCachedEarlyBundle: the lookup never does I/O; a missing early bundle is fetched by Run
// in the background and found by a later call, or stays missing when the service has none.
func TestCachedEarlyBundle(t *testing.T) {
	tests := []struct {
		name    string
		status  int   // HTTP status of update=early answers; 0: the early documents
		wantErr error // of CachedEarlyBundle once Run fetched
	}{
		{"early data served", 0, nil},
		{"service without early data", http.StatusNotFound, ErrNotCached},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimPCS(t)
			key := s.platform(t, quote.TEESGX).Key()
			earlyRequests := earlyPCS(t, s, tc.status)
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
			s := newSimPCS(t)
			key := s.platform(t, quote.TEESGX).Key()
			earlyPCS(t, s, http.StatusServiceUnavailable)
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
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
