package sim

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// DefaultCollateralValidity is how long TCB Info, QE Identity and PCK CRLs stay valid after
// issue (Intel: 30 days).
const DefaultCollateralValidity = 30 * 24 * time.Hour

// Errors for branching with errors.Is.
var (
	// ErrNotFound: the world has no such platform, collateral or certificate.
	ErrNotFound = errors.New("sim: not found")
	// ErrExist: Init was pointed at a directory that already holds a world.
	ErrExist = errors.New("sim: world already exists")
)

// Options configure a new world. The zero value gives Intel-like defaults issued now.
type Options struct {
	// Now is the world's reference time, truncated to the second: certificates become valid a
	// day before it, collateral (TCB Info, QE Identity, CRLs) is issued at it. Zero: time.Now.
	Now time.Time
	// CollateralValidity is nextUpdate − issueDate of TCB Info, QE Identity and PCK CRLs.
	// Zero: DefaultCollateralValidity. The root CA CRL is valid for a year.
	CollateralValidity time.Duration
	// SGXFMSPC and TDXFMSPC are the platforms' FMSPCs. Zero: DefaultSGXFMSPC, DefaultTDXFMSPC.
	SGXFMSPC, TDXFMSPC pcs.FMSPC
	// SGXLevels and TDXLevels replace the TCB levels of the TCB Info (nil: DefaultSGXLevels,
	// DefaultTDXLevels). For every status present, the world gets a platform whose PCK carries
	// the components and PCESVN of the first level (in QVL's canonical order) with that status.
	SGXLevels, TDXLevels []pcs.TCBLevel
	// EditCert, if set, may change any field of every certificate template before it is signed
	// (the forge). platform is the platform name for RolePCK, "" otherwise.
	EditCert func(role Role, platform string, tmpl *x509.Certificate)
}

func (o *Options) defaults() {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
	if o.CollateralValidity <= 0 {
		o.CollateralValidity = DefaultCollateralValidity
	}
	if o.SGXFMSPC == (pcs.FMSPC{}) {
		o.SGXFMSPC = DefaultSGXFMSPC
	}
	if o.TDXFMSPC == (pcs.FMSPC{}) {
		o.TDXFMSPC = DefaultTDXFMSPC
	}
	if o.SGXLevels == nil {
		o.SGXLevels = DefaultSGXLevels()
	}
	if o.TDXLevels == nil {
		o.TDXLevels = DefaultTDXLevels()
	}
}

// World is one simulated Intel PKI with its platforms and collateral. It is safe for
// concurrent use: forge methods replace documents atomically while PCSHandler serves them.
type World struct {
	mu       sync.RWMutex
	now      time.Time // reference time
	validity time.Duration
	editCert func(Role, string, *x509.Certificate)

	root, processorCA, platformCA, tcbSigning *authority

	platforms  []*Platform
	tcbInfo    map[quote.TEE]*pcs.TCBInfo
	qeIdentity map[quote.TEE]*pcs.QEIdentity
	rootCRL    *x509.RevocationList
	pckCRL     map[pcs.CAType]*x509.RevocationList
	bundles    map[bundleKey]*pcs.Bundle // built on demand, dropped on every change

	// Intel's early TCB data (early.go): set per TEE by SetEarlyTCBLevels, both or neither.
	earlyTCBInfo    map[quote.TEE]*pcs.TCBInfo
	earlyQEIdentity map[quote.TEE]*pcs.QEIdentity
}

type bundleKey struct {
	tee   quote.TEE
	ca    pcs.CAType
	early bool // EarlyBundle's
}

