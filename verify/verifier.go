package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// CollateralSource delivers the collateral for a platform. *pcs.Bundle satisfies it (it serves
// itself for the key it matches; a mismatch is ReasonCollateralMismatch), and so does the
// collateral package's cache. A returned Bundle must not be modified afterwards, and unchanged
// collateral should be returned as the same pointer: a Verifier remembers, by pointer, which
// bundles it has checked (a new pointer is checked again, at the cost of ~10 ECDSA
// verifications). Any other source error is ReasonCollateralUnavailable.
type CollateralSource interface {
	Collateral(ctx context.Context, key pcs.Key) (*pcs.Bundle, error)
}

// Static returns a CollateralSource that answers every request with b. Unlike b's own
// Collateral method it does not compare the key, so a bundle for another platform or TEE is
// refused by the verifier's own checks (ReasonCollateralMismatch, with expected and actual
// values) rather than by the source.
func Static(b *pcs.Bundle) CollateralSource { return staticSource{b: b} }

type staticSource struct{ b *pcs.Bundle }

func (s staticSource) Collateral(context.Context, pcs.Key) (*pcs.Bundle, error) {
	if s.b == nil {
		return nil, errors.New("no collateral bundle")
	}
	return s.b, nil
}

// Verifier verifies quotes with collateral from a CollateralSource. It is immutable after New
// and safe for concurrent use. It caches, bounded and by content hash, what does not depend
// on the quote: collateral bundles are checked once when first seen, PCK chains and QE report
// signatures once per distinct value. A warm verification therefore costs one ECDSA
// verification (the quote signature) plus hashing and comparisons.
type Verifier struct {
	src          CollateralSource
	root         *x509.Certificate
	allowExpired bool
	chains       *lru[[32]byte, *pckChain]
	qeReports    *lru[[32]byte, struct{}]
	bundles      *lru[*pcs.Bundle, bundleEntry]
}

type bundleEntry struct {
	col *collateral
	err error
}

