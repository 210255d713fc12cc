package e2etest

import (
	"context"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/server"
)

// floodSize is how many stalled connections the flood opens: 2000, or fewer when the open-file
// limit cannot hold both ends of each (plus room for everything else).
func floodSize(t testing.TB) int {
	n := 2000
	if lim := openFileLimit(); uint64(2*n+512) > lim {
		n = int(lim-512) / 2
		t.Logf("open-file limit %d: flooding with %d connections", lim, n)
	}
	if n < 200 {
		t.Skip("open-file limit too low for a connection flood")
	}
	return n
}

// stalled is a set of connections that send nothing.
type stalled struct {
	mu    sync.Mutex
	conns []net.Conn
}

// close closes the connections and forgets them (so that the test does not hold their memory).
func (s *stalled) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	s.conns = nil
}

// flood opens n TCP connections to addr from local address from ("" = any) that complete the TCP
// handshake and then send nothing. They are closed when the test ends at the latest.
func flood(t testing.TB, addr, from string, n int) *stalled {
	t.Helper()
	conns := make([]net.Conn, n)
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	s := &stalled{conns: conns}
	t.Cleanup(s.close)
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("flood: %v", err)
	}
	return s
}

type memSample struct {
	heap       uint64 // bytes in use
	objects    uint64 // live heap objects
	goroutines int
}

// sample measures the heap in use after a collection, less what the test's own captures (the
// log and audit buffers, which grow with every connection) hold.
func sample() memSample {
	runtime.GC()
	runtime.GC() // and what sync.Pools kept for one more cycle
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	own := uint64(capture.logs.Cap() + capture.audit.Cap() + capture.errs.Cap())
	return memSample{heap: ms.HeapInuse - min(own, ms.HeapInuse), objects: ms.HeapObjects, goroutines: runtime.NumGoroutine()}
}

