package server

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// earlySetup is the early verifier of a TestEarlyTCBWarning case.
type earlySetup int

const (
	noEarlyVerifier earlySetup = iota
	earlyFromWorld             // sim.EarlySource: the world's early TCB data
	earlyNotCached             // sim.EarlySource without data, as collateral.Cache.CachedEarlyBundle before its first fetch
)

// earlyRecovery gives w's SGX platforms early TCB data announcing a TCB recovery, until the test
// ends: a new top level is UpToDate and the level of today's UpToDate platforms becomes dropTo,
// with the new advisory INTEL-SA-99999 (sim.RecoveryLevels). The standard data is unchanged.
func earlyRecovery(t *testing.T, w *sim.World, dropTo pcs.TCBStatus) {
	t.Helper()
	std, err := w.TCBInfo(quote.TEESGX)
	simtest.Must(t, err)
	if std.Levels[0].Status != pcs.StatusUpToDate {
		t.Fatalf("the world's first SGX level is %s, want UpToDate", std.Levels[0].Status)
	}
	simtest.Must(t, w.SetEarlyTCBLevels(quote.TEESGX, sim.RecoveryLevels(std.Levels, dropTo, "INTEL-SA-99999")))
	t.Cleanup(func() { simtest.Must(t, w.SetEarlyTCBLevels(quote.TEESGX, nil)) })
}

