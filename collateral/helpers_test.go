package collateral

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// t0 is the reference time of the simulated worlds: collateral is issued at t0 and valid for
// sim.DefaultCollateralValidity (30 days).
var t0 = time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)

// simPCS is a simulated PCS on 127.0.0.1: sim.PCSHandler with fault switches (and the given
// handler options, e.g. sim.WithDialects), behind an optional test middleware.
type simPCS struct {
	world  *sim.World
	faults *sim.Faults
	srv    *httptest.Server

	mu         sync.Mutex
	middleware func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

func newSimPCS(t testing.TB, opts ...sim.PCSOption) *simPCS {
	t.Helper()
	w, err := sim.New(sim.Options{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	s := &simPCS{world: w, faults: sim.NewFaults()}
	h := sim.PCSHandler(w, append([]sim.PCSOption{sim.WithFaults(s.faults)}, opts...)...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		mw := s.middleware
		s.mu.Unlock()
		if mw != nil {
			mw(rw, r, h)
			return
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *simPCS) setMiddleware(mw func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.middleware = mw
}

// clientConfig is a fast-retrying intel-kind configuration against the simulator.
func (s *simPCS) clientConfig() ClientConfig {
	return ClientConfig{
		BaseURL: s.srv.URL + sim.SGXBasePath, RootCRLURL: s.srv.URL + sim.RootCRLPath,
		HTTPClient: s.srv.Client(), Timeout: 2 * time.Second, Attempts: 3,
		Backoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	}
}

func (s *simPCS) client(t testing.TB) *Client {
	t.Helper()
	c, err := NewClient(s.clientConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sgxItemPaths are the simulator's URL paths of the four SGX items: root CRL, PCK CRL, TCB
// Info, QE Identity.
var sgxItemPaths = [4]string{sim.RootCRLPath, sim.SGXBasePath + "/pckcrl", sim.SGXBasePath + "/tcb", sim.SGXBasePath + "/qe/identity"}

// requests returns the request counts for the four SGX item paths (sgxItemPaths).
func (s *simPCS) requests() [4]int { return countPaths(s.faults.Requests) }

// earlyRequests returns how many of requests() asked for Intel's early TCB data (update=early).
func (s *simPCS) earlyRequests() [4]int { return countPaths(s.faults.EarlyRequests) }

func countPaths(count func(path string) int) [4]int {
	var out [4]int
	for i, p := range sgxItemPaths {
		out[i] = count(p)
	}
	return out
}

func (s *simPCS) platform(t testing.TB, tee quote.TEE) *sim.Platform {
	t.Helper()
	p, err := s.world.Platform(tee, pcs.StatusUpToDate)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// quoteOf returns a fresh quote of p.
func quoteOf(t *testing.T, p *sim.Platform) *quote.Quote {
	t.Helper()
	q, err := p.Enclave(sim.DefaultIdentity()).QuoteValue(context.Background(), [64]byte{7})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// verifyAt verifies q with collateral from src at time at and returns the reason ("" = ok).
func verifyAt(t *testing.T, s *simPCS, src verify.CollateralSource, q *quote.Quote, at time.Time) verify.Reason {
	t.Helper()
	v, err := verify.New(src, verify.WithRoot(s.world.Root()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(context.Background(), q, at)
	return verify.ReasonOf(err)
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// recorder collects hook calls.
type recorder struct {
	mu      sync.Mutex
	fetches []string // "item outcome"
	items   []string // "item key"
	errs    []error
}

func (r *recorder) hooks() Hooks {
	return Hooks{
		OnFetch: func(item, outcome string) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.fetches = append(r.fetches, item+" "+outcome)
		},
		OnItem: func(item, key string, fetched, next time.Time) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.items = append(r.items, item+" "+key)
		},
		OnError: func(err error) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.errs = append(r.errs, err)
		},
	}
}

func (r *recorder) fetchCount(entry string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, f := range r.fetches {
		if f == entry {
			n++
		}
	}
	return n
}

func (r *recorder) sortedItems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := slices.Clone(r.items)
	slices.Sort(out)
	return out
}

// errorMatching returns the first reported error matching target.
func (r *recorder) errorMatching(target error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, err := range r.errs {
		if errors.Is(err, target) {
			return err
		}
	}
	return nil
}

// kindOfPath maps a simulator request path to the item kind it serves.
func kindOfPath(p string) ItemKind {
	switch {
	case p == sim.RootCRLPath:
		return KindRootCRL
	case strings.HasSuffix(p, "/pckcrl"):
		return KindPCKCRL
	case strings.HasSuffix(p, "/tcb"):
		return KindTCBInfo
	}
	return KindQEIdentity
}
