package collateral

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Fetcher fetches one document; *Client implements it.
type Fetcher interface {
	Fetch(ctx context.Context, it Item) (*Document, error)
}

// Hooks observe a Cache; nil functions are skipped. They are called synchronously, never with
// the cache's lock held, and must not block.
type Hooks struct {
	// OnFetch reports each fetch of an item kind ("tcb_info", "qe_identity", "pck_crl",
	// "root_crl") with its outcome (OutcomeOK, OutcomeUnchanged, OutcomeInvalid,
	// OutcomeRollback, OutcomeError).
	OnFetch func(item, outcome string)
	// OnItem reports an item stored in memory (fetched, or loaded from disk): its kind, its
	// key (Item.Key, e.g. "sgx/00A067110000"), when it was fetched and its nextUpdate.
	OnItem func(item, key string, fetched, nextUpdate time.Time)
	// OnError reports every failure the cache absorbs: fetch errors, rejected documents,
	// unreadable or unwritable cache directory. Errors are *Error values.
	OnError func(err error)
}

// Fetch outcomes reported to Hooks.OnFetch.
const (
	OutcomeOK        = "ok"        // a new document was verified and stored
	OutcomeUnchanged = "unchanged" // the service returned the document already cached
	OutcomeInvalid   = "invalid"   // the document failed parsing or verification; not stored
	OutcomeRollback  = "rollback"  // the document is older than the cached one; not stored
	OutcomeError     = "error"     // no usable response (transport, status, size)
)

// Defaults of Config.
const (
	DefaultRefreshInterval = time.Hour
	DefaultRetryInterval   = time.Minute
	// maxFetchTime bounds one shared fetch (all attempts), whoever waits for it.
	maxFetchTime = 5 * time.Minute
)

// Config configures a Cache. Source and Root are required.
type Config struct {
	Source Fetcher           // usually a *Client
	Root   *x509.Certificate // trust anchor every document must chain to (the Intel SGX Root CA)
	// Dir, if set, persists every verified document (see the package documentation).
	Dir string
	// Update is the TCB data set of the bundles Collateral returns; empty: UpdateStandard.
	Update Update
	// EarlyWarning also keeps Intel's early TCB Info and QE Identity for EarlyBundle.
	EarlyWarning bool
	// RefreshInterval is the longest time between two fetches of a cached item (minus up to
	// 20 % jitter), so that TCB recoveries are seen; zero: DefaultRefreshInterval. Items are
	// also refreshed from RefreshInterval before their nextUpdate.
	RefreshInterval time.Duration
	// RetryInterval is the first delay after a failed refresh, doubled per failure up to
	// RefreshInterval; it also limits how often a request for an item past its nextUpdate
	// tries the service. Zero: DefaultRetryInterval.
	RetryInterval time.Duration
	// Now is the clock; nil: time.Now.
	Now   func() time.Time
	Hooks Hooks

	onJoin func(Item) // tests: called when a caller joins a fetch
}

// Cache is a verify.CollateralSource over a Fetcher: documents are fetched once, verified
// once, kept in memory (and optionally on disk), refreshed in the background by Run, and kept
// through outages. It is safe for concurrent use.
type Cache struct {
	src             Fetcher
	root            *x509.Certificate
	dir             string
	update          Update
	early           bool
	interval, retry time.Duration
	now             func() time.Time
	hooks           Hooks
	onJoin          func(Item)
	group           singleflight.Group
	kick            chan struct{}

	mu      sync.Mutex
	entries map[Item]*entry
	state   map[Item]*itemState    // refresh schedule, for items with an entry
	bundles map[bundleKey]*memo    // assembled bundles, same pointer while parts are unchanged
	keys    map[bundleKey]struct{} // keys served or prefetched (for Status)
	misses  map[Item]miss          // failed fetches of items with no entry (negative cache)
	wanted  map[bundleKey]struct{} // bundles for Run to fetch (CachedEarlyBundle, Prefetch)
}

// miss is the last failed fetch of an item the cache does not have. Within missRetry of it,
// requests get the same error instead of each fetching again: an outage must not turn every
// verification into a request to the collateral service.
type miss struct {
	at  time.Time
	err error
}

// maxMissRetry bounds how long a missing item's failure is remembered (RetryInterval, if
// shorter): a platform seen for the first time during a blip should not wait a full minute.
const maxMissRetry = 10 * time.Second

type itemState struct {
	due      time.Time // next background refresh
	lastTry  time.Time // last fetch attempt
	failures int       // consecutive failed refreshes
}

type bundleKey struct {
	key    pcs.Key
	update Update
}

type memo struct {
	parts [4]*entry
	b     *pcs.Bundle
}