// TestEarlyTCBWarning: with an early verifier, a granted peer whose platform drops under Intel's
// early TCB data is still provisioned, and counted and logged as a TCB recovery warning; a
// platform that does not drop, missing early data, a refused peer or no early verifier give no
// warning and change nothing.
func TestEarlyTCBWarning(t *testing.T) {
	w := world(t)
	tests := []struct {
		name        string
		early       earlySetup    // the early verifier
		dropTo      pcs.TCBStatus // the early data's status of today's UpToDate level
		status      pcs.TCBStatus // the platform's status under the standard data
		wantGranted bool
		wantCheck   string        // Hooks.EarlyTCBCheck result; "": no check
		wantEarly   pcs.TCBStatus // the warning's early status; "": no warning
	}{
		{"drops to OutOfDate", earlyFromWorld, pcs.StatusOutOfDate, pcs.StatusUpToDate, true, earlyWorse, pcs.StatusOutOfDate},
		{"drops to Revoked", earlyFromWorld, pcs.StatusRevoked, pcs.StatusUpToDate, true, earlyWorse, pcs.StatusRevoked},
		{"same status under both", earlyFromWorld, pcs.StatusOutOfDate, pcs.StatusSWHardeningNeeded, true, earlyNotWorse, ""},
		{"early data unavailable", earlyNotCached, pcs.StatusOutOfDate, pcs.StatusUpToDate, true, earlyUnavailable, ""},
		{"refused peer is not checked", earlyFromWorld, pcs.StatusOutOfDate, pcs.StatusOutOfDate, false, "", ""},
		{"no early verifier", noEarlyVerifier, pcs.StatusOutOfDate, pcs.StatusUpToDate, true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			earlyRecovery(t, w, tc.dropTo)
			o := envOptions{logs: &simtest.LogBuffer{}}
			if tc.early != noEarlyVerifier {
				src := sim.EarlySource{World: w, Unavailable: tc.early == earlyNotCached}
				v, err := verify.New(src, verify.WithRoot(w.Root()))
				if err != nil {
					t.Fatal(err)
				}
				o.early = v
			}
			e := start(t, o)
			p := simtest.Platform(t, w, quote.TEESGX, tc.status)
			entries, err := named(t, e.addr, certFrom(t, p.Enclave(sim.DefaultIdentity())), "default")
			if granted := err == nil && entries[0].Status == wire.StatusFound; granted != tc.wantGranted {
				t.Fatalf("granted = %v (%v), want %v", granted, err, tc.wantGranted)
			}
			waitFor(t, "the connection's end", func() bool { return len(e.records(t)) == 1 && e.srv.OpenConnections() == 0 })

			wantChecks := map[string]float64{}
			if tc.wantCheck != "" {
				wantChecks[tc.wantCheck] = 1
			}
			if got := countsByResult(t, e, "secretprov_tcb_early_checks_total"); !maps.Equal(got, wantChecks) {
				t.Errorf("secretprov_tcb_early_checks_total by result %v, want %v", got, wantChecks)
			}
			wantWarnings := 0.0
			if tc.wantEarly != "" {
				wantWarnings = 1
			}
			labels := map[string]string{"tee": "sgx", "status": string(tc.status), "early_status": string(tc.wantEarly)}
			if got := counter(t, e.metrics, "secretprov_tcb_recovery_warnings_total", labels); got != wantWarnings {
				t.Errorf("secretprov_tcb_recovery_warnings_total%v = %v, want %v", labels, got, wantWarnings)
			}
			warnings := warningLines(o.logs)
			if tc.wantEarly == "" {
				if len(warnings) != 0 {
					t.Errorf("warning log lines %v, want none", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("warning log lines %v, want one", warnings)
			}
			l := warnings[0]
			want := map[string]any{keyWorkload: "demo", keyTEE: "sgx", keyFMSPC: p.Key().FMSPC.String(),
				keyStatus: string(tc.status), keyEarly: string(tc.wantEarly), keyWarnings: 1.0, "level": "WARN"}
			for k, v := range want {
				if l[k] != v {
					t.Errorf("warning %s = %v, want %v", k, l[k], v)
				}
			}
			if ids, _ := l[keyEarlyIDs].([]any); !slices.Contains(ids, any("INTEL-SA-99999")) {
				t.Errorf("warning %s = %v, want the new advisory", keyEarlyIDs, l[keyEarlyIDs])
			}
		})
	}
}

// TestEarlyWarningLogRateLimited: every granted peer on an affected platform counts, but the
// platform's warning line is written once per EarlyWarningLogInterval.
func TestEarlyWarningLogRateLimited(t *testing.T) {
	w := world(t)
	earlyRecovery(t, w, pcs.StatusOutOfDate)
	v, err := verify.New(sim.EarlySource{World: w}, verify.WithRoot(w.Root()))
	simtest.Must(t, err)
	o := envOptions{logs: &simtest.LogBuffer{}, early: v}
	e := start(t, o)
	p := simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate)
	const peers = 3
	for i := range peers {
		if _, err := named(t, e.addr, certFrom(t, p.Enclave(sim.DefaultIdentity())), "default"); err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		waitFor(t, "the connection's end", func() bool { return len(e.records(t)) == i+1 && e.srv.OpenConnections() == 0 })
	}
	labels := map[string]string{"tee": "sgx", "status": "UpToDate", "early_status": "OutOfDate"}
	if got := counter(t, e.metrics, "secretprov_tcb_recovery_warnings_total", labels); got != peers {
		t.Errorf("secretprov_tcb_recovery_warnings_total = %v, want %d", got, peers)
	}
	if lines := warningLines(o.logs); len(lines) != 1 {
		t.Errorf("%d warning lines, want 1: %v", len(lines), lines)
	}
}