// New creates a world in memory: root CA, both PCK CAs, TCB Signing certificate, CRLs,
// signed TCB Info and QE Identity for SGX and TDX, and the platforms (see Platform). Save
// writes it to a directory; Init does both.
func New(opts Options) (*World, error) {
	opts.defaults()
	w := &World{now: opts.Now, validity: opts.CollateralValidity, editCert: opts.EditCert}
	if err := w.createAuthorities(); err != nil {
		return nil, err
	}
	if err := w.createCollateral(opts); err != nil {
		return nil, err
	}
	if err := w.createPlatforms(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *World) edit(role Role, platform string) func(*x509.Certificate) {
	if w.editCert == nil {
		return nil
	}
	return func(t *x509.Certificate) { w.editCert(role, platform, t) }
}

func (w *World) createAuthorities() error {
	notBefore := w.now.Add(-certBackdate)
	var err error
	if w.root, err = newCA(RoleRoot, CNRoot, nil, notBefore, rootValidityFrom(notBefore), 1, w.edit(RoleRoot, "")); err != nil {
		return err
	}
	if w.processorCA, err = newCA(RoleProcessorCA, pcs.CNProcessorCA, w.root, notBefore, caValidity, 0, w.edit(RoleProcessorCA, "")); err != nil {
		return err
	}
	if w.platformCA, err = newCA(RolePlatformCA, pcs.CNPlatformCA, w.root, notBefore, caValidity, 0, w.edit(RolePlatformCA, "")); err != nil {
		return err
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	tmpl, err := leafTemplate(CNTCBSigning, serial, &key.PublicKey, notBefore, tcbSigningValidity, RootCRLURL)
	if err != nil {
		return err
	}
	tmpl.SubjectKeyId = serial // Intel's TCB Signing certificate, too, has SKI = serial
	cert, err := issue(tmpl, &key.PublicKey, w.root, nil, w.edit(RoleTCBSigning, ""))
	if err != nil {
		return err
	}
	w.tcbSigning = &authority{cert: cert, key: key}
	return nil
}

// newCA creates the root (parent nil) or a PCK CA.
func newCA(role Role, cn string, parent *authority, notBefore time.Time, validity time.Duration, pathLen int, edit func(*x509.Certificate)) (*authority, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	cert, err := issue(caTemplate(cn, serial, notBefore, validity, pathLen), &key.PublicKey, parent, key, edit)
	if err != nil {
		return nil, fmt.Errorf("sim: %s: %w", role, err)
	}
	return &authority{cert: cert, key: key}, nil
}

func (w *World) createCollateral(opts Options) error {
	next := w.now.Add(w.validity)
	w.tcbInfo = make(map[quote.TEE]*pcs.TCBInfo)
	w.qeIdentity = make(map[quote.TEE]*pcs.QEIdentity)
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		t := &pcs.TCBInfo{
			ID: pcs.TCBInfoIDSGX, Version: 3, IssueDate: w.now, NextUpdate: next,
			FMSPC: opts.SGXFMSPC, TCBEvaluationDataNumber: DefaultTCBEvaluationDataNumber,
			Levels: slices.Clone(opts.SGXLevels),
		}
		if tee == quote.TEETDX {
			m := defaultModule()
			t.ID, t.FMSPC, t.Levels = pcs.TCBInfoIDTDX, opts.TDXFMSPC, slices.Clone(opts.TDXLevels)
			t.TDXModule, t.TDXModuleIdentities = &m, defaultModuleIdentities()
		}
		signed, err := signTCBInfo(w.tcbSigning.key, t)
		if err != nil {
			return err
		}
		w.tcbInfo[tee] = signed
		if w.qeIdentity[tee], err = signQEIdentity(w.tcbSigning.key, qeIdentityFor(tee, w.now, next)); err != nil {
			return err
		}
	}
	return w.createCRLs()
}

func (w *World) createCRLs() error {
	var err error
	w.rootCRL, err = signCRL(crlSpec{issuer: w.root, number: bigOne(), thisUpdate: w.now, nextUpdate: w.now.Add(rootCRLValidity)})
	if err != nil {
		return err
	}
	w.pckCRL = make(map[pcs.CAType]*x509.RevocationList)
	for ca, issuer := range map[pcs.CAType]*authority{pcs.CAProcessor: w.processorCA, pcs.CAPlatform: w.platformCA} {
		// A few revoked serials of platforms that do not exist, as in Intel's CRLs.
		var revoked []revocation
		for range 3 {
			s, err := randomSerial()
			if err != nil {
				return err
			}
			revoked = append(revoked, revocation{serial: bigOf(s), date: w.now})
		}
		w.pckCRL[ca], err = signCRL(crlSpec{issuer: issuer, number: bigOne(), thisUpdate: w.now, nextUpdate: w.now.Add(w.validity), revoked: revoked})
		if err != nil {
			return err
		}
	}
	return nil
}

// Root returns the simulated root CA certificate: the trust anchor to name explicitly
// (verify.WithRoot) when verifying simulated quotes. It is never trusted by default.
func (w *World) Root() *x509.Certificate {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.root.cert
}

// Now returns the world's reference time: collateral is issued at it, certificates are valid
// from a day before it. Verifying at Now (or up to the collateral validity after it) succeeds.
func (w *World) Now() time.Time {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.now
}

// Certificate returns the current certificate of a CA or TCB Signing role (not RolePCK: see
// Platform.PCK).
func (w *World) Certificate(role Role) (*x509.Certificate, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	a, err := w.authorityOf(role)
	if err != nil {
		return nil, err
	}
	return a.cert, nil
}

func (w *World) authorityOf(role Role) (*authority, error) {
	switch role {
	case RoleRoot:
		return w.root, nil
	case RoleProcessorCA:
		return w.processorCA, nil
	case RolePlatformCA:
		return w.platformCA, nil
	case RoleTCBSigning:
		return w.tcbSigning, nil
	}
	return nil, fmt.Errorf("%w: certificate role %q", ErrNotFound, role)
}

// setAuthority replaces the authority of a role (authorities are immutable values); the caller
// holds w.mu for writing.
func (w *World) setAuthority(role Role, a *authority) {
	switch role {
	case RoleRoot:
		w.root = a
	case RoleProcessorCA:
		w.processorCA = a
	case RolePlatformCA:
		w.platformCA = a
	case RoleTCBSigning:
		w.tcbSigning = a
	}
}

func (w *World) caFor(ca pcs.CAType) (*authority, error) {
	switch ca {
	case pcs.CAProcessor:
		return w.processorCA, nil
	case pcs.CAPlatform:
		return w.platformCA, nil
	}
	return nil, fmt.Errorf("%w: pck ca %q", ErrNotFound, ca)
}

// TCBInfo returns the current signed TCB Info for tee. It must not be modified.
func (w *World) TCBInfo(tee quote.TEE) (*pcs.TCBInfo, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if t := w.tcbInfo[tee]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("%w: tcb info for %s", ErrNotFound, tee)
}

// QEIdentity returns the current signed QE Identity for tee (QE for SGX, TD_QE for TDX). It
// must not be modified.
func (w *World) QEIdentity(tee quote.TEE) (*pcs.QEIdentity, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if q := w.qeIdentity[tee]; q != nil {
		return q, nil
	}
	return nil, fmt.Errorf("%w: qe identity for %s", ErrNotFound, tee)
}

// RootCRL returns the current root CA CRL.
func (w *World) RootCRL() *x509.RevocationList {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.rootCRL
}

// PCKCRL returns the current CRL of the PCK CA ca.
func (w *World) PCKCRL(ca pcs.CAType) (*x509.RevocationList, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if c := w.pckCRL[ca]; c != nil {
		return c, nil
	}
	return nil, fmt.Errorf("%w: pck crl for ca %q", ErrNotFound, ca)
}

// Bundle returns the collateral for platforms of tee whose PCK was issued by ca, in the form
// package verify consumes. The same pointer is returned until the world changes.
func (w *World) Bundle(tee quote.TEE, ca pcs.CAType) (*pcs.Bundle, error) {
	return w.bundle(bundleKey{tee: tee, ca: ca})
}

func (w *World) bundle(k bundleKey) (*pcs.Bundle, error) {
	w.mu.RLock()
	b := w.bundles[k]
	w.mu.RUnlock()
	if b != nil {
		return b, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if b := w.bundles[k]; b != nil {
		return b, nil
	}
	issuer, err := w.caFor(k.ca)
	if err != nil {
		return nil, err
	}
	t, q := w.tcbInfo[k.tee], w.qeIdentity[k.tee]
	if et, eq := w.earlyTCBInfo[k.tee], w.earlyQEIdentity[k.tee]; k.early && et != nil && eq != nil {
		t, q = et, eq
	}
	if t == nil || q == nil {
		return nil, fmt.Errorf("%w: collateral for %s", ErrNotFound, k.tee)
	}
	signing := []*x509.Certificate{w.tcbSigning.cert, w.root.cert}
	b = &pcs.Bundle{
		PCKCRLIssuerChain: []*x509.Certificate{issuer.cert, w.root.cert},
		RootCRL:           w.rootCRL, PCKCRL: w.pckCRL[k.ca],
		TCBInfoIssuerChain: signing, TCBInfo: t,
		QEIdentityIssuerChain: slices.Clone(signing), QEIdentity: q,
	}
	if w.bundles == nil {
		w.bundles = make(map[bundleKey]*pcs.Bundle)
	}
	w.bundles[k] = b
	return b, nil
}

// Collateral implements verify.CollateralSource: the bundle for key's TEE and CA type, if key's
// FMSPC is the one of the world's TCB Info for that TEE (an unknown FMSPC is ErrNotFound, as
// PCS answers 404).
func (w *World) Collateral(ctx context.Context, key pcs.Key) (*pcs.Bundle, error) {
	if err := w.checkKey(ctx, key); err != nil {
		return nil, err
	}
	return w.Bundle(key.TEE, key.CA)
}

// checkKey fails unless ctx is live and key's FMSPC is the one of the TCB Info for its TEE.
func (w *World) checkKey(ctx context.Context, key pcs.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := w.TCBInfo(key.TEE)
	if err != nil {
		return err
	}
	if t.FMSPC != key.FMSPC {
		return fmt.Errorf("%w: tcb info for %s fmspc %s", ErrNotFound, key.TEE, key.FMSPC)
	}
	return nil
}

// changed drops derived state after a change; the caller holds w.mu for writing.
func (w *World) changed() { w.bundles = nil }
