package server

import (
	"context"
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
		c.log.Warn(msgTCBRecoveryWarning, keyWorkload, c.grant.Workload, keyTEE, std.TEE, keyFMSPC, std.FMSPC,
			keyStatus, std.TCBStatus, keyEarly, res.TCBStatus, keyEarlyIDs, res.AdvisoryIDs)
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