// TestStalledConnectionFlood: thousands of connections complete the TCP handshake and then send
// nothing. A legitimate client is served within its deadline in each configuration:
//
//   - capacity above the flood (max_connections larger than the flood): the stalled
//     connections hold a slot each, and the legitimate client is served at once, next to them,
//     before any of them is cut;
//   - flood above capacity (all from 127.0.0.1, per-IP limit no help): the connections over
//     max_connections are closed at once, the client's first attempts are too, and it is
//     served, retrying, once the handshake timeout has cut the stalled ones;
//   - flood from another address: the per-IP limit caps what it holds, the legitimate client
//     from 127.0.0.1 is served at once.
//
// Memory: heap growth per stalled connection is bounded (no buffer before the request), and
// heap and goroutines return to their baseline when the flood is gone.
func TestStalledConnectionFlood(t *testing.T) {
	n := floodSize(t)
	st := newStack(t, stackOptions{})
	st.prefetch(t)
	cert := raTLS(t, st.enclave(t, pcs.StatusUpToDate))
	legit := func(t *testing.T, addr string, deadline time.Duration) (time.Duration, int) {
		t.Helper()
		cfg := clientConfig(t, cert, addr)
		cfg.Timeout, cfg.AttemptTimeout = deadline, deadline
		cfg.Backoff.Initial, cfg.Backoff.Max = 50*time.Millisecond, 200*time.Millisecond
		t0 := time.Now()
		res, err := fetch(context.Background(), cfg)
		if err != nil || value(res, "default") != secretValue("default") {
			t.Fatalf("legitimate client during the flood: %v", err)
		}
		return time.Since(t0), res.Attempts
	}

	t.Run("capacity above the flood", func(t *testing.T) {
		const handshake = 5 * time.Second
		sv := st.serve(t, serveOptions{limits: server.Limits{
			MaxConnections: n + 100, MaxConnectionsPerIP: n + 100, HandshakeTimeout: handshake, DrainTimeout: time.Second,
		}})
		base := sample()
		var peak memSample
		var after [3]memSample
		// Three floods: the first warms the runtime's caches (goroutine descriptors, poll
		// descriptors); the next ones must leave nothing more behind.
		for round := range after {
			start := time.Now()
			conns := flood(t, sv.addr, "", n)
			simtest.WaitFor(t, 10*time.Second, "the flood to be accepted", func() bool { return sv.srv.OpenConnections() == n })
			if round == 0 {
				peak = sample()
			}
			took, _ := legit(t, sv.addr, 2*time.Second)
			if elapsed := time.Since(start); elapsed >= handshake || rejected(t, sv.metrics, "timeout") != 0 {
				t.Fatalf("stalled connections were cut (after %v) before the legitimate client was served", elapsed)
			}
			t.Logf("round %d: %d stalled connections, legitimate client served in %v", round, n, took.Round(time.Millisecond))
			conns.close()
			simtest.WaitFor(t, 10*time.Second, "the server to let go of the flood", func() bool { return sv.srv.OpenConnections() == 0 })
			after[round] = sample()
		}
		sv.stop()
		last := after[len(after)-1]
		perConn := int64(peak.heap-base.heap) / int64(n)
		t.Logf("heap %d KiB → %d KiB with the flood (%d B per connection) → %d KiB after it, %d KiB after two more; "+
			"live objects %d → %d → %d; goroutines %d → %d → %d",
			base.heap>>10, peak.heap>>10, perConn, after[0].heap>>10, last.heap>>10,
			after[0].objects, after[1].objects, last.objects, base.goroutines, peak.goroutines, last.goroutines)
		if perConn > 64<<10 {
			t.Errorf("%d bytes of heap per stalled connection, want at most 64 KiB", perConn)
		}
		// Retaining one object per eight connections would add n/4 objects over two floods; the
		// noise after two collections is around a hundred objects.
		if last.objects > after[0].objects+uint64(n/4) {
			t.Errorf("two more floods of %d connections left %d more live objects behind", n, last.objects-after[0].objects)
		}
		if last.heap > base.heap+16<<20 {
			t.Errorf("heap after the floods %d KiB, baseline %d KiB", last.heap>>10, base.heap>>10)
		}
		if last.goroutines > base.goroutines+10 {
			t.Errorf("%d goroutines after the floods, %d before", last.goroutines, base.goroutines)
		}
	})

	t.Run("flood above capacity", func(t *testing.T) {
		const handshake = 2500 * time.Millisecond
		capacity := n / 2
		sv := st.serve(t, serveOptions{limits: server.Limits{
			MaxConnections: capacity, MaxConnectionsPerIP: n, HandshakeTimeout: handshake, DrainTimeout: time.Second,
		}})
		flood(t, sv.addr, "", n)
		simtest.WaitFor(t, 10*time.Second, "every flood connection to be held or closed", func() bool {
			return sv.srv.OpenConnections()+int(rejected(t, sv.metrics, "limit")+rejected(t, sv.metrics, "timeout")) == n
		})
		full := rejected(t, sv.metrics, "timeout") == 0 // no stalled connection cut yet
		took, attempts := legit(t, sv.addr, 3*handshake)
		t.Logf("%d stalled connections over a capacity of %d: legitimate client served in %v after %d attempts",
			n, capacity, took.Round(time.Millisecond), attempts)
		if full && attempts < 2 {
			t.Errorf("served at the first attempt although the server was full")
		}
		simtest.WaitFor(t, handshake+5*time.Second, "the handshake timeout to cut the flood", func() bool {
			return rejected(t, sv.metrics, "timeout") == float64(capacity)
		})
	})

	t.Run("flood from another address", func(t *testing.T) {
		probe, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)})
		if err != nil {
			t.Skipf("127.0.0.2 is not a local address here: %v", err)
		}
		probe.Close()
		const perIP = 64
		sv := st.serve(t, serveOptions{limits: server.Limits{
			MaxConnections: n + 100, MaxConnectionsPerIP: perIP, HandshakeTimeout: 4 * time.Second, DrainTimeout: time.Second,
		}})
		flood(t, sv.addr, "127.0.0.2", n)
		simtest.WaitFor(t, 10*time.Second, "the flood to be capped", func() bool {
			return sv.srv.OpenConnections() == perIP && rejected(t, sv.metrics, "limit") >= float64(n-perIP)
		})
		took, _ := legit(t, sv.addr, 2*time.Second)
		t.Logf("%d stalled connections from 127.0.0.2 (per-IP limit %d): legitimate client from 127.0.0.1 served in %v", n, perIP, took.Round(time.Millisecond))
	})
}
