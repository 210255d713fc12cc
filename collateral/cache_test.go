package collateral

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

var _ verify.CollateralSource = (*Cache)(nil)
var _ verify.CollateralSource = (*StaticSource)(nil)
var _ Fetcher = (*Client)(nil)

func newTestCache(t testing.TB, s *simPCS, cfg Config) *Cache {
	t.Helper()
	if cfg.Source == nil {
		cfg.Source = s.client(t)
	}
	if cfg.Root == nil {
		cfg.Root = s.world.Root()
	}
	c, err := NewCache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheFirstFetchAndHit(t *testing.T) {
	s := newSimPCS(t)
	rec := &recorder{}
	cache := newTestCache(t, s, Config{Hooks: rec.hooks()})
	p := s.platform(t, quote.TEESGX)
	ctx := context.Background()

	b1, err := cache.Collateral(ctx, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	if got := s.requests(); got != [4]int{1, 1, 1, 1} {
		t.Fatalf("first fetch: requests per item %v, want one each", got)
	}
	want, err := p.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	gotJSON, _ := b1.MarshalJSON()
	wantJSON, _ := want.MarshalJSON()
	if string(gotJSON) != string(wantJSON) {
		t.Error("cached bundle differs from the world's collateral")
	}

	for range 3 {
		b, err := cache.Collateral(ctx, p.Key())
		if err != nil {
			t.Fatal(err)
		}
		if b != b1 {
			t.Fatal("cache hit returned a new bundle pointer")
		}
	}
	if got := s.faults.TotalRequests(); got != 4 {
		t.Errorf("cache hits made requests: %d in total, want 4", got)
	}
	if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != "" {
		t.Errorf("verification with cached collateral: %s", reason)
	}
	if n := rec.fetchCount("tcb_info ok"); n != 1 {
		t.Errorf("OnFetch tcb_info ok called %d times", n)
	}
	wantItems := []string{"pck_crl processor", "qe_identity sgx", "root_crl global", "tcb_info sgx/" + sim.DefaultSGXFMSPC.String()}
	if diff := cmp.Diff(wantItems, rec.sortedItems()); diff != "" {
		t.Errorf("OnItem calls (-want +got):\n%s", diff)
	}

	// A TDX platform shares only the root CRL.
	if _, err := cache.Collateral(ctx, s.platform(t, quote.TEETDX).Key()); err != nil {
		t.Fatal(err)
	}
	if got := s.faults.Requests(sim.RootCRLPath); got != 1 {
		t.Errorf("root CRL fetched %d times for two platforms", got)
	}
	if got := s.faults.Requests(sim.TDXBasePath + "/tcb"); got != 1 {
		t.Errorf("TDX TCB Info fetched %d times", got)
	}
}

// TestCacheOutage: with the service down, the last verified items are served within and past
// their nextUpdate; the verifier says ok, then collateral_expired; after the outage, new
// collateral is picked up.
func TestCacheOutage(t *testing.T) {
	s := newSimPCS(t)
	clock := &fakeClock{t: t0.Add(time.Minute)}
	rec := &recorder{}
	cache := newTestCache(t, s, Config{Now: clock.Now, Hooks: rec.hooks(), RetryInterval: time.Minute})
	p := s.platform(t, quote.TEESGX)
	q := quoteOf(t, p)
	ctx := context.Background()
	b1, err := cache.Collateral(ctx, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	s.faults.Set("/", sim.Fault{Status: http.StatusServiceUnavailable})

	within := t0.Add(20 * 24 * time.Hour)
	clock.Set(within)
	if b, err := cache.Collateral(ctx, p.Key()); err != nil || b != b1 {
		t.Fatalf("within nextUpdate: %v, same bundle %v", err, b == b1)
	}
	if reason := verifyAt(t, s, cache, q, within); reason != "" {
		t.Errorf("within nextUpdate: reason %s, want ok", reason)
	}
	if got := s.faults.TotalRequests(); got != 4 {
		t.Errorf("fresh items were fetched again: %d requests", got)
	}

	beyond := t0.Add(31 * 24 * time.Hour)
	clock.Set(beyond)
	b, err := cache.Collateral(ctx, p.Key())
	if err != nil || b != b1 {
		t.Fatalf("beyond nextUpdate: %v, same bundle %v", err, b == b1)
	}
	tried := s.faults.TotalRequests()
	if tried == 4 {
		t.Error("expired items were not fetched again")
	}
	if reason := verifyAt(t, s, cache, q, beyond); reason != verify.ReasonCollateralExpired {
		t.Errorf("beyond nextUpdate: reason %q, want %s", reason, verify.ReasonCollateralExpired)
	}
	if err := rec.errorMatching(ErrStatus); err == nil {
		t.Error("the failed refresh was not reported")
	}
	if _, err := cache.Collateral(ctx, p.Key()); err != nil || s.faults.TotalRequests() != tried {
		t.Errorf("the service was tried again within the retry interval (%v)", err)
	}

	// The service comes back with new collateral.
	s.faults.ClearAll()
	if err := s.world.Reissue(beyond.Add(-time.Hour), 0); err != nil {
		t.Fatal(err)
	}
	clock.Set(beyond.Add(2 * time.Minute))
	b2, err := cache.Collateral(ctx, p.Key())
	if err != nil || b2 == b1 {
		t.Fatalf("after the outage: %v, new bundle %v", err, b2 != b1)
	}
	if reason := verifyAt(t, s, cache, q, beyond); reason != "" {
		t.Errorf("after the outage: reason %s, want ok", reason)
	}
}

func TestCacheUnavailable(t *testing.T) {
	s := newSimPCS(t)
	s.faults.Set("/", sim.Fault{Status: http.StatusInternalServerError})
	cache := newTestCache(t, s, Config{})
	p := s.platform(t, quote.TEESGX)
	_, err := cache.Collateral(context.Background(), p.Key())
	if !errors.Is(err, ErrStatus) {
		t.Fatalf("err = %v, want ErrStatus", err)
	}
	if got := s.faults.Requests(sim.RootCRLPath); got != 3 {
		t.Errorf("root CRL tried %d times, want 3 attempts", got)
	}
	if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != verify.ReasonCollateralUnavailable {
		t.Errorf("reason %q, want %s", reason, verify.ReasonCollateralUnavailable)
	}
	for _, key := range []pcs.Key{{TEE: 5, CA: pcs.CAProcessor}, {TEE: quote.TEESGX, CA: "other"}} {
		if _, err := cache.Collateral(context.Background(), key); err == nil {
			t.Errorf("Collateral(%s) succeeded", key)
		}
	}
}

// TestCacheSlowResponse: an attempt that exceeds the timeout is retried.
func TestCacheSlowResponse(t *testing.T) {
	s := newSimPCS(t)
	s.faults.Set(sim.SGXBasePath+"/tcb", sim.Fault{Delay: 5 * time.Second, Times: 1})
	cfg := s.clientConfig()
	cfg.Timeout = 200 * time.Millisecond
	client, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cache := newTestCache(t, s, Config{Source: client})
	start := time.Now()
	if _, err := cache.Collateral(context.Background(), s.platform(t, quote.TEESGX).Key()); err != nil {
		t.Fatal(err)
	}
	if got := s.faults.Requests(sim.SGXBasePath + "/tcb"); got != 2 {
		t.Errorf("TCB Info requested %d times, want 2 (timeout, retry)", got)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("took %v: the slow attempt was not cut at the timeout", d)
	}
}

// TestCacheRejectsBadDocuments: a refresh that brings a bad document is rejected with the
// documented error, the old item is kept (same bundle), and the failure is reported.
func TestCacheRejectsBadDocuments(t *testing.T) {
	tcbPath := sim.SGXBasePath + "/tcb"
	tests := []struct {
		name    string
		setup   func(t *testing.T, s *simPCS)
		wantErr []error
		outcome string
	}{
		{"bad JSON", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{Body: sim.BodyGarbage}) },
			[]error{ErrInvalid, pcs.ErrFormat}, OutcomeInvalid},
		{"short body", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{Body: sim.BodyShort}) },
			[]error{ErrInvalid, pcs.ErrFormat}, OutcomeInvalid},
		{"truncated body", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{Body: sim.BodyTruncated}) },
			[]error{ErrTransport}, OutcomeError},
		{"bad signature", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{BadSignature: true}) },
			[]error{ErrInvalid, pcs.ErrSignature}, OutcomeInvalid},
		{"oversized body", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{Body: sim.BodyOversized}) },
			[]error{ErrTooLarge}, OutcomeError},
		{"not found", func(t *testing.T, s *simPCS) { s.faults.Set(tcbPath, sim.Fault{Status: http.StatusNotFound}) },
			[]error{ErrStatus}, OutcomeError},
		{"wrong FMSPC in body", wrongFMSPC, []error{ErrInvalid}, OutcomeInvalid},
		{"missing chain header", func(t *testing.T, s *simPCS) {
			s.setMiddleware(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
				next.ServeHTTP(dropHeader{w, sim.HeaderTCBInfoIssuerChain}, r)
			})
		}, []error{ErrMalformed}, OutcomeError},
		{"rollback", func(t *testing.T, s *simPCS) {
			if err := s.world.EditTCBInfo(quote.TEESGX, func(ti *pcs.TCBInfo) { ti.TCBEvaluationDataNumber-- }); err != nil {
				t.Fatal(err)
			}
		}, []error{ErrRollback}, OutcomeRollback},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimPCS(t)
			rec := &recorder{}
			cache := newTestCache(t, s, Config{Hooks: rec.hooks()})
			p := s.platform(t, quote.TEESGX)
			ctx := context.Background()
			b1, err := cache.Collateral(ctx, p.Key())
			if err != nil {
				t.Fatal(err)
			}
			tc.setup(t, s)
			_, err = cache.fetch(ctx, TCBInfoItem(quote.TEESGX, p.Key().FMSPC, UpdateStandard))
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("refresh error %v does not match %v", err, want)
				}
			}
			if errors.Is(err, pcs.ErrMismatch) {
				t.Errorf("a bad service must not look like a collateral mismatch: %v", err)
			}
			if b, err := cache.Collateral(ctx, p.Key()); err != nil || b != b1 {
				t.Errorf("after the rejected refresh: %v, same bundle %v", err, b == b1)
			}
			if n := rec.fetchCount("tcb_info " + tc.outcome); n != 1 {
				t.Errorf("OnFetch(tcb_info, %s) called %d times", tc.outcome, n)
			}
			if rec.errorMatching(tc.wantErr[0]) == nil {
				t.Error("the rejection was not reported to OnError")
			}
			if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != "" {
				t.Errorf("verification with the kept item: %s", reason)
			}
		})
	}
}