// TestWarnLogDue: which warnings of one platform are logged, and how many each line stands for.
func TestWarnLogDue(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	a := warnKey{tee: "sgx", fmspc: "00A067110000", workload: "demo", status: pcs.StatusUpToDate, early: pcs.StatusOutOfDate}
	b := a
	b.workload = "other"
	type step struct {
		key    warnKey
		at     time.Duration // after t0
		logged bool
		n      int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first is logged", []step{{a, 0, true, 1}}},
		{"repeats within the interval are counted, not logged", []step{
			{a, 0, true, 1}, {a, time.Minute, false, 0}, {a, 59 * time.Minute, false, 0},
			{a, time.Hour, true, 3}, {a, time.Hour + time.Second, false, 0}}},
		{"keys are separate", []step{{a, 0, true, 1}, {b, time.Second, true, 1}, {a, 2 * time.Second, false, 0}}},
		{"a clock that goes back logs", []step{{a, time.Hour, true, 1}, {a, 0, true, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w warnLog
			for i, s := range tc.steps {
				n, logged := w.due(s.key, t0.Add(s.at))
				if logged != s.logged || n != s.n {
					t.Errorf("step %d: due = %d, %v; want %d, %v", i, n, logged, s.n, s.logged)
				}
			}
		})
	}
}

// TestWarnLogBounded: the log remembers at most maxWarned keys, dropping old ones first.
func TestWarnLogBounded(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	var w warnLog
	key := func(i int) warnKey { return warnKey{tee: "sgx", fmspc: strconv.Itoa(i)} }
	for i := range maxWarned {
		w.due(key(i), t0)
	}
	recent := t0.Add(EarlyWarningLogInterval)
	w.due(key(0), recent) // logged again: no longer old
	w.due(key(maxWarned), recent)
	if len(w.keys) != 2 {
		t.Errorf("after pruning, %d keys remembered, want the 2 logged within the interval", len(w.keys))
	}
	for i := range 2 * maxWarned {
		w.due(key(maxWarned+1+i), recent)
	}
	if len(w.keys) > maxWarned {
		t.Errorf("%d keys remembered, want at most %d", len(w.keys), maxWarned)
	}
}

// countsByResult returns the values of a counter by its "result" label.
func countsByResult(t *testing.T, e *env, name string) map[string]float64 {
	t.Helper()
	mfs, err := e.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					out[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	return out
}

// warningLines returns the TCB recovery warnings among the log lines.
func warningLines(logs *simtest.LogBuffer) []map[string]any {
	var out []map[string]any
	for _, l := range logs.Objects() {
		if _, ok := l[keyEarly]; ok || l["msg"] == msgTCBRecoveryWarning {
			out = append(out, l)
		}
	}
	return out
}

// TestEarlyOutcome: the comparison of statuses behind the warning.
func TestEarlyOutcome(t *testing.T) {
	unavailable := &verify.Error{Reason: verify.ReasonCollateralUnavailable}
	tests := []struct {
		name  string
		now   pcs.TCBStatus
		early *verify.Result
		err   error
		want  string
	}{
		{"UpToDate to OutOfDate", pcs.StatusUpToDate, &verify.Result{TCBStatus: pcs.StatusOutOfDate}, nil, earlyWorse},
		{"UpToDate to SWHardeningNeeded", pcs.StatusUpToDate, &verify.Result{TCBStatus: pcs.StatusSWHardeningNeeded}, nil, earlyWorse},
		{"ConfigurationNeeded to ConfigurationAndSWHardeningNeeded", pcs.StatusConfigurationNeeded, &verify.Result{TCBStatus: pcs.StatusConfigurationAndSWHardeningNeeded}, nil, earlyWorse},
		{"OutOfDate to OutOfDateConfigurationNeeded", pcs.StatusOutOfDate, &verify.Result{TCBStatus: pcs.StatusOutOfDateConfigurationNeeded}, nil, earlyWorse},
		{"revoked, with its error", pcs.StatusSWHardeningNeeded, &verify.Result{TCBStatus: pcs.StatusRevoked}, &verify.Error{Reason: verify.ReasonTCBRevoked}, earlyWorse},
		{"same", pcs.StatusSWHardeningNeeded, &verify.Result{TCBStatus: pcs.StatusSWHardeningNeeded}, nil, earlyNotWorse},
		{"SWHardeningNeeded to ConfigurationNeeded", pcs.StatusSWHardeningNeeded, &verify.Result{TCBStatus: pcs.StatusConfigurationNeeded}, nil, earlyNotWorse},
		{"better", pcs.StatusOutOfDate, &verify.Result{TCBStatus: pcs.StatusUpToDate}, nil, earlyNotWorse},
		{"unknown current status", pcs.TCBStatus("Fine"), &verify.Result{TCBStatus: pcs.StatusRevoked}, nil, earlyNotWorse},
		{"collateral not cached", pcs.StatusUpToDate, &verify.Result{}, unavailable, earlyUnavailable},
		{"no level matches", pcs.StatusUpToDate, &verify.Result{}, &verify.Error{Reason: verify.ReasonTCBNotSupported}, earlyFailed},
		{"timeout", pcs.StatusUpToDate, nil, context.DeadlineExceeded, earlyFailed},
		{"no result, no error", pcs.StatusUpToDate, nil, nil, earlyFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := earlyOutcome(tc.now, tc.early, tc.err); got != tc.want {
				t.Errorf("earlyOutcome = %q, want %q", got, tc.want)
			}
		})
	}
}
