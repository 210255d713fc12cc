package collateral

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// bubbleClient is a Client created inside a synctest bubble: no keep-alive connections, so
// no goroutine stays blocked on the (real, loopback) network between requests.
func bubbleClient(t *testing.T, s *simPCS) *Client {
	t.Helper()
	cfg := s.clientConfig()
	cfg.HTTPClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRunRefresh: Run fetches cached items again within RefreshInterval; a new TCB Info issued
// by the service (a TCB recovery) is picked up, and Collateral then returns a new bundle.
func TestRunRefresh(t *testing.T) {
	s := newSimPCS(t) // outside the bubble: the server's goroutines wait on the network
	p := s.platform(t, quote.TEESGX)
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		cache := newTestCache(t, s, Config{Source: bubbleClient(t, s), Hooks: rec.hooks(), RefreshInterval: time.Hour})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- cache.Run(ctx) }()

		b1, err := cache.Collateral(ctx, p.Key())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.world.EditTCBInfo(quote.TEESGX, func(ti *pcs.TCBInfo) {
			ti.TCBEvaluationDataNumber++
			ti.IssueDate = ti.IssueDate.Add(time.Hour)
		}); err != nil {
			t.Fatal(err)
		}

		time.Sleep(40 * time.Minute) // refreshes are due after 48 to 60 minutes
		synctest.Wait()
		if got := s.requests(); got != [4]int{1, 1, 1, 1} {
			t.Errorf("after 40 min: requests %v, want no refresh yet", got)
		}
		if b, _ := cache.Collateral(ctx, p.Key()); b != b1 {
			t.Error("bundle changed before any refresh")
		}

		time.Sleep(21 * time.Minute)
		synctest.Wait()
		if got := s.requests(); got != [4]int{2, 2, 2, 2} {
			t.Errorf("after 61 min: requests %v, want one refresh of each item", got)
		}
		b2, err := cache.Collateral(ctx, p.Key())
		if err != nil {
			t.Fatal(err)
		}
		if b2 == b1 {
			t.Fatal("new TCB Info was not picked up: same bundle")
		}
		if b2.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber+1 || b2.PCKCRL != b1.PCKCRL || b2.RootCRL != b1.RootCRL {
			t.Error("refreshed bundle: want the new TCB Info and the unchanged CRLs")
		}
		if b3, _ := cache.Collateral(ctx, p.Key()); b3 != b2 {
			t.Error("bundle pointer not stable after the refresh")
		}
		if n := rec.fetchCount("root_crl unchanged"); n != 1 {
			t.Errorf("root CRL refresh outcome: %d unchanged", n)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	})
}

// TestRunRetriesWithBackoff: failed background refreshes are retried from RetryInterval with
// doubling delays (less up to 20 % jitter), the item stays served, and a success resets the
// backoff.
func TestRunRetriesWithBackoff(t *testing.T) {
	s := newSimPCS(t)
	p := s.platform(t, quote.TEESGX)
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var failures []time.Time // fake time of each failed QE Identity refresh
		hooks := Hooks{OnFetch: func(item, outcome string) {
			if item == string(KindQEIdentity) && outcome == OutcomeError {
				mu.Lock()
				failures = append(failures, time.Now())
				mu.Unlock()
			}
		}}
		cache := newTestCache(t, s, Config{Source: bubbleClient(t, s), Hooks: hooks, RefreshInterval: time.Hour, RetryInterval: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b1, err := cache.Collateral(ctx, p.Key())
		if err != nil {
			t.Fatal(err)
		}
		go func() { _ = cache.Run(ctx) }()
		s.faults.Set(sim.SGXBasePath+"/qe/identity", sim.Fault{Status: http.StatusServiceUnavailable})

		time.Sleep(76 * time.Minute) // first refresh after 48–60 min, then retries after ~1, 2, 4, 8 min
		synctest.Wait()
		if b, err := cache.Collateral(ctx, p.Key()); err != nil || b != b1 {
			t.Errorf("during failed refreshes: %v, same bundle %v", err, b == b1)
		}
		mu.Lock()
		got := slices.Clone(failures)
		mu.Unlock()
		if len(got) < 5 {
			t.Fatalf("%d failed refreshes in 76 min, want at least 5", len(got))
		}
		for i := 1; i < 5; i++ {
			want := time.Minute << (i - 1)
			if gap := got[i].Sub(got[i-1]); gap < want*8/10 || gap > want+time.Second {
				t.Errorf("retry %d after %v, want %v less up to 20 %%", i, gap, want)
			}
		}
		if n := s.faults.Requests(sim.SGXBasePath + "/qe/identity"); n != 1+3*len(got) {
			t.Errorf("%d QE Identity requests for %d failed refreshes of 3 attempts", n, len(got))
		}

		s.faults.ClearAll()
		time.Sleep(61 * time.Minute) // the retry delay is capped at RefreshInterval
		synctest.Wait()
		cache.mu.Lock()
		st := *cache.state[QEIdentityItem(quote.TEESGX, UpdateStandard)]
		cache.mu.Unlock()
		if gap := st.due.Sub(st.lastTry); st.failures != 0 || gap < 48*time.Minute {
			t.Errorf("after the service recovered: %d failures, next refresh %v after the last", st.failures, gap)
		}
	})
}
