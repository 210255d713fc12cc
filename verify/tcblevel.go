package verify

import (
	"errors"
	"fmt"
	"slices"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

const (
	stepTCBLevel = "tcb level"
	stepTCBConv  = "tcb status"
)

// verdict is the outcome of TCB evaluation (dcap spec §5.7–§5.8).
type verdict struct {
	platform *pcs.TCBLevel // SGX level, or the TDX level for TDX quotes
	sgx      *pcs.TCBLevel // TDX only: the level that matched on SGX components and PCESVN
	qe       *pcs.QELevel
	module   *moduleVerdict // TDX only
	relaunch bool           // TDX 1.5 only: TD_RELAUNCH_ADVISED
	status   pcs.TCBStatus  // converged
}

// sgxMatches reports whether the PCK's SGX components and PCESVN are all at least the level's.
func sgxMatches(l *pcs.TCBLevel, ext *pcs.PCKExtensions) bool {
	return atLeast(ext.Components[:], l.SGXComponents[:], 0) && ext.PCESVN >= l.PCESVN
}

// atLeast reports whether have[i] >= want[i] for every i >= from.
func atLeast(have, want []byte, from int) bool {
	for i := from; i < len(want); i++ {
		if have[i] < want[i] {
			return false
		}
	}
	return true
}

// matchSGXLevel returns the first level (canonical order) the platform meets, or nil.
func matchSGXLevel(levels []pcs.TCBLevel, ext *pcs.PCKExtensions) *pcs.TCBLevel {
	for i := range levels {
		if sgxMatches(&levels[i], ext) {
			return &levels[i]
		}
	}
	return nil
}

// evaluateTCB matches the TCB level and converges the platform, module and QE statuses. It runs
// only after every signature has verified.
func evaluateTCB(q *quote.Quote, c *pckChain, col *collateral, qe *pcs.QELevel) (*verdict, error) {
	v := &verdict{qe: qe}
	if q.TDX != nil {
		if err := v.evaluateTDX(q, c, col); err != nil {
			return v, err
		}
	} else {
		v.platform = matchSGXLevel(col.levels, c.ext)
		if v.platform == nil {
			return v, noLevel(c.ext, "")
		}
	}
	if qe == nil {
		return v, fail(ReasonTCBNotSupported, stepTCBConv, errors.New("QE ISVSVN is below every QE identity level"))
	}
	v.status = v.platform.Status
	if v.module != nil {
		v.status = converge(v.status, v.module.status())
		relaunch, err := v.relaunchAdvised(q.TDX, col, v.status)
		if err != nil {
			v.status = ""
			return v, err
		}
		v.relaunch = relaunch
	}
	v.status = converge(v.status, qe.Status)
	if v.status == pcs.StatusRevoked {
		return v, fail(ReasonTCBRevoked, stepTCBConv, revokedCause(v))
	}
	return v, nil
}

func noLevel(ext *pcs.PCKExtensions, tdx string) *Error {
	got := fmt.Sprintf("sgx components %v, pcesvn %d%s", ext.Components, ext.PCESVN, tdx)
	return mismatch(ReasonTCBNotSupported, stepTCBLevel, "no TCB level matches the platform",
		"a level whose components and PCESVN the platform meets", got)
}

// converge combines a platform status with a QE or TDX module status (dcap spec §5.8):
// UpToDate leaves it unchanged, Revoked revokes, anything else is out of date.
func converge(platform, other pcs.TCBStatus) pcs.TCBStatus {
	switch other {
	case pcs.StatusUpToDate:
		return platform
	case pcs.StatusRevoked:
		return pcs.StatusRevoked
	}
	switch platform {
	case pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded:
		return pcs.StatusOutOfDate
	case pcs.StatusConfigurationNeeded, pcs.StatusConfigurationAndSWHardeningNeeded:
		return pcs.StatusOutOfDateConfigurationNeeded
	}
	return platform
}

func revokedCause(v *verdict) error {
	switch {
	case v.platform.Status == pcs.StatusRevoked:
		return errors.New("platform TCB level is revoked")
	case v.module != nil && v.module.status() == pcs.StatusRevoked:
		return errors.New("TDX module TCB level is revoked")
	}
	return errors.New("QE identity level is revoked")
}

// fill copies the verdict into the result: status, advisories and dates.
func (v *verdict) fill(r *Result) {
	if v.platform != nil {
		r.PlatformStatus = v.platform.Status
		r.TCBDate = v.platform.TCBDate
	}
	if v.qe != nil {
		r.QEStatus = v.qe.Status
		r.QEAdvisoryIDs = slices.Clone(v.qe.AdvisoryIDs)
	}
	if v.module != nil && v.module.level != nil {
		r.ModuleStatus = v.module.level.Status
		r.ModuleAdvisoryIDs = slices.Clone(v.module.level.AdvisoryIDs)
	} else if v.module != nil {
		r.ModuleStatus = v.module.status()
	}
	r.TDRelaunchAdvised = v.relaunch
	if v.status == "" {
		return
	}
	r.TCBStatus = v.status
	r.AdvisoryIDs = append([]string{}, v.platform.AdvisoryIDs...)
}
