package sim

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Platform is one simulated machine: a PCK certificate and key (what Intel would have
// provisioned), a quoting enclave with its attestation key, and for TDX a TDX module. Its
// quotes are produced by an Enclave (see Enclave). Platform values are created by the World
// and safe for concurrent use.
type Platform struct {
	world  *World
	name   string
	tee    quote.TEE
	status pcs.TCBStatus
	ca     pcs.CAType

	// Guarded by world.mu (the PCK may be re-issued by the forge).
	pck    *x509.Certificate
	pckKey *ecdsa.PrivateKey
	ext    pcs.PCKExtensions

	attKey    *ecdsa.PrivateKey
	qeID      [16]byte            // QE ID, the first 16 bytes of the quote header's user data
	teeTCBSVN [16]byte            // TDX: TEE_TCB_SVN of the TD reports
	mrSEAM    quote.TDMeasurement // TDX: MRSEAM of the TD reports
}

// PlatformSpec describes a platform for World.AddPlatform (the forge): start from a TCB level
// of the world's TCB Info and change what the test needs.
type PlatformSpec struct {
	Name string    // unique; lower-case letters, digits and '-'
	TEE  quote.TEE // quote.TEESGX or quote.TEETDX
	// Status selects the TCB level whose SGX components and PCESVN the PCK certificate carries
	// (the first level with that status). Zero: pcs.StatusUpToDate.
	Status pcs.TCBStatus
	// CA is the PCK CA that issues the PCK certificate. Zero: the processor CA for SGX (5-entry
	// SGX extension, SGX type Standard), the platform CA for TDX (7 entries, Scalable), as
	// observed on real platforms.
	CA pcs.CAType
	// PCKRevoked lists the PCK certificate's serial number in the PCK CRL.
	PCKRevoked bool
	// EditExtensions may change the SGX extension (components, PCESVN, FMSPC, PCE-ID...).
	EditExtensions func(*pcs.PCKExtensions)
	// EditCert may change any field of the PCK certificate template before it is signed.
	EditCert func(*x509.Certificate)
}

var platformNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// PlatformName is the name of the world's platform for tee at a TCB status, e.g.
// "sgx-swhardeningneeded"; it is also its directory under platforms/.
func PlatformName(tee quote.TEE, status pcs.TCBStatus) string {
	return tee.String() + "-" + strings.ToLower(string(status))
}

// PCKRevokedPlatformName is the name of the world's platform for tee whose PCK certificate is
// revoked (UpToDate components).
func PCKRevokedPlatformName(tee quote.TEE) string { return tee.String() + "-pck-revoked" }

// createPlatforms creates one platform per TEE and status present in the levels, and one with
// a revoked PCK per TEE.
func (w *World) createPlatforms() error {
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		for _, st := range Statuses() {
			spec := PlatformSpec{Name: PlatformName(tee, st), TEE: tee, Status: st}
			if _, err := w.AddPlatform(spec); err != nil {
				if isNoLevel(err) {
					continue // custom levels without this status
				}
				return err
			}
		}
		spec := PlatformSpec{Name: PCKRevokedPlatformName(tee), TEE: tee, PCKRevoked: true}
		if _, err := w.AddPlatform(spec); err != nil && !isNoLevel(err) {
			return err
		}
	}
	return nil
}

type noLevelError struct{ status pcs.TCBStatus }

func (e *noLevelError) Error() string {
	return fmt.Sprintf("sim: no TCB level with status %s: %v", e.status, ErrNotFound)
}
func (e *noLevelError) Unwrap() error { return ErrNotFound }

func isNoLevel(err error) bool {
	_, ok := errors.AsType[*noLevelError](err)
	return ok
}

// platformPlan is what AddPlatform reads from the world before building a platform without
// holding the lock (the spec's edit functions may call the world).
type platformPlan struct {
	level     pcs.TCBLevel
	tcb       *pcs.TCBInfo
	issuer    *authority
	notBefore time.Time
}

// AddPlatform creates a platform from spec (the forge: any PCK content, revoked or not) and
// adds it to the world. Save persists it. The spec's edit functions run without the world
// locked.
func (w *World) AddPlatform(spec PlatformSpec) (*Platform, error) {
	w.mu.RLock()
	plan, err := w.plan(&spec)
	w.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	p := &Platform{world: w, name: spec.Name, tee: spec.TEE, status: spec.Status, ca: spec.CA}
	if spec.PCKRevoked || spec.EditExtensions != nil || spec.EditCert != nil {
		p.status = "" // refused before TCB evaluation, or the forge decided the outcome
	}
	if err := p.build(w, plan, spec); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if slices.ContainsFunc(w.platforms, func(o *Platform) bool { return o.name == spec.Name }) {
		return nil, fmt.Errorf("sim: platform %q: %w", spec.Name, ErrExist)
	}
	if spec.PCKRevoked {
		if err := w.revokeLocked(p.pck); err != nil {
			return nil, err
		}
	}
	w.platforms = append(w.platforms, p)
	w.changed()
	return p, nil
}

