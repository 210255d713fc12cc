package client_test

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secretprov/secretprov/client"
)

func dialTimes(dials []dial) []time.Duration {
	out := make([]time.Duration, len(dials))
	for i, d := range dials {
		out[i] = d.at
	}
	return out
}

func secs(s ...float64) []time.Duration {
	out := make([]time.Duration, len(s))
	for i, v := range s {
		out[i] = time.Duration(v * float64(time.Second))
	}
	return out
}

// Two dead servers: each round tries both back to back, the pauses double up to Max, and the
// deadline ends Fetch exactly at Timeout with the last connection error.
func TestBackoffSchedule(t *testing.T) {
	cert := raTLSCert(t)
	synctest.Test(t, func(t *testing.T) {
		d := &pipeDialer{start: time.Now()}
		_, err := client.Fetch(t.Context(), client.Config{
			Servers: []string{"a.example:4433", "b.example:4433"}, Certificate: cert, Dialer: d,
			Timeout: 12 * time.Second,
			Backoff: client.Backoff{Initial: time.Second, Max: 4 * time.Second, Jitter: -1},
		})
		if got := time.Since(d.start); got != 12*time.Second {
			t.Errorf("gave up after %s, want 12s", got)
		}
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errRefused) {
			t.Errorf("Fetch error %v, want DeadlineExceeded and the last dial error", err)
		}
		want := secs(0, 0, 1, 1, 3, 3, 7, 7, 11, 11)
		if got := dialTimes(d.log()); !slices.Equal(got, want) {
			t.Errorf("dials at %v, want %v", got, want)
		}
		if got := d.log(); got[0].addr != "a.example:4433" || got[1].addr != "b.example:4433" {
			t.Errorf("servers tried in order %v", got[:2])
		}
	})
}

// With jitter every pause lies in [(1-Jitter)·d, d], and the pauses differ.
func TestBackoffJitter(t *testing.T) {
	cert := raTLSCert(t)
	synctest.Test(t, func(t *testing.T) {
		d := &pipeDialer{start: time.Now()}
		_, _ = client.Fetch(t.Context(), client.Config{
			Servers: []string{"a.example:4433"}, Certificate: cert, Dialer: d, Timeout: 30 * time.Second,
			Backoff: client.Backoff{Initial: time.Second, Max: time.Second, Jitter: 0.5},
		})
		at := dialTimes(d.log())
		if len(at) < 30 {
			t.Fatalf("only %d dials in 30s", len(at))
		}
		seen := map[time.Duration]bool{}
		for i := 1; i < len(at); i++ {
			p := at[i] - at[i-1]
			if p < 500*time.Millisecond || p > time.Second {
				t.Errorf("pause %s outside [500ms, 1s]", p)
			}
			seen[p] = true
		}
		if len(seen) < 2 {
			t.Errorf("no jitter: every pause is %v", at[1]-at[0])
		}
	})
}

// Transient refusals are retried with backoff; the third attempt succeeds.
func TestTransientRefusalBackoff(t *testing.T) {
	cert := raTLSCert(t)
	p := newPKI(t)
	synctest.Test(t, func(t *testing.T) {
		srv := &testServer{t: t, conf: newServerConfig(p.loopbackCert(t)), handle: sequence(
			refuse("collateral_unavailable"), refuse("collateral_unavailable"), grant(map[string]string{"default": "v"}))}
		d := &pipeDialer{start: time.Now(), srv: map[string]*testServer{"127.0.0.1:4433": srv}}
		res, err := client.Fetch(t.Context(), client.Config{
			Servers: []string{"127.0.0.1:4433"}, Roots: p.roots, Certificate: cert, Dialer: d,
			Backoff: client.Backoff{Initial: time.Second, Jitter: -1},
		})
		d.wg.Wait()
		if err != nil || res.Attempts != 3 {
			t.Fatalf("Fetch = %+v, %v; want success at attempt 3", res, err)
		}
		if got, want := dialTimes(d.log()), secs(0, 1, 3); !slices.Equal(got, want) {
			t.Errorf("dials at %v, want %v", got, want)
		}
	})
}

// A server that accepts and never answers costs AttemptTimeout, then the next server is tried.
func TestAttemptTimeout(t *testing.T) {
	cert := raTLSCert(t)
	p := newPKI(t)
	synctest.Test(t, func(t *testing.T) {
		good := &testServer{t: t, conf: newServerConfig(p.loopbackCert(t)), handle: grant(map[string]string{"default": "v"})}
		d := &pipeDialer{start: time.Now(), srv: map[string]*testServer{"127.0.0.1:2": good}, hang: "127.0.0.1:1"}
		res, err := client.Fetch(t.Context(), client.Config{
			Servers: []string{"127.0.0.1:1", "127.0.0.1:2"}, Roots: p.roots, Certificate: cert, Dialer: d,
			AttemptTimeout: 5 * time.Second,
		})
		d.wg.Wait()
		if err != nil || res.Server != "127.0.0.1:2" {
			t.Fatalf("Fetch = %+v, %v", res, err)
		}
		if got, want := dialTimes(d.log()), secs(0, 5); !slices.Equal(got, want) {
			t.Errorf("dials at %v, want %v", got, want)
		}
	})
}

// Cancelling the context during a pause ends Fetch at once.
func TestCancelDuringPause(t *testing.T) {
	cert := raTLSCert(t)
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		d := &pipeDialer{start: time.Now()}
		_, err := client.Fetch(ctx, client.Config{
			Servers: []string{"a.example:4433"}, Certificate: cert, Dialer: d,
			Backoff: client.Backoff{Initial: time.Second, Jitter: -1},
		})
		if got := time.Since(d.start); got != 1500*time.Millisecond {
			t.Errorf("returned after %s, want 1.5s", got)
		}
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errRefused) {
			t.Errorf("Fetch error %v", err)
		}
	})
}

// hangConn is the server side of a connection that is read and never answered.
func hangConn(c net.Conn) {
	defer c.Close()
	_, _ = io.Copy(io.Discard, c)
}
