package e2etest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
)

// TestCollateralOutageUnderLoad: the simulated PCS fails in every way it can (down, slow,
// garbage, bad signatures, cut connections) while three clients provision in a loop through
// the production path (collateral.Cache with its background refresh, verify.Verifier, server).
// Time is driven by a fake clock shared by the servers' verification time and the cache.
//
//   - Within the collateral's validity, provisioning goes on from the cache, at normal speed,
//     while the background refresh fails and is retried (fetch errors and invalid documents
//     are counted, never stored).
//   - Once the verification time passes nextUpdate, every enclave is refused with
//     collateral_expired (and only that reason).
//   - When the source comes back with new collateral, provisioning recovers by itself.
func TestCollateralOutageUnderLoad(t *testing.T) {
	const validity = 30 * 24 * time.Hour
	t0 := time.Now().UTC().Truncate(time.Second)
	clk := newClock(t0.Add(time.Hour))
	st := newStack(t, stackOptions{
		world: sim.Options{Now: t0, CollateralValidity: validity}, clock: clk,
		refresh: time.Second, retry: time.Minute, // fake-clock durations; Run wakes at least every second
	})
	st.prefetch(t)
	runCache(t, st.cache)
	sv := st.serve(t, serveOptions{limits: server.Limits{HandshakeTimeout: 3 * time.Second, IdleTimeout: time.Second}})
	cert := raTLS(t, st.enclave(t, pcs.StatusUpToDate))
	const loops = 3
	l := startLoad(t, loops, func(ctx context.Context, _ int) (*client.Result, error) {
		cfg := clientConfig(t, cert, sv.addr)
		cfg.Timeout = 3 * time.Second
		return fetch(ctx, cfg)
	})

	granted := func(phase string, as []attempt) {
		t.Helper()
		for _, a := range as {
			if a.err != nil || value(a.res, "default") != secretValue("default") {
				t.Errorf("%s: attempt failed: %v", phase, a.err)
			}
			if a.took > 1500*time.Millisecond {
				t.Errorf("%s: provisioning took %v: the collateral service is on the request path", phase, a.took)
			}
		}
	}
	granted("healthy", l.waitPhase(t, loops, 0, 2))

	outages := []struct {
		name  string
		fault sim.Fault
	}{
		{"down (503)", sim.Fault{Status: 503}},
		{"slow (2s per answer)", sim.Fault{Delay: 2 * time.Second}},
		{"garbage bodies", sim.Fault{Body: sim.BodyGarbage}},
		{"bad signatures", sim.Fault{BadSignature: true}},
		{"connections cut mid-body", sim.Fault{Body: sim.BodyTruncated}},
	}
	for _, o := range outages {
		st.faults.Set("/", o.fault)
		clk.Add(5 * 24 * time.Hour) // still within the validity: t0+1h+25d at the end
		before := st.faults.TotalRequests()
		p := l.next()
		simtest.WaitFor(t, 10*time.Second, "the background refresh to try the source", func() bool { return st.faults.TotalRequests() > before })
		granted(o.name, l.waitPhase(t, loops, p, 2))
	}
	for _, outcome := range []string{collateral.OutcomeError, collateral.OutcomeInvalid} {
		n := 0.0
		for _, item := range []string{"root_crl", "pck_crl", "tcb_info", "qe_identity"} {
			n += simtest.MetricValue(t, st.metrics.Registry(), "secretprov_collateral_fetches_total", map[string]string{"item": item, "outcome": outcome})
		}
		if n == 0 {
			t.Errorf("no collateral fetch counted with outcome %q during the outage", outcome)
		}
	}

	// Past nextUpdate, still down: refused, collateral_expired, final (not retried).
	st.faults.Set("/", sim.Fault{Status: 503})
	clk.Set(t0.Add(validity + time.Hour))
	p := l.next()
	for _, a := range l.waitPhase(t, loops, p, 2) {
		if re, ok := errors.AsType[*client.RefusedError](a.err); !ok || re.Reason != "collateral_expired" {
			t.Errorf("expired collateral: %v, want refusal collateral_expired", a.err)
		}
	}

	// The source returns with new collateral; a minute later (the retry interval) the next
	// request fetches it, or the background refresh does.
	must(t, st.w.Reissue(t0.Add(validity), validity))
	st.faults.ClearAll()
	clk.Add(2 * time.Minute)
	p = l.next()
	simtest.WaitFor(t, 10*time.Second, "provisioning to recover", func() bool {
		for _, a := range l.in(p) {
			if a.err == nil {
				return true
			}
		}
		return false
	})
	granted("recovered", l.waitPhase(t, loops, l.next(), 2))
	l.stop()
	sv.stop()

	expired := 0
	for _, r := range sv.records(t) {
		switch {
		case r.Decision == server.DecisionGranted:
		case r.Decision == server.DecisionRefused && r.Reason == "collateral_expired" && r.CollateralExpired:
			expired++
		default:
			t.Errorf("audit record %s/%s (collateral_expired=%v): want granted or refused/collateral_expired",
				r.Decision, r.Reason, r.CollateralExpired)
		}
	}
	if expired == 0 {
		t.Error("no collateral_expired refusal audited")
	}
}

// runCache runs the cache's background refresh until the test ends.
func runCache(t testing.TB, c *collateral.Cache) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cache.Run: %v", err)
		}
	})
}

// must fails the test on an error (forge calls).
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("sim: %v", err)
	}
}