// New returns a Verifier that asks src for collateral.
func New(src CollateralSource, opts ...Option) (*Verifier, error) {
	if src == nil {
		return nil, errors.New("verify: New: nil CollateralSource")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Verifier{
		src:          src,
		root:         cfg.root,
		allowExpired: cfg.allowExpired,
		chains:       newLRU[[32]byte, *pckChain](cfg.pckCache),
		qeReports:    newLRU[[32]byte, struct{}](cfg.qeCache),
		bundles:      newLRU[*pcs.Bundle, bundleEntry](DefaultBundleCacheSize),
	}, nil
}

// Verify runs the whole DCAP verification (dcap spec §5) of a parsed quote at time at.
//
// On success the error is nil. On a refusal the error is an *Error carrying a Reason, and the
// Result is non-nil and holds everything established before the failing step (the identity
// from the quote always; for ReasonCollateralExpired, ReasonTCBRevoked and
// ReasonTCBNotSupported also the TCB evaluation). Only caller errors (nil quote, zero time)
// return a nil Result and an error that is not an *Error.
func (v *Verifier) Verify(ctx context.Context, q *quote.Quote, at time.Time) (*Result, error) {
	if err := checkInputs(q, at); err != nil {
		return nil, err
	}
	return run(ctx, v, v.src, q, at, v.allowExpired)
}

// Quote verifies a raw quote (binary or hex text) against one collateral bundle at time at,
// checking everything from scratch: no cache, no I/O. It is the path of the CLI and the
// reference for the Verifier, with which it shares every step. WithCacheSize is ignored.
//
// If the quote does not parse, the Result is nil and the Reason is ReasonQuoteMalformed or
// ReasonQuoteUnsupported; otherwise errors come with a Result as for Verifier.Verify. A nil
// bundle is ReasonCollateralUnavailable.
func Quote(raw []byte, c *pcs.Bundle, at time.Time, opts ...Option) (*Result, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if at.IsZero() {
		return nil, errNoTime
	}
	q, err := quote.ParseText(raw)
	if err != nil {
		return nil, quoteError(err)
	}
	return run(context.Background(), coldSteps{root: cfg.root}, Static(c), q, at, cfg.allowExpired)
}

var errNoTime = errors.New("verify: no verification time (zero time.Time)")

func checkInputs(q *quote.Quote, at time.Time) error {
	if q == nil {
		return errors.New("verify: nil quote")
	}
	if at.IsZero() {
		return errNoTime
	}
	return nil
}

func quoteError(err error) *Error {
	if errors.Is(err, quote.ErrUnsupported) {
		return fail(ReasonQuoteUnsupported, "parse", err)
	}
	return fail(ReasonQuoteMalformed, "parse", err)
}

// steps is where the cold path and a Verifier differ: how the quote-independent results are
// obtained (computed, or looked up and computed on a miss). Everything else is shared.
type steps interface {
	pckChain(q *quote.Quote) (*pckChain, error)
	collateral(b *pcs.Bundle) (*collateral, error)
	qeReport(q *quote.Quote, c *pckChain) error
}

type coldSteps struct{ root *x509.Certificate }

func (s coldSteps) pckChain(q *quote.Quote) (*pckChain, error) {
	pem, err := chainPEM(q)
	if err != nil {
		return nil, err
	}
	return checkPCKChain(pem, s.root)
}

func (s coldSteps) collateral(b *pcs.Bundle) (*collateral, error) { return checkBundle(b, s.root) }

func (s coldSteps) qeReport(q *quote.Quote, c *pckChain) error { return checkQEReportSignature(q, c) }

func (v *Verifier) pckChain(q *quote.Quote) (*pckChain, error) {
	pem, err := chainPEM(q)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(pem)
	if c, ok := v.chains.get(key); ok {
		return c, nil
	}
	c, err := checkPCKChain(pem, v.root)
	if err == nil {
		v.chains.add(key, c)
	}
	return c, err
}

func (v *Verifier) collateral(b *pcs.Bundle) (*collateral, error) {
	if b == nil {
		return checkBundle(nil, v.root)
	}
	if e, ok := v.bundles.get(b); ok {
		return e.col, e.err
	}
	col, err := checkBundle(b, v.root)
	v.bundles.add(b, bundleEntry{col: col, err: err})
	return col, err
}

func (v *Verifier) qeReport(q *quote.Quote, c *pckChain) error {
	key := qeReportKey(q, c)
	if _, ok := v.qeReports.get(key); ok {
		return nil
	}
	if err := checkQEReportSignature(q, c); err != nil {
		return err
	}
	v.qeReports.add(key, struct{}{})
	return nil
}

// run is the algorithm of dcap spec §5, shared by both paths. The order differs from QVL's in
// one respect: the TDX module check (§5.5 step 6) runs after the quote signature, so that no
// field of an unauthenticated body is interpreted; a forged body is always
// ReasonQuoteSignatureInvalid.
func run(ctx context.Context, s steps, src CollateralSource, q *quote.Quote, at time.Time, allowExpired bool) (*Result, error) {
	res, ok := newResult(q)
	if !ok {
		return res, fail(ReasonQuoteMalformed, "quote", errors.New("body does not match the TEE type"))
	}
	chain, err := s.pckChain(q)
	if err != nil {
		return res, err
	}
	res.FMSPC = chain.ext.FMSPC.String()
	col, err := fetch(ctx, s, src, q, chain)
	if err != nil {
		return res, err
	}
	res.TCBEvalDataNumber = min(col.tcb.TCBEvaluationDataNumber, col.qe.TCBEvaluationDataNumber)
	res.EarliestExpiry = earliest(chain.valid.NotAfter, col.valid.NotAfter)
	res.CollateralExpired = !contains(&chain.valid, at) || !contains(&col.valid, at)
	qe, err := checkQuote(s, q, chain, col)
	if err != nil {
		return res, err
	}
	v, err := evaluateTCB(q, chain, col, qe)
	v.fill(res)
	if err != nil {
		return res, err
	}
	if res.CollateralExpired && !allowExpired {
		return res, expiredError(at, &chain.valid, &col.valid)
	}
	return res, nil
}

// fetch asks the source for the platform's collateral and checks it (or finds it checked).
func fetch(ctx context.Context, s steps, src CollateralSource, q *quote.Quote, c *pckChain) (*collateral, error) {
	key := pcs.Key{TEE: q.Header.TEE, FMSPC: c.ext.FMSPC, CA: c.ca}
	b, err := src.Collateral(ctx, key)
	if err != nil {
		r := ReasonCollateralUnavailable
		if errors.Is(err, pcs.ErrMismatch) {
			r = ReasonCollateralMismatch
		}
		return nil, fail(r, "collateral", fmt.Errorf("source for %s: %w", key, err))
	}
	if b == nil {
		return nil, fail(ReasonCollateralUnavailable, "collateral", fmt.Errorf("source for %s returned no bundle", key))
	}
	return s.collateral(b)
}

// checkQuote runs the quote-specific checks of dcap spec §5.2 step 6 and §5.5 steps 2–10 and
// returns the QE identity level.
func checkQuote(s steps, q *quote.Quote, c *pckChain, col *collateral) (*pcs.QELevel, error) {
	if err := checkRevocation(c, col); err != nil {
		return nil, err
	}
	if err := matchCollateral(q, c, col); err != nil {
		return nil, err
	}
	if err := s.qeReport(q, c); err != nil {
		return nil, err
	}
	if err := checkQEBinding(q); err != nil {
		return nil, err
	}
	qe, err := matchQEIdentity(&q.QEReport, col.qe)
	if err != nil {
		return nil, err
	}
	return qe, checkQuoteSignature(q)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
