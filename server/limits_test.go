package server

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	l := newLimiter(3, 2)
	if !l.acquire("a") || !l.acquire("a") {
		t.Fatal("first two from a refused")
	}
	if l.acquire("a") {
		t.Error("third from a accepted (per-IP limit 2)")
	}
	if !l.acquire("b") {
		t.Fatal("b refused")
	}
	if l.acquire("c") {
		t.Error("fourth connection accepted (global limit 3)")
	}
	l.release("a")
	if !l.acquire("c") {
		t.Error("c refused after a released")
	}
	for _, k := range []string{"a", "b", "c"} {
		l.release(k)
	}
	if n, total := l.addresses(), l.total.Load(); n != 0 || total != 0 {
		t.Errorf("after releasing all: %d addresses tracked, total %d; want 0, 0", n, total)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	l := newLimiter(1000, 10)
	var wg sync.WaitGroup
	var mu sync.Mutex
	held := map[string]int{}
	for i := range 200 {
		wg.Go(func() {
			key := fmt.Sprintf("10.0.0.%d", i%5)
			if l.acquire(key) {
				mu.Lock()
				held[key]++
				if held[key] > 10 {
					t.Errorf("%s holds %d slots", key, held[key])
				}
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				held[key]--
				mu.Unlock()
				l.release(key)
			}
		})
	}
	wg.Wait()
	if l.addresses() != 0 || l.total.Load() != 0 {
		t.Errorf("leaked: %d addresses, total %d", l.addresses(), l.total.Load())
	}
}

func TestPeerKey(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 1}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 2}, "192.0.2.1"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 3, Zone: "eth0"}, "fe80::1"},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, "/run/x.sock"},
	}
	for _, tt := range tests {
		if got := peerKey(tt.addr); got != tt.want {
			t.Errorf("peerKey(%v) = %q, want %q", tt.addr, got, tt.want)
		}
	}
}

// TestPerIPLimit: the connection over the per-address limit is closed at once; after one
// closes, a client is served again.
func TestPerIPLimit(t *testing.T) {
	e := start(t, envOptions{limits: Limits{MaxConnectionsPerIP: 2}})
	idle := make([]net.Conn, 2)
	for i := range idle {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle[i] = c
	}
	waitFor(t, "two open connections", func() bool { return e.srv.OpenConnections() == 2 })

	third, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	_ = third.SetReadDeadline(time.Now().Add(2 * time.Second)) // well below the 10s handshake timeout
	if _, err := third.Read(make([]byte, 1)); err == nil || !isClosed(err) {
		t.Fatalf("connection over the limit: read %v, want closed by the server", err)
	}
	waitCounter(t, e.metrics, "secretprov_connections_rejected_total", map[string]string{"cause": "limit"}, 1)

	idle[0].Close()
	waitFor(t, "a slot to free", func() bool { return e.srv.OpenConnections() == 1 })
	if got := v1Secret(t, e.addr, goodCert(t)); string(got) != secretDefault {
		t.Errorf("after a slot freed: secret %q", got)
	}
}

// TestSilentAndSlowClientsCut: a client that never sends, or sends one byte at a time, is cut at
// its deadline while a legitimate client is served meanwhile.
func TestSilentAndSlowClientsCut(t *testing.T) {
	// The idle timeout is what cuts these clients; the handshake timeout also bounds the RA-TLS
	// verification, which under the race detector on a loaded machine can take over a second, so
	// it is generous (a silent TCP client is cut by it).
	const timeout = 300 * time.Millisecond
	const handshake = 3 * time.Second
	e := start(t, envOptions{limits: Limits{HandshakeTimeout: handshake, IdleTimeout: timeout}})
	cert := goodCert(t)

	silentTCP, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silentTCP.Close()
	silentTLS := dial(t, e.addr, cert) // handshake done, request never sent
	defer silentTLS.Close()
	slow := dial(t, e.addr, cert)
	defer slow.Close()

	t0 := time.Now()
	var wg sync.WaitGroup
	cut := make(map[string]time.Duration)
	var mu sync.Mutex
	wait := func(name string, c net.Conn) {
		wg.Go(func() {
			readAll(c)
			mu.Lock()
			cut[name] = time.Since(t0)
			mu.Unlock()
		})
	}
	wait("silent tcp", silentTCP)
	wait("silent tls", silentTLS)
	wg.Go(func() { // 1 byte every 50ms: the 35-byte request would take 1.75s
		req := []byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\x00")
		for i := range req {
			if _, err := slow.Write(req[i : i+1]); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
	wait("slow", slow)

	if got := v1Secret(t, e.addr, cert); string(got) != secretDefault {
		t.Errorf("legitimate client meanwhile: %q", got)
	}
	wg.Wait()
	for name, d := range cut {
		limit := timeout
		if name == "silent tcp" {
			limit = handshake
		}
		if d > limit+time.Second {
			t.Errorf("%s cut after %v, want about %v", name, d, limit)
		}
	}
	waitCounter(t, e.metrics, "secretprov_connections_rejected_total", map[string]string{"cause": "timeout"}, 3)
	var timeouts int
	for _, r := range e.waitRecords(t, 3) {
		if r.Decision == DecisionError && r.Reason == reasonRequestTimeout && r.Workload == "demo" {
			timeouts++
		}
	}
	if timeouts != 2 {
		t.Errorf("want 2 request_timeout records:\n%s", e.audit.String())
	}
}

// TestGracefulShutdown: after cancel, new connections are refused, the one in flight still gets
// its secret, and Serve returns nil once it is done.
func TestGracefulShutdown(t *testing.T) {
	e := start(t, envOptions{})
	c := dial(t, e.addr, goodCert(t))
	defer c.Close()
	waitFor(t, "the connection", func() bool { return e.srv.OpenConnections() == 1 })
	e.cancel()
	waitFor(t, "the listener to close", func() bool {
		nc, err := net.DialTimeout("tcp", e.addr, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})
	select {
	case err := <-e.done:
		t.Fatalf("Serve returned %v with a connection in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	got := v1Raw(t, c)
	if string(got[41:]) != secretDefault {
		t.Errorf("in-flight client got %q", got)
	}
	_ = c.CloseWrite()
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last connection")
	}
}

// TestDrainTimeout: a connection still open when the drain timeout passes is closed.
func TestDrainTimeout(t *testing.T) {
	e := start(t, envOptions{limits: Limits{DrainTimeout: 200 * time.Millisecond}})
	c := dial(t, e.addr, goodCert(t)) // never sends; idle timeout 30s
	defer c.Close()
	waitFor(t, "the connection", func() bool { return e.srv.OpenConnections() == 1 })
	t0 := time.Now()
	e.cancel()
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		e.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return at the drain timeout")
	}
	if d := time.Since(t0); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("Serve returned after %v, want about the 200ms drain timeout", d)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after the drain timeout")
	}
}

// TestServeListenerError: a listener that fails for good ends Serve with its error.
func TestServeListenerError(t *testing.T) {
	srv := newTestServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	time.Sleep(20 * time.Millisecond)
	ln.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve returned nil after its listener was closed under it")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}