// wrongFMSPC makes the simulator serve the TCB Info of another FMSPC for the platform's FMSPC.
func wrongFMSPC(t *testing.T, s *simPCS) {
	other := pcs.FMSPC{0x00, 0x90, 0x6E, 0xD5, 0x00, 0x00}
	want := sim.DefaultSGXFMSPC.String()
	if err := s.world.EditTCBInfo(quote.TEESGX, func(ti *pcs.TCBInfo) { ti.FMSPC = other }); err != nil {
		t.Fatal(err)
	}
	s.setMiddleware(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		q := r.URL.Query()
		if strings.EqualFold(q.Get("fmspc"), want) {
			q.Set("fmspc", other.String())
			r.URL.RawQuery = q.Encode()
		}
		next.ServeHTTP(w, r)
	})
}

// dropHeader is a ResponseWriter that removes one header before the response is written.
type dropHeader struct {
	http.ResponseWriter
	name string
}

func (d dropHeader) WriteHeader(code int) {
	d.Header().Del(d.name)
	d.ResponseWriter.WriteHeader(code)
}

// TestCacheConcurrentOnePlatform: concurrent verifications of quotes from one new platform
// cause exactly one fetch per item. A barrier holds every request until all verifications
// are waiting for it.
func TestCacheConcurrentOnePlatform(t *testing.T) {
	const n = 16
	s := newSimPCS(t)
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	joins := map[ItemKind]int{}
	cache := newTestCache(t, s, Config{onJoin: func(it Item) {
		mu.Lock()
		defer mu.Unlock()
		joins[it.Kind]++
		cond.Broadcast()
	}})
	s.setMiddleware(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		k := kindOfPath(r.URL.Path)
		deadline := time.AfterFunc(10*time.Second, func() { cond.Broadcast() })
		defer deadline.Stop()
		start := time.Now()
		mu.Lock()
		for joins[k] < n && time.Since(start) < 10*time.Second {
			cond.Wait()
		}
		mu.Unlock()
		next.ServeHTTP(w, r)
	})
	p := s.platform(t, quote.TEESGX)
	v, err := verify.New(cache, verify.WithRoot(s.world.Root()))
	if err != nil {
		t.Fatal(err)
	}
	quotes := make([]*quote.Quote, n)
	for i := range quotes {
		quotes[i] = quoteOf(t, p)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = v.Verify(context.Background(), quotes[i], t0.Add(time.Hour)) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("verification %d: %v", i, err)
		}
	}
	if got := s.requests(); got != [4]int{1, 1, 1, 1} {
		t.Errorf("requests per item %v, want exactly one each", got)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, k := range []ItemKind{KindRootCRL, KindPCKCRL, KindTCBInfo, KindQEIdentity} {
		if joins[k] < n {
			t.Errorf("%s: only %d of %d callers shared the fetch", k, joins[k], n)
		}
	}
}

