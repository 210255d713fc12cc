package secrets

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Watcher holds the current [*Set] of a fixed map of specs and replaces it, as a whole, when
// the sources change: readers call [Watcher.Current] and always get one complete, consistent
// snapshot, never a mix of old and new values. A failed reload keeps the previous Set.
//
// It polls (see [Watcher.Run]) instead of using file notifications: polling every few seconds
// is cheap, needs no dependency, and follows kubelet's symlink swaps, which notifications on
// the key files themselves miss.
type Watcher struct {
	specs     map[string]Spec
	names     []string
	lookupEnv func(string) (string, bool)
	opts      []Option
	onReload  func(old, new *Set, err error)

	cur  atomic.Pointer[Set]
	mu   sync.Mutex // serializes reloads; guards last
	last []stamp    // the sources as of the Set in cur
}

// NewWatcher loads specs as [Load] does and returns a Watcher holding the result; it fails if
// that first load fails. lookupEnv is as for Load. onReload, if not nil, is called after every
// reload that installed a new Set (err nil) or failed (new nil, err the error; old stays
// current); a reload that finds the same versions installs nothing and calls nothing. It is
// called with reloads serialized, so it must not call [Watcher.Reload].
func NewWatcher(specs map[string]Spec, lookupEnv func(string) (string, bool), onReload func(old, new *Set, err error), opts ...Option) (*Watcher, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	w := &Watcher{
		specs:     maps.Clone(specs),
		names:     slices.Sorted(maps.Keys(specs)),
		lookupEnv: lookupEnv,
		opts:      slices.Clone(opts),
		onReload:  onReload,
	}
	w.last = w.stamps()
	set, err := Load(w.specs, lookupEnv, w.opts...)
	if err != nil {
		return nil, err
	}
	w.cur.Store(set)
	return w, nil
}

// Current returns the current Set. It never returns nil.
func (w *Watcher) Current() *Set { return w.cur.Load() }

// Reload loads every secret again now. On success the new Set replaces the current one (unless
// every version is unchanged); on failure the current Set stays and the error is returned.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reloadLocked(w.stamps())
}

// reloadLocked loads the specs; stamps is the state of the sources taken before loading, so
// that a change during the load is seen at the next poll.
func (w *Watcher) reloadLocked(stamps []stamp) error {
	old := w.cur.Load()
	next, err := Load(w.specs, w.lookupEnv, w.opts...)
	if err != nil {
		if w.onReload != nil {
			w.onReload(old, nil, err)
		}
		return err
	}
	w.last = stamps
	if sameContent(old, next) {
		return nil
	}
	w.cur.Store(next)
	if w.onReload != nil {
		w.onReload(old, next, nil)
	}
	return nil
}

// Run polls the file and directory sources every interval and reloads when one changed: its
// path after symbolic links (so a ..data swap), size or modification time. While a reload
// fails, every poll tries again (and reports to onReload). Environment and inline values are
// not polled; [Watcher.Reload] rereads them. Run returns nil when ctx is done, and an error at
// once if interval is not positive.
func (w *Watcher) Run(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return errors.New("secrets: watcher: interval must be positive")
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.poll()
		}
	}
}

func (w *Watcher) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	stamps := w.stamps()
	if slices.Equal(stamps, w.last) {
		return
	}
	_ = w.reloadLocked(stamps) // reported through onReload; the current Set stays
}

// stamp is the observable state of one file source.
type stamp struct {
	name  string
	path  string // the file after symbolic links; for Dir specs, with the ..data target
	size  int64
	mtime int64
	err   string
}

// stamps returns the state of every file and directory source, in name order.
func (w *Watcher) stamps() []stamp {
	var out []stamp
	snaps := map[string]snapshot{}
	for _, name := range w.names {
		spec := w.specs[name]
		var path string
		switch {
		case spec.File != "":
			path = spec.File
		case spec.Dir != "":
			snap, ok := snaps[spec.Dir]
			if !ok {
				var err error
				if snap, err = resolveSnapshot(spec.Dir); err != nil {
					out = append(out, stamp{name: name, err: err.Error()})
					continue
				}
				snaps[spec.Dir] = snap
			}
			path = filepath.Join(snap.path, spec.key(name))
		default:
			continue
		}
		out = append(out, statStamp(name, path))
	}
	return out
}

func statStamp(name, path string) stamp {
	s := stamp{name: name}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		s.err = err.Error()
		return s
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		s.err = err.Error()
		return s
	}
	s.path, s.size, s.mtime = resolved, fi.Size(), fi.ModTime().UnixNano()
	return s
}