func (w *World) plan(spec *PlatformSpec) (*platformPlan, error) {
	if err := w.checkSpec(spec); err != nil {
		return nil, err
	}
	t := w.tcbInfo[spec.TEE]
	level := levelWithStatus(t.Levels, spec.Status)
	if level == nil {
		return nil, &noLevelError{spec.Status}
	}
	issuer, err := w.caFor(spec.CA)
	if err != nil {
		return nil, err
	}
	return &platformPlan{level: *level, tcb: t, issuer: issuer, notBefore: w.now.Add(-certBackdate)}, nil
}

// build creates the platform's keys, QE, TDX module values and PCK certificate.
func (p *Platform) build(w *World, plan *platformPlan, spec PlatformSpec) error {
	if err := p.newExtensions(plan.tcb, &plan.level, spec.EditExtensions); err != nil {
		return err
	}
	var err error
	if p.attKey, err = newKey(); err != nil {
		return err
	}
	if _, err := rand.Read(p.qeID[:]); err != nil {
		return fmt.Errorf("sim: platform: qe id: %w", err)
	}
	if spec.TEE == quote.TEETDX {
		p.teeTCBSVN = plan.level.TDXComponents
		p.teeTCBSVN[0], p.teeTCBSVN[1] = tdxModuleISVSVN, tdxModuleMajor
		p.mrSEAM = sha512.Sum384([]byte("secretprov simulated TDX module"))
	}
	if p.pckKey, err = newKey(); err != nil {
		return err
	}
	p.pck, err = w.signPCK(p, plan.issuer, nil, plan.notBefore, spec.EditCert)
	return err
}

func (w *World) checkSpec(spec *PlatformSpec) error {
	if !platformNameRE.MatchString(spec.Name) {
		return fmt.Errorf("sim: platform name %q: want lower-case letters, digits and '-'", spec.Name)
	}
	if slices.ContainsFunc(w.platforms, func(p *Platform) bool { return p.name == spec.Name }) {
		return fmt.Errorf("sim: platform %q: %w", spec.Name, ErrExist)
	}
	if w.tcbInfo[spec.TEE] == nil {
		return fmt.Errorf("sim: platform %q: %w: tee %s", spec.Name, ErrNotFound, spec.TEE)
	}
	if spec.Status == "" {
		spec.Status = pcs.StatusUpToDate
	}
	if spec.CA == "" {
		spec.CA = pcs.CAProcessor
		if spec.TEE == quote.TEETDX {
			spec.CA = pcs.CAPlatform
		}
	}
	if !spec.CA.Valid() {
		return fmt.Errorf("sim: platform %q: %w: ca %q", spec.Name, ErrNotFound, spec.CA)
	}
	return nil
}