// NewCache checks cfg and returns a Cache. If cfg.Dir is set, the documents persisted there are
// loaded and verified again now (failures go to Hooks.OnError; they never fail NewCache).
func NewCache(cfg Config) (*Cache, error) {
	if cfg.Source == nil || cfg.Root == nil {
		return nil, errors.New("collateral: NewCache: Source and Root are required")
	}
	u, err := ParseUpdate(string(cfg.Update))
	if err != nil {
		return nil, err
	}
	c := &Cache{
		src: cfg.Source, root: cfg.Root, dir: cfg.Dir, update: u, early: cfg.EarlyWarning || u == UpdateEarly,
		interval: orDur(cfg.RefreshInterval, DefaultRefreshInterval), retry: orDur(cfg.RetryInterval, DefaultRetryInterval),
		now: cfg.Now, hooks: cfg.Hooks, onJoin: cfg.onJoin, kick: make(chan struct{}, 1),
		entries: map[Item]*entry{}, state: map[Item]*itemState{}, bundles: map[bundleKey]*memo{}, keys: map[bundleKey]struct{}{},
		wanted: map[bundleKey]struct{}{},
	}
	c.retry = min(c.retry, c.interval)
	if c.now == nil {
		c.now = time.Now
	}
	c.load()
	return c, nil
}

// Collateral returns the verified bundle for key, fetching missing items. While none of its
// items changed it returns the same *pcs.Bundle. An item past its nextUpdate is fetched again
// (at most once per RetryInterval); if that fails the old item is used, so the verifier
// reports collateral_expired. With an item missing and the service failing, the error
// wraps the fetch or check error (*Error).
func (c *Cache) Collateral(ctx context.Context, key pcs.Key) (*pcs.Bundle, error) {
	return c.bundle(ctx, key, c.update)
}

// EarlyBundle returns the bundle for key built with Intel's early TCB Info and QE Identity
// (update=early), for warnings about the next TCB recovery, fetching missing items like
// Collateral. It must not be used to refuse a quote. It fails unless Config.EarlyWarning (or
// Update early) is set. CachedEarlyBundle is the variant that never waits for the network.
func (c *Cache) EarlyBundle(ctx context.Context, key pcs.Key) (*pcs.Bundle, error) {
	if !c.early {
		return nil, errEarlyOff
	}
	return c.bundle(ctx, key, UpdateEarly)
}

