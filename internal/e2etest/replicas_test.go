package e2etest

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/server"
)

// TestReplicaKilledUnderLoad: three replicas, three client loops each with the whole server list
// (in a different order); one replica is killed in the middle of the load (its listener closed
// and its connections in flight cut after 1ms). No provisioning fails: an attempt that hit the
// dead replica moves on to the next server.
func TestReplicaKilledUnderLoad(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.prefetch(t)
	kill := server.Limits{DrainTimeout: time.Millisecond}
	replicas := []*served{st.serve(t, serveOptions{limits: kill}), st.serve(t, serveOptions{}), st.serve(t, serveOptions{})}
	addrs := []string{replicas[0].addr, replicas[1].addr, replicas[2].addr}
	cert := raTLS(t, st.enclave(t, pcs.StatusUpToDate))
	const loops = 3
	l := startLoad(t, loops, func(ctx context.Context, loop int) (*client.Result, error) {
		order := append(slices.Clone(addrs[loop:]), addrs[:loop]...) // loop 0 starts with the victim
		return fetch(ctx, clientConfig(t, cert, order...))
	})
	l.waitPhase(t, loops, 0, 3)
	p := l.next()
	replicas[0].stop()
	after := l.waitPhase(t, loops, p, 3)
	l.stop()

	for _, a := range l.all() {
		if a.err != nil || value(a.res, "default") != secretValue("default") {
			t.Errorf("loop %d, phase %d: provisioning lost: %v", a.loop, a.start, a.err)
		}
	}
	failedOver := false
	for _, a := range after {
		if a.res.Server == addrs[0] {
			t.Errorf("served by the killed replica after it was killed")
		}
		if a.loop == 0 && a.res.Attempts > 1 {
			failedOver = true
		}
	}
	if !failedOver {
		t.Error("the loop that lists the killed replica first never moved on to another server")
	}
	if len(replicas[0].records(t)) == 0 {
		t.Error("the killed replica served nothing before it was killed")
	}
}

// TestGracefulShutdownUnderLoad: Serve's context is cancelled (what SIGTERM does) while client
// loops provision and while some clients sit between their handshake and their request. Every
// connection whose handshake completed gets its secret; Serve returns only after the last of
// them, and new connections are refused.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.prefetch(t)
	sv := st.serve(t, serveOptions{limits: server.Limits{IdleTimeout: 10 * time.Second, DrainTimeout: 15 * time.Second}})
	cert := raTLS(t, st.enclave(t, pcs.StatusUpToDate))
	req := namedRequest(t, "default")

	// In flight at the moment of the shutdown: handshake done, request not sent yet.
	const parked = 4
	var wg sync.WaitGroup
	shutdown := make(chan struct{})
	parkedDone := make(chan time.Time, parked) // when each sent its request
	for range parked {
		c, err := dialTLS(t, sv.addr, cert, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Time{}) // parked for as long as the load takes to start
		wg.Go(func() {
			defer c.Close()
			<-shutdown
			time.Sleep(200 * time.Millisecond) // well into the drain
			parkedDone <- time.Now()
			_, err := c.Write(req)
			r := readToEnd(c, 5*time.Second)
			if err != nil || namedValue(r.got) != secretValue("default") {
				t.Errorf("a client in flight at the shutdown lost its secret (write %v)", err)
			} else {
				capture.delivered.Add(1)
			}
		})
	}

	// Loops that open new sessions all along: each records whether its handshake completed and
	// whether it then got its secret.
	type rawAttempt struct{ handshake, secret bool }
	var mu sync.Mutex
	var raw []rawAttempt
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				c, err := dialTLS(t, sv.addr, cert, nil)
				a := rawAttempt{handshake: err == nil}
				if err == nil {
					time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
					_, _ = c.Write(req)
					a.secret = namedValue(readToEnd(c, 5*time.Second).got) == secretValue("default")
					c.Close()
				}
				mu.Lock()
				raw = append(raw, a)
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	simtest.WaitFor(t, 10*time.Second, "load", func() bool { mu.Lock(); defer mu.Unlock(); return len(raw) >= 6 })

	close(shutdown)
	stopped := make(chan time.Time, 1)
	go func() { sv.stop(); stopped <- time.Now() }()
	var serveReturned time.Time
	select {
	case serveReturned = <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return")
	}
	cancel()
	wg.Wait()
	close(parkedDone)
	for sent := range parkedDone {
		if sent.After(serveReturned) {
			t.Error("Serve returned before a client in flight had even sent its request")
		}
	}
	handshakes := 0
	for _, a := range raw {
		if a.handshake {
			handshakes++
			if !a.secret {
				t.Error("a connection whose handshake completed did not get its secret")
			}
		}
	}
	if handshakes < 6 {
		t.Errorf("only %d handshakes: the load did not run", handshakes)
	}
	capture.delivered.Add(int64(handshakes))
	if _, err := dialTLS(t, sv.addr, cert, nil); err == nil {
		t.Error("a new connection was accepted after the shutdown")
	}
}
