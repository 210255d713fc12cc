package server

import (
	"context"
	"sync"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/verify"
)

// EarlyCheckTimeout bounds one check of a quote against Intel's early TCB data
// (Config.EarlyVerifier), in case the verifier does wait for something.
const EarlyCheckTimeout = 2 * time.Second

// Outcomes of an early TCB check (Hooks.EarlyTCBCheck).
const (
	earlyNotWorse    = "not_worse"   // the early status is the same or better
	earlyWorse       = "worse"       // the platform drops under the early data: warned
	earlyUnavailable = "unavailable" // no early collateral for the platform (yet)
	earlyFailed      = "failed"      // the early verification determined no status
)

// EarlyWarningLogInterval bounds the warning log: for one platform and workload (TEE, FMSPC,
// workload and the two statuses) one line per interval, which counts the warnings it stood for.
// Hooks.TCBRecoveryWarning still reports every peer. In the weeks between Intel's publishing
// of early TCB data and the TCB recovery, every provisioning of an affected platform would
// otherwise log the same line.
const EarlyWarningLogInterval = time.Hour

// maxWarned bounds the platforms the warning log remembers. Only peers that were verified and
// granted reach it, so its size is set by the fleet (FMSPCs × workloads), not by an attacker;
// when full, entries older than the interval go first, then all.
const maxWarned = 4096

// msgTCBRecoveryWarning is the message of the warning log line.
const msgTCBRecoveryWarning = "tcb recovery warning: the platform's TCB status drops under Intel's early TCB data"

// checkEarlyTCB verifies an authorized peer's quote again with Intel's early TCB data, at the
// decision's verification time, and warns when its platform would be judged worse. It runs
// after the session ended; what it finds never changes the decision, only logs and hooks.
func (c *conn) checkEarlyTCB(ctx context.Context) {
	if c.s.early == nil || c.grant == nil || c.ev == nil || c.ev.Result == nil {
		return
	}
	std := c.ev.Result
	ctx, cancel := context.WithTimeout(ctx, EarlyCheckTimeout)
	defer cancel()
	res, err := c.s.early.Verify(ctx, c.ev.Quote, c.at)
	outcome := earlyOutcome(std.TCBStatus, res, err)
	c.s.hooks.earlyTCBCheck(std.TEE, outcome)
	switch outcome {
	case earlyWorse:
		c.s.hooks.tcbRecoveryWarning(std.TEE, string(std.TCBStatus), string(res.TCBStatus))
		k := warnKey{std.TEE, std.FMSPC, c.grant.Workload, std.TCBStatus, res.TCBStatus}
		if n, ok := c.s.warned.due(k, c.s.now()); ok {
			c.log.Warn(msgTCBRecoveryWarning, keyWorkload, c.grant.Workload, keyTEE, std.TEE, keyFMSPC, std.FMSPC,
				keyStatus, std.TCBStatus, keyEarly, res.TCBStatus, keyEarlyIDs, res.AdvisoryIDs, keyWarnings, n)
		}
	case earlyUnavailable, earlyFailed:
		detail := "no early TCB status"
		if err != nil {
			detail = err.Error()
		}
		c.log.Debug("early tcb check: no early status", keyWorkload, c.grant.Workload, keyTEE, std.TEE, keyFMSPC, std.FMSPC,
			keyEarlyCheck, outcome, keyReason, string(verify.ReasonOf(err)), keyError, detail)
	}
}

// earlyOutcome compares the early verification (res, err) with the decision's TCB status. An
// early status counts even when it came with an error (tcb_revoked, collateral_expired).
func earlyOutcome(status pcs.TCBStatus, res *verify.Result, err error) string {
	switch {
	case res != nil && res.TCBStatus != "":
		if worse(res.TCBStatus, status) {
			return earlyWorse
		}
		return earlyNotWorse
	case verify.ReasonOf(err) == verify.ReasonCollateralUnavailable:
		return earlyUnavailable
	}
	return earlyFailed
}

// worse reports whether TCB status early is worse than now, in the order of severity.
func worse(early, now pcs.TCBStatus) bool {
	n := severity(now)
	return n >= 0 && severity(early) > n
}

// severity ranks TCB statuses from UpToDate (0) to Revoked (5). Needing software hardening
// and needing configuration rank alike (neither implies the other); an unknown status is -1.
func severity(s pcs.TCBStatus) int {
	switch s {
	case pcs.StatusUpToDate:
		return 0
	case pcs.StatusSWHardeningNeeded, pcs.StatusConfigurationNeeded:
		return 1
	case pcs.StatusConfigurationAndSWHardeningNeeded:
		return 2
	case pcs.StatusOutOfDate:
		return 3
	case pcs.StatusOutOfDateConfigurationNeeded:
		return 4
	case pcs.StatusRevoked:
		return 5
	}
	return -1
}

// warnKey is what one warning log line stands for.
type warnKey struct {
	tee, fmspc, workload string
	status, early        pcs.TCBStatus
}

type warned struct {
	logged time.Time // when the last line was written
	count  int       // warnings since, that line's included
}

// warnLog rate-limits the warning log lines to one per key per EarlyWarningLogInterval.
type warnLog struct {
	mu   sync.Mutex
	keys map[warnKey]*warned
}

// due counts a warning for k at now and reports whether to log it, with the number of
// warnings the line stands for: this one and those not logged since k's last line.
func (w *warnLog) due(k warnKey, now time.Time) (int, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.keys[k]
	if e == nil {
		if len(w.keys) >= maxWarned {
			w.prune(now)
		}
		if w.keys == nil {
			w.keys = make(map[warnKey]*warned)
		}
		e = &warned{}
		w.keys[k] = e
	}
	e.count++
	// A clock that went back logs at once rather than staying silent until it catches up.
	if !e.logged.IsZero() && !now.Before(e.logged) && now.Sub(e.logged) < EarlyWarningLogInterval {
		return 0, false
	}
	n := e.count
	e.logged, e.count = now, 0
	return n, true
}

// prune forgets the keys not logged within the interval, or all of them if none is that old.
func (w *warnLog) prune(now time.Time) {
	for k, e := range w.keys {
		if now.Sub(e.logged) >= EarlyWarningLogInterval {
			delete(w.keys, k)
		}
	}
	if len(w.keys) >= maxWarned {
		clear(w.keys)
	}
}