func (c *Cache) bundle(ctx context.Context, key pcs.Key, u Update) (*pcs.Bundle, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	items := Items(key, u)
	bk := bundleKey{key, u}
	if b := c.cached(bk, items); b != nil {
		return b, nil
	}
	var parts [4]*entry
	var err error
	if parts[0], err = c.get(ctx, items[0]); err != nil {
		return nil, err
	}
	var errs [3]error
	var wg sync.WaitGroup
	for i := 1; i < 4; i++ {
		wg.Go(func() { parts[i], errs[i-1] = c.get(ctx, items[i]) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.assembleLocked(bk, parts), nil
}

// assembleLocked returns the bundle made of parts (root CRL, PCK CRL, TCB Info, QE Identity):
// the memoised one while its parts are the same entries, otherwise a new one, memoised. It
// records bk as served (Status).
func (c *Cache) assembleLocked(bk bundleKey, parts [4]*entry) *pcs.Bundle {
	c.keys[bk] = struct{}{}
	if m := c.bundles[bk]; m != nil && m.parts == parts {
		return m.b
	}
	b := &pcs.Bundle{
		RootCRL:               parts[0].crl,
		PCKCRLIssuerChain:     parts[1].doc.IssuerChain,
		PCKCRL:                parts[1].crl,
		TCBInfoIssuerChain:    parts[2].doc.IssuerChain,
		TCBInfo:               parts[2].tcb,
		QEIdentityIssuerChain: parts[3].doc.IssuerChain,
		QEIdentity:            parts[3].qe,
	}
	c.bundles[bk] = &memo{parts: parts, b: b}
	return b
}

// cached is the fast path of bundle: the memoised bundle, if its items are still the cached
// ones and none of them is due for an on-demand fetch.
func (c *Cache) cached(bk bundleKey, items [4]Item) *pcs.Bundle {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.bundles[bk]
	if m == nil {
		return nil
	}
	now := c.now()
	for i, it := range items {
		if e := c.entries[it]; e != m.parts[i] || c.staleLocked(e, now) {
			return nil
		}
	}
	return m.b
}

// staleLocked reports whether e is past its nextUpdate and was not tried within the retry
// interval, so that a request should try to fetch it again.
func (c *Cache) staleLocked(e *entry, now time.Time) bool {
	if now.Before(e.next) {
		return false
	}
	st := c.state[e.item]
	return st == nil || !now.Before(st.lastTry.Add(c.retry))
}

func checkKey(key pcs.Key) error {
	if key.TEE != quote.TEESGX && key.TEE != quote.TEETDX {
		return fmt.Errorf("collateral: key %s: unsupported TEE", key)
	}
	if !key.CA.Valid() {
		return fmt.Errorf("collateral: key %s: unknown CA type", key)
	}
	return nil
}

// get returns the cached entry for it, fetching it when missing, or when past its nextUpdate
// and not tried within the retry interval. A failed fetch falls back to the cached entry.
func (c *Cache) get(ctx context.Context, it Item) (*entry, error) {
	c.mu.Lock()
	now := c.now()
	e := c.entries[it]
	stale := e != nil && c.staleLocked(e, now)
	m, missed := c.misses[it]
	c.mu.Unlock()
	if e != nil && !stale {
		return e, nil
	}
	if e == nil && missed && now.Before(m.at.Add(min(c.retry, maxMissRetry))) {
		return nil, m.err
	}
	ne, err := c.fetch(ctx, it)
	if err != nil {
		if e != nil {
			return e, nil
		}
		return nil, err
	}
	return ne, nil
}

// fetch fetches, checks and stores it, sharing one fetch among concurrent callers. The shared
// fetch is not cancelled by one caller leaving; it is bounded by maxFetchTime.
func (c *Cache) fetch(ctx context.Context, it Item) (*entry, error) {
	ch := c.group.DoChan(it.String(), func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxFetchTime)
		defer cancel()
		return c.refresh(fctx, it)
	})
	if c.onJoin != nil {
		c.onJoin(it)
	}
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*entry), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refresh does one fetch of it and stores the result if it verifies. The root CA CRL used to
// check it is the cached one (fetched first if missing).
func (c *Cache) refresh(ctx context.Context, it Item) (*entry, error) {
	var rootCRL *x509.RevocationList
	if it.Kind != KindRootCRL {
		re, err := c.get(ctx, RootCRLItem())
		if err != nil {
			c.failed(it, OutcomeError, err)
			return nil, err
		}
		rootCRL = re.crl
	}
	c.mu.Lock()
	if st := c.state[it]; st != nil {
		st.lastTry = c.now()
	}
	c.mu.Unlock()
	doc, err := c.src.Fetch(ctx, it)
	if err == nil && doc.Item != it {
		err = &Error{Op: "fetch", Item: it, Reason: ErrMalformed, Detail: "source returned " + doc.Item.String()}
	}
	if err != nil {
		c.failed(it, OutcomeError, err)
		return nil, err
	}
	ne, err := check(doc, c.root, rootCRL)
	if err != nil {
		c.failed(it, OutcomeInvalid, err)
		return nil, err
	}
	ne.fetched = c.now()
	return c.store(ne, true)
}

// failed records a failed fetch: hooks, a retry with backoff for a cached item, and the
// failure itself for an item not cached.
func (c *Cache) failed(it Item, outcome string, err error) {
	c.mu.Lock()
	if c.entries[it] == nil {
		if c.misses == nil {
			c.misses = make(map[Item]miss)
		}
		c.misses[it] = miss{at: c.now(), err: err}
	}
	if st := c.state[it]; st != nil {
		st.failures++
		d := c.retry
		for i := 1; i < st.failures && d < c.interval; i++ {
			d *= 2
		}
		st.due = c.now().Add(jitter(min(d, c.interval)))
	}
	c.mu.Unlock()
	c.fetched(it, outcome)
	c.report(err)
}

// store makes ne the cached entry for its item unless it is the same document (the old entry
// is kept, with the new fetch time) or older than the cached one (ErrRollback). fromFetch is
// false for documents loaded from disk: they are not written back nor counted as fetches.
func (c *Cache) store(ne *entry, fromFetch bool) (*entry, error) {
	it, fetched := ne.item, ne.fetched // ne is not shared yet
	c.mu.Lock()
	cur := c.entries[it]
	switch {
	case cur != nil && sameDocument(cur.doc, ne.doc):
		cur.fetched = fetched
		c.scheduleLocked(cur, fromFetch)
		c.mu.Unlock()
		c.fetched(it, OutcomeUnchanged)
		c.itemHook(cur, fetched)
		return cur, nil
	case cur != nil && rollback(cur, ne):
		c.mu.Unlock()
		err := &Error{Op: "check", Item: it, URL: ne.doc.URL, Reason: ErrRollback}
		c.failed(it, OutcomeRollback, err)
		return nil, err
	}
	c.entries[it] = ne
	delete(c.misses, it)
	c.scheduleLocked(ne, fromFetch)
	c.mu.Unlock()
	if cur == nil {
		c.wake()
	}
	if fromFetch {
		c.fetched(it, OutcomeOK)
		c.save(ne, fetched)
	}
	c.itemHook(ne, fetched)
	return ne, nil
}

func (c *Cache) fetched(it Item, outcome string) {
	if c.hooks.OnFetch != nil {
		c.hooks.OnFetch(string(it.Kind), outcome)
	}
}

func (c *Cache) itemHook(e *entry, fetched time.Time) {
	if c.hooks.OnItem != nil {
		c.hooks.OnItem(string(e.item.Kind), e.item.Key(), fetched, e.next)
	}
}

func (c *Cache) report(err error) {
	if c.hooks.OnError != nil && err != nil {
		c.hooks.OnError(err)
	}
}
