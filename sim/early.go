package sim

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Intel's early TCB data. Ahead of a TCB recovery, Intel publishes a second TCB Info and QE
// Identity per FMSPC and TEE, with the next tcbEvaluationDataNumber, that PCS v4 and a PCCS
// serve for update=early (dcap spec §6.1); update=standard (the default) keeps serving the
// current documents until the recovery's enforcement date. Without a pending recovery both
// answers are the same documents, which is what the simulator serves until SetEarlyTCBLevels
// gives a TEE an early set.

// SetEarlyTCBLevels gives the simulated Intel an early TCB data set for tee: a TCB Info that is
// the standard one with these levels, and a QE Identity that is the standard one, both with
// the standard tcbEvaluationDataNumber + 1 and signed by the TCB Signing key. PCSHandler serves
// them for update=early (and for tcbEvaluationDataNumber=<that number>) in every dialect;
// EarlyTCBInfo, EarlyQEIdentity, EarlyBundle and EarlySource return them. RecoveryLevels builds
// the levels of a typical recovery. nil levels remove the set, so that update=early serves the
// standard documents again, as it does by default.
//
// The set is a snapshot of the standard documents: call it again after EditTCBInfo or
// EditQEIdentity. Reissue re-dates it along with them; Save persists it. Platforms and their
// statuses (Platform) always refer to the standard levels.
func (w *World) SetEarlyTCBLevels(tee quote.TEE, levels []pcs.TCBLevel) error {
	w.mu.RLock()
	cur, curQE, signer := w.tcbInfo[tee], w.qeIdentity[tee], w.tcbSigning
	w.mu.RUnlock()
	if cur == nil || curQE == nil {
		return fmt.Errorf("%w: collateral for %s", ErrNotFound, tee)
	}
	var t *pcs.TCBInfo
	var q *pcs.QEIdentity
	if levels != nil {
		edit := cloneTCBInfo(cur)
		edit.Levels = cloneTCBInfo(&pcs.TCBInfo{Levels: levels}).Levels
		edit.TCBEvaluationDataNumber = cur.TCBEvaluationDataNumber + 1
		editQE := cloneQEIdentity(curQE)
		editQE.TCBEvaluationDataNumber = curQE.TCBEvaluationDataNumber + 1
		var err error
		if t, err = signTCBInfo(signer.key, edit); err != nil {
			return fmt.Errorf("sim: early tcb data for %s: %w", tee, err)
		}
		if q, err = signQEIdentity(signer.key, editQE); err != nil {
			return fmt.Errorf("sim: early tcb data for %s: %w", tee, err)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.setEarlyLocked(tee, t, q)
	return nil
}

// setEarlyLocked stores (or, with nil documents, removes) the early set of tee and drops the
// early bundles; the caller holds w.mu for writing.
func (w *World) setEarlyLocked(tee quote.TEE, t *pcs.TCBInfo, q *pcs.QEIdentity) {
	if w.earlyTCBInfo == nil {
		w.earlyTCBInfo = make(map[quote.TEE]*pcs.TCBInfo)
		w.earlyQEIdentity = make(map[quote.TEE]*pcs.QEIdentity)
	}
	if t == nil || q == nil {
		delete(w.earlyTCBInfo, tee)
		delete(w.earlyQEIdentity, tee)
	} else {
		w.earlyTCBInfo[tee], w.earlyQEIdentity[tee] = t, q
	}
	maps.DeleteFunc(w.bundles, func(k bundleKey, _ *pcs.Bundle) bool { return k.early })
}

// EarlyTCBInfo returns the TCB Info for tee that PCS serves for update=early: the early set's
// (SetEarlyTCBLevels), or the standard one when tee has none. It must not be modified.
func (w *World) EarlyTCBInfo(tee quote.TEE) (*pcs.TCBInfo, error) {
	w.mu.RLock()
	t := w.earlyTCBInfo[tee]
	w.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	return w.TCBInfo(tee)
}

// EarlyQEIdentity returns the QE Identity for tee that PCS serves for update=early: the early
// set's, or the standard one when tee has none. It must not be modified.
func (w *World) EarlyQEIdentity(tee quote.TEE) (*pcs.QEIdentity, error) {
	w.mu.RLock()
	q := w.earlyQEIdentity[tee]
	w.mu.RUnlock()
	if q != nil {
		return q, nil
	}
	return w.QEIdentity(tee)
}

// EarlyBundle is Bundle with the early TCB Info and QE Identity (EarlyTCBInfo,
// EarlyQEIdentity): the collateral a verifier gets from Intel's early TCB data.
func (w *World) EarlyBundle(tee quote.TEE, ca pcs.CAType) (*pcs.Bundle, error) {
	return w.bundle(bundleKey{tee: tee, ca: ca, early: true})
}

// EarlyBundle returns the world's early collateral for this platform (World.EarlyBundle).
func (p *Platform) EarlyBundle() (*pcs.Bundle, error) { return p.world.EarlyBundle(p.tee, p.ca) }

// EarlySource is a verify.CollateralSource of the world's early TCB data: World.Collateral with
// EarlyBundle. With Unavailable set it has none, and every call fails with ErrNotFound, as
// PCSHandler with WithoutEarlyData answers update=early with 404.
type EarlySource struct {
	World       *World
	Unavailable bool
}

// Collateral returns the early bundle for key (an unknown FMSPC is ErrNotFound).
func (s EarlySource) Collateral(ctx context.Context, key pcs.Key) (*pcs.Bundle, error) {
	if s.Unavailable {
		return nil, fmt.Errorf("%w: early tcb data for %s fmspc %s", ErrNotFound, key.TEE, key.FMSPC)
	}
	if err := s.World.checkKey(ctx, key); err != nil {
		return nil, err
	}
	return s.World.EarlyBundle(key.TEE, key.CA)
}

// WithoutEarlyData makes PCSHandler a service without Intel's early TCB data: it answers every
// tcb and qe/identity request with update=early, in every dialect, with 404 and
// ErrorCodeNotFound, whether or not the world has an early set.
func WithoutEarlyData() PCSOption { return pcsOptionFunc(func(h *pcsHandler) { h.noEarly = true }) }

// RecoveryLevels returns levels as Intel's early TCB data announces a TCB recovery: a new first
// level, UpToDate without advisories, whose SGX components 1 and 2 (CPU microcode, below 255)
// are one higher than those of levels[0]; then levels[0] with status dropTo and advisories
// added to its advisory IDs; then the other levels unchanged. Platforms at levels[0] (the
// world's UpToDate platforms) get dropTo under these levels, all others keep their status.
// levels is not modified; an empty levels gives an empty result.
func RecoveryLevels(levels []pcs.TCBLevel, dropTo pcs.TCBStatus, advisories ...string) []pcs.TCBLevel {
	out := cloneTCBInfo(&pcs.TCBInfo{Levels: levels}).Levels
	if len(out) == 0 {
		return out
	}
	next := out[0]
	next.SGXComponents[0]++
	next.SGXComponents[1]++
	next.Status, next.AdvisoryIDs = pcs.StatusUpToDate, nil
	out[0].Status = dropTo
	out[0].AdvisoryIDs = append(out[0].AdvisoryIDs, advisories...)
	return slices.Insert(out, 0, next)
}
