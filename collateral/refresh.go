package collateral

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// scheduleLocked sets the next background refresh of a just stored or confirmed entry:
// RefreshInterval (less jitter) after its fetch, or RefreshInterval before its nextUpdate if
// that is earlier, but never sooner than RetryInterval from now. tried records a fetch
// attempt now (false for entries loaded from disk, which may be fetched at once).
func (c *Cache) scheduleLocked(e *entry, tried bool) {
	st := c.state[e.item]
	if st == nil {
		st = &itemState{}
		c.state[e.item] = st
	}
	now := c.now()
	st.failures = 0
	if tried {
		st.lastTry = now
	}
	due := e.fetched.Add(jitter(c.interval))
	if early := e.next.Add(-c.interval); early.Before(due) {
		due = early
	}
	if floor := now.Add(c.retry); tried && due.Before(floor) {
		due = floor
	}
	st.due = due
}

// jitter returns d shortened by a random 0–20 %.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d/5)+1))
}

// Run refreshes cached items in the background until ctx is done, then returns nil. Each item
// is fetched again RefreshInterval (with jitter) after its last fetch and RefreshInterval
// before its nextUpdate, whichever comes first; failures are retried with backoff from
// RetryInterval. A document that changed replaces the cached one once verified, and the next
// Collateral call returns a new bundle. Run also fetches the early bundles that
// CachedEarlyBundle found missing and, with early data kept for warnings only, those of the
// prefetched keys. Run is optional: without it, items are only fetched when missing or past
// their nextUpdate. Run's timers follow the real clock (or a synctest bubble's); use the
// default Config.Now with it.
func (c *Cache) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-c.kick:
		}
		c.refreshDue(ctx)
		c.fetchWanted(ctx)
		timer.Reset(c.untilNextDue())
	}
}

// refreshDue fetches every item whose refresh is due, the root CA CRL first.
func (c *Cache) refreshDue(ctx context.Context) {
	now := c.now()
	var due []Item
	c.mu.Lock()
	for it, st := range c.state {
		if !now.Before(st.due) {
			due = append(due, it)
		}
	}
	c.mu.Unlock()
	slices.SortFunc(due, func(a, b Item) int {
		return cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind))
	})
	for _, it := range due {
		if ctx.Err() != nil {
			return
		}
		_, _ = c.fetch(ctx, it) // failures are reported through the hooks and rescheduled
	}
}

func kindOrder(k ItemKind) int {
	switch k {
	case KindRootCRL:
		return 0
	case KindPCKCRL:
		return 1
	case KindTCBInfo:
		return 2
	}
	return 3
}

// untilNextDue returns the time until the earliest scheduled refresh (RefreshInterval if there
// is none; a new item wakes Run up earlier), at least minWait.
func (c *Cache) untilNextDue() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	wait := c.interval
	for _, st := range c.state {
		wait = min(wait, st.due.Sub(now))
	}
	return max(wait, minWait)
}

// minWait keeps Run from spinning should a refresh leave an item due.
const minWait = time.Second

// Prefetch loads the bundles of keys and remembers the keys for Status and Ready, whether or
// not they load. When early TCB data is kept for warnings only (Config.EarlyWarning with
// standard verdicts), the keys' early bundles are left to Run to fetch in the background:
// they never delay Prefetch, and their failures are reported through the hooks only.
func (c *Cache) Prefetch(ctx context.Context, keys ...pcs.Key) error {
	var errs []error
	for _, key := range keys {
		c.mu.Lock()
		c.keys[bundleKey{key, c.update}] = struct{}{}
		if c.warningsOnly() {
			ek := bundleKey{key, UpdateEarly}
			c.keys[ek] = struct{}{}
			c.wanted[ek] = struct{}{}
			c.wake()
		}
		c.mu.Unlock()
		if _, err := c.Collateral(ctx, key); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// KeyStatus describes the cached collateral of one platform key.
type KeyStatus struct {
	Key        pcs.Key
	Update     Update
	Loaded     bool      // every item of the bundle is cached (possibly past its nextUpdate)
	Missing    []Item    // items not cached
	Fetched    time.Time // oldest fetch time over the cached items
	NextUpdate time.Time // earliest nextUpdate over the cached items
}

// Status reports, for every key prefetched or served, which items are cached. The list is
// sorted by key and update.
func (c *Cache) Status() []KeyStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]KeyStatus, 0, len(c.keys))
	for bk := range c.keys {
		s := KeyStatus{Key: bk.key, Update: bk.update}
		for _, it := range Items(bk.key, bk.update) {
			e := c.entries[it]
			if e == nil {
				s.Missing = append(s.Missing, it)
				continue
			}
			if s.Fetched.IsZero() || e.fetched.Before(s.Fetched) {
				s.Fetched = e.fetched
			}
			if s.NextUpdate.IsZero() || e.next.Before(s.NextUpdate) {
				s.NextUpdate = e.next
			}
		}
		s.Loaded = len(s.Missing) == 0
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b KeyStatus) int {
		return cmp.Or(strings.Compare(a.Key.String(), b.Key.String()), strings.Compare(string(a.Update), string(b.Update)))
	})
	return out
}

// Ready returns nil if every key in Status is loaded, and otherwise an error naming the
// missing items (for a readiness probe). Early bundles kept for warnings only are not
// required: a server can verify without them.
func (c *Cache) Ready() error {
	var missing []string
	for _, s := range c.Status() {
		if s.Update == UpdateEarly && c.warningsOnly() {
			continue
		}
		for _, it := range s.Missing {
			missing = append(missing, s.Key.String()+": "+it.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("collateral: not loaded: %s", strings.Join(missing, ", "))
	}
	return nil
}
