package e2etest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
)

// load runs client loops until stopped and records every attempt with the phases in which it
// started and ended. A test moves the phase when it changes the world (a fault, the clock, a
// killed replica); only attempts that started and ended in the same phase are held to that
// phase's expectation, those that straddle a change may have either outcome.
type load struct {
	phase   atomic.Int64
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	results []attempt
	stopped bool
}

type attempt struct {
	loop       int
	start, end int64
	res        *client.Result
	err        error
	took       time.Duration
}

// startLoad starts n loops calling do until stop (at the latest when the test ends).
func startLoad(t testing.TB, n int, do func(ctx context.Context, loop int) (*client.Result, error)) *load {
	l := &load{quit: make(chan struct{})}
	for i := range n {
		l.wg.Go(func() {
			for {
				select {
				case <-l.quit:
					return
				default:
				}
				a := attempt{loop: i, start: l.phase.Load()}
				t0 := time.Now()
				a.res, a.err = do(context.Background(), i)
				a.took, a.end = time.Since(t0), l.phase.Load()
				l.mu.Lock()
				l.results = append(l.results, a)
				l.mu.Unlock()
			}
		})
	}
	t.Cleanup(l.stop)
	return l
}

// stop lets every loop finish its attempt in progress (so that no connection is cut by the
// test itself) and waits for them.
func (l *load) stop() {
	l.mu.Lock()
	done := l.stopped
	l.stopped = true
	l.mu.Unlock()
	if !done {
		close(l.quit)
		l.wg.Wait()
	}
}

// next moves to the next phase and returns it.
func (l *load) next() int64 { return l.phase.Add(1) }

// in returns the attempts that started and ended in phase p.
func (l *load) in(p int64) []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []attempt
	for _, a := range l.results {
		if a.start == p && a.end == p {
			out = append(out, a)
		}
	}
	return out
}

// all returns every recorded attempt.
func (l *load) all() []attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]attempt(nil), l.results...)
}

// waitPhase waits until every loop has completed k attempts wholly inside phase p.
func (l *load) waitPhase(t testing.TB, loops int, p int64, k int) []attempt {
	t.Helper()
	simtest.WaitFor(t, 20*time.Second, "attempts in the phase", func() bool {
		per := make([]int, loops)
		for _, a := range l.in(p) {
			per[a.loop]++
		}
		for _, n := range per {
			if n < k {
				return false
			}
		}
		return true
	})
	return l.in(p)
}
