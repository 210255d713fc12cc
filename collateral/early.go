package collateral

import (
	"context"
	"errors"

	"github.com/secretprov/secretprov/pcs"
)

var errEarlyOff = errors.New("collateral: early TCB data not configured (Config.EarlyWarning)")

// CachedEarlyBundle is EarlyBundle for a caller that must not wait, such as a provisioning
// server warning about the next TCB recovery: it never does I/O. If every document of key's
// early bundle is cached it returns the bundle, even when a document is past its nextUpdate
// (Run refreshes them; the verifier flags the age). Otherwise it returns an *Error with Reason
// ErrNotCached naming a missing document, and asks Run to fetch the bundle in the background,
// so that a later call finds it; a failed fetch is reported through Hooks and not tried
// again within the retry delay of missing documents. Without Run nothing is fetched. It fails
// unless Config.EarlyWarning (or Update early) is set.
func (c *Cache) CachedEarlyBundle(key pcs.Key) (*pcs.Bundle, error) {
	if !c.early {
		return nil, errEarlyOff
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	items := Items(key, UpdateEarly)
	bk := bundleKey{key, UpdateEarly}
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts [4]*entry
	for i, it := range items {
		if parts[i] = c.entries[it]; parts[i] == nil {
			c.wanted[bk] = struct{}{}
			c.wake()
			return nil, &Error{Op: "lookup", Item: it, Reason: ErrNotCached}
		}
	}
	return c.assembleLocked(bk, parts), nil
}

// warningsOnly reports whether early TCB data is kept for warnings only (Config.EarlyWarning
// with standard verdicts): then it never holds up Prefetch or readiness.
func (c *Cache) warningsOnly() bool { return c.early && c.update != UpdateEarly }

// wake makes Run look at its work at once (new items to schedule, wanted bundles). It never
// blocks, so it may be called with c.mu held.
func (c *Cache) wake() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// fetchWanted fetches the bundles asked for by CachedEarlyBundle and Prefetch, one after the
// other. Failures are reported through the hooks; a bundle still missing is asked for again by
// its next CachedEarlyBundle call.
func (c *Cache) fetchWanted(ctx context.Context) {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = map[bundleKey]struct{}{}
	c.mu.Unlock()
	for bk := range wanted {
		if ctx.Err() != nil {
			return
		}
		_, _ = c.bundle(ctx, bk.key, bk.update) // failures are reported through the hooks
	}
}