// levelWithStatus returns the first level with status in QVL's canonical order (dcap spec
// §5.7), so that a platform with exactly its components matches it.
func levelWithStatus(levels []pcs.TCBLevel, status pcs.TCBStatus) *pcs.TCBLevel {
	sorted := slices.Clone(levels)
	slices.SortStableFunc(sorted, func(a, b pcs.TCBLevel) int {
		if c := bytes.Compare(b.SGXComponents[:], a.SGXComponents[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(b.PCESVN, a.PCESVN); c != 0 {
			return c
		}
		return bytes.Compare(b.TDXComponents[:], a.TDXComponents[:])
	})
	for i := range sorted {
		if sorted[i].Status == status {
			return &sorted[i]
		}
	}
	return nil
}

// newExtensions fills the SGX extension: the level's components and PCESVN, the TCB Info's
// FMSPC and PCE-ID, random PPID (and platform instance ID for the platform CA).
func (p *Platform) newExtensions(t *pcs.TCBInfo, level *pcs.TCBLevel, edit func(*pcs.PCKExtensions)) error {
	e := pcs.PCKExtensions{
		Components: level.SGXComponents, PCESVN: level.PCESVN, CPUSVN: level.SGXComponents,
		PCEID: t.PCEID, FMSPC: t.FMSPC, SGXType: pcs.SGXTypeStandard,
	}
	if _, err := rand.Read(e.PPID[:]); err != nil {
		return fmt.Errorf("sim: platform: ppid: %w", err)
	}
	if p.ca == pcs.CAPlatform {
		e.SGXType = pcs.SGXTypeScalable
		e.PlatformInstanceID = make([]byte, 16)
		if _, err := rand.Read(e.PlatformInstanceID); err != nil {
			return fmt.Errorf("sim: platform: instance id: %w", err)
		}
		yes := true
		e.Dynamic, e.CachedKeys, e.SMT = &yes, &yes, &yes
	}
	if edit != nil {
		edit(&e)
	}
	p.ext = e
	return nil
}

// signPCK signs a PCK certificate for p: a fresh template from p.ext valid from notBefore, or
// (from non-nil) a copy of an issued certificate, changed by the world's and the caller's edit
// functions. It does not lock the world.
func (w *World) signPCK(p *Platform, issuer *authority, from *x509.Certificate, notBefore time.Time, edit func(*x509.Certificate)) (*x509.Certificate, error) {
	var tmpl *x509.Certificate
	if from != nil {
		tmpl = templateOf(from)
	} else {
		der, err := pcs.MarshalPCKExtensions(&p.ext)
		if err != nil {
			return nil, fmt.Errorf("sim: platform %q: %w", p.name, err)
		}
		serial, err := randomSerial()
		if err != nil {
			return nil, err
		}
		tmpl, err = leafTemplate(CNPCK, serial, &p.pckKey.PublicKey, notBefore, pckValidity, PCKCRLURL(p.ca))
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: pcs.OIDSGXExtensions, Value: der}}
	}
	worldEdit := w.edit(RolePCK, p.name)
	cert, err := issue(tmpl, &p.pckKey.PublicKey, issuer, nil, func(t *x509.Certificate) {
		if worldEdit != nil {
			worldEdit(t)
		}
		if edit != nil {
			edit(t)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("sim: platform %q: %w", p.name, err)
	}
	return cert, nil
}

// Name returns the platform's name.
func (p *Platform) Name() string { return p.name }

// TEE returns quote.TEESGX or quote.TEETDX.
func (p *Platform) TEE() quote.TEE { return p.tee }

// Status returns the TCB status the verifier reports for this platform's quotes with the
// world's collateral, or "" for a platform whose PCK is revoked or whose PCK the forge changed.
func (p *Platform) Status() pcs.TCBStatus {
	p.world.mu.RLock()
	defer p.world.mu.RUnlock()
	return p.status
}

// CA returns the type of the PCK CA that issued the platform's PCK certificate.
func (p *Platform) CA() pcs.CAType { return p.ca }

// PCK returns the platform's current PCK certificate.
func (p *Platform) PCK() *x509.Certificate {
	p.world.mu.RLock()
	defer p.world.mu.RUnlock()
	return p.pck
}

// Extensions returns the content of the PCK certificate's SGX extension.
func (p *Platform) Extensions() pcs.PCKExtensions {
	p.world.mu.RLock()
	defer p.world.mu.RUnlock()
	e := p.ext
	e.PlatformInstanceID = slices.Clone(e.PlatformInstanceID)
	return e
}

// Key returns the collateral key of the platform (TEE, FMSPC, CA type).
func (p *Platform) Key() pcs.Key {
	p.world.mu.RLock()
	defer p.world.mu.RUnlock()
	return pcs.Key{TEE: p.tee, FMSPC: p.ext.FMSPC, CA: p.ca}
}

// Bundle returns the world's collateral for this platform.
func (p *Platform) Bundle() (*pcs.Bundle, error) { return p.world.Bundle(p.tee, p.ca) }

// Chain returns the PCK certificate chain of the platform's quotes: PCK, PCK CA, root.
func (p *Platform) Chain() []*x509.Certificate {
	p.world.mu.RLock()
	defer p.world.mu.RUnlock()
	ca, _ := p.world.caFor(p.ca) // p.ca was validated when p was created
	return []*x509.Certificate{p.pck, ca.cert, p.world.root.cert}
}

// chainPEM is the quote certification data of type 5: the PEM chain followed by a NUL byte,
// as real quotes carry it (dcap spec §2.3).
func chainPEM(chain []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory
	}
	b.WriteByte(0)
	return b.Bytes()
}

// Platform returns the world's platform for tee at status: its quotes verify with the world's
// collateral with exactly that TCB status (Revoked: verify refuses with tcb_revoked).
func (w *World) Platform(tee quote.TEE, status pcs.TCBStatus) (*Platform, error) {
	return w.PlatformByName(PlatformName(tee, status))
}

// PCKRevokedPlatform returns the world's platform for tee whose PCK certificate is listed in
// the PCK CRL (verify refuses its quotes with pck_revoked).
func (w *World) PCKRevokedPlatform(tee quote.TEE) (*Platform, error) {
	return w.PlatformByName(PCKRevokedPlatformName(tee))
}

// PlatformByName returns a platform by name.
func (w *World) PlatformByName(name string) (*Platform, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	for _, p := range w.platforms {
		if p.name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: platform %q", ErrNotFound, name)
}

// Platforms returns every platform of the world, in creation order.
func (w *World) Platforms() []*Platform {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.platforms)
}