// TestCacheEarly: early TCB data is fetched with update=early, kept apart from the standard
// data, and only when configured.
func TestCacheEarly(t *testing.T) {
	s, _ := earlySimPCS(t, false)
	p := s.platform(t, quote.TEESGX)
	ctx := context.Background()

	plain := newTestCache(t, s, Config{})
	if _, err := plain.EarlyBundle(ctx, p.Key()); err == nil {
		t.Error("EarlyBundle without EarlyWarning succeeded")
	}

	cache := newTestCache(t, s, Config{EarlyWarning: true})
	if err := cache.Prefetch(ctx, p.Key()); err != nil {
		t.Fatal(err)
	}
	std, err := cache.Collateral(ctx, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	early, err := cache.EarlyBundle(ctx, p.Key())
	if err != nil {
		t.Fatal(err)
	}
	if std.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber || early.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber+1 {
		t.Errorf("evaluation data numbers standard %d, early %d", std.TCBInfo.TCBEvaluationDataNumber, early.TCBInfo.TCBEvaluationDataNumber)
	}
	if std.QEIdentity.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber || early.QEIdentity.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber+1 {
		t.Errorf("QE Identity evaluation data numbers standard %d, early %d", std.QEIdentity.TCBEvaluationDataNumber, early.QEIdentity.TCBEvaluationDataNumber)
	}
	if std.RootCRL != early.RootCRL || std.PCKCRL != early.PCKCRL {
		t.Error("CRLs are not shared between standard and early bundles")
	}
	// One request per item, and one more, with update=early, for TCB Info and QE Identity.
	if got, early := s.requests(), s.earlyRequests(); got != [4]int{1, 1, 2, 2} || early != [4]int{0, 0, 1, 1} {
		t.Errorf("requests per item %v, of them update=early %v; want 1 1 2 2 and 0 0 1 1", got, early)
	}
	if got := len(cache.Status()); got != 2 {
		t.Errorf("Status lists %d keys, want standard and early", got)
	}
}

func TestCacheStatus(t *testing.T) {
	s := newSimPCS(t)
	cache := newTestCache(t, s, Config{})
	good := s.platform(t, quote.TEESGX).Key()
	unknown := pcs.Key{TEE: quote.TEESGX, FMSPC: pcs.FMSPC{1, 2, 3, 4, 5, 6}, CA: pcs.CAPlatform}
	if err := cache.Ready(); err != nil {
		t.Errorf("empty cache not ready: %v", err)
	}
	err := cache.Prefetch(context.Background(), good, unknown)
	if !errors.Is(err, ErrStatus) {
		t.Errorf("Prefetch error %v, want the unknown FMSPC's 404", err)
	}
	st := cache.Status()
	if len(st) != 2 {
		t.Fatalf("Status %+v", st)
	}
	byKey := map[pcs.Key]KeyStatus{st[0].Key: st[0], st[1].Key: st[1]}
	if g := byKey[good]; !g.Loaded || len(g.Missing) != 0 || !g.NextUpdate.Equal(t0.Add(sim.DefaultCollateralValidity)) || g.Fetched.IsZero() {
		t.Errorf("status of the good key: %+v", g)
	}
	if u := byKey[unknown]; u.Loaded || len(u.Missing) != 1 || u.Missing[0] != TCBInfoItem(quote.TEESGX, unknown.FMSPC, "") {
		t.Errorf("status of the unknown key: %+v", u)
	}
	if err := cache.Ready(); err == nil || !strings.Contains(err.Error(), unknown.FMSPC.String()) {
		t.Errorf("Ready() = %v, want the missing TCB Info named", err)
	}
}

// BenchmarkCollateralHit is the per-verification cost of a warm cache.
func BenchmarkCollateralHit(b *testing.B) {
	s := newSimPCS(b)
	cache := newTestCache(b, s, Config{})
	key := s.platform(b, quote.TEESGX).Key()
	ctx := context.Background()
	if _, err := cache.Collateral(ctx, key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cache.Collateral(ctx, key); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCacheMissesAreThrottled: while the service fails and nothing is cached, repeated requests
// get the remembered error instead of fetching again, until the retry interval has passed; a
// later success clears it.
func TestCacheMissesAreThrottled(t *testing.T) {
	s := newSimPCS(t)
	s.faults.Set("/", sim.Fault{Status: http.StatusServiceUnavailable})
	now := t0
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	cfg := s.clientConfig()
	cfg.Attempts = 1
	client, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cache := newTestCache(t, s, Config{Source: client, Now: clock, RetryInterval: time.Minute})
	key := s.platform(t, quote.TEESGX).Key()
	for range 5 {
		if _, err := cache.Collateral(context.Background(), key); !errors.Is(err, ErrStatus) {
			t.Fatalf("err = %v, want ErrStatus", err)
		}
	}
	if got := s.faults.TotalRequests(); got != 1 {
		t.Errorf("5 requests during an outage reached the service %d times, want 1", got)
	}
	advance(maxMissRetry + time.Second)
	s.faults.ClearAll()
	if _, err := cache.Collateral(context.Background(), key); err != nil {
		t.Fatalf("after the retry interval and the outage: %v", err)
	}
	if got := s.faults.TotalRequests(); got < 5 {
		t.Errorf("service asked %d times in all, want the 4 items fetched after the outage", got)
	}
}
