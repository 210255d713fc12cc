package policy

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// DefaultSecret is the name of the secret a Gramine V1 client receives.
const DefaultSecret = "default"

// AnyAdvisory in Workload.AdvisoryIDs accepts every advisory ID.
const AnyAdvisory = "*"

// Workload is one kind of enclave or TD the service provisions, with the conditions under which
// it is served. The zero value of every condition is the strictest.
type Workload struct {
	Name string

	// SGX identity: at least one of MREnclave or MRSigner.
	MREnclave []quote.Measurement // accepted MRENCLAVE values (any of them)
	MRSigner  *quote.Measurement  // required MRSIGNER
	ISVProdID *uint16             // required ISVPRODID (required when MRSigner is set)
	MinISVSVN uint16              // minimum ISVSVN

	// TDX identity: MRTD values (any of them) and exact RTMR values by index 0..3.
	MRTD  []quote.TDMeasurement
	RTMRs map[int]quote.TDMeasurement

	TCBStatuses     []pcs.TCBStatus // accepted statuses; empty means UpToDate only
	AdvisoryIDs     []string        // accepted advisory IDs; AnyAdvisory accepts all
	AllowDebug      bool            // accept debug enclaves / TDs (insecure: for development)
	CollateralGrace time.Duration   // accept collateral this long past its earliest expiry
	// AllowExpiredCollateralInsecure accepts collateral however long expired (Gramine's
	// RA_TLS_ALLOW_OUTDATED_TCB_INSECURE). It never accepts collateral that is not yet valid.
	AllowExpiredCollateralInsecure bool

	// Secrets maps the name the client asks for to the name of a secret source. The entry
	// DefaultSecret is what Gramine V1 clients receive.
	Secrets map[string]string

	// Set only by FromGramineEnv, whose variables may say "any" where a configured workload may
	// not: anyIdentity matches every SGX enclave, anyProdID every ISVPRODID under an MRSIGNER.
	anyIdentity, anyProdID bool
}

// Policy is an immutable, validated, ordered list of workloads. It is safe for concurrent use.
type Policy struct {
	workloads []Workload
}

// New validates the workloads and returns a Policy. All problems are reported at once.
func New(workloads []Workload) (*Policy, error) {
	var errs []error
	seen := map[string]bool{}
	for i := range workloads {
		w := &workloads[i]
		if w.Name == "" {
			errs = append(errs, fmt.Errorf("policy: workload %d: name is empty", i))
		} else if seen[w.Name] {
			errs = append(errs, fmt.Errorf("policy: workload %q: duplicate name", w.Name))
		}
		seen[w.Name] = true
		errs = append(errs, w.validate()...)
	}
	if len(workloads) == 0 {
		errs = append(errs, errors.New("policy: no workloads: nothing could ever be provisioned"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	ws := make([]Workload, len(workloads))
	for i, w := range workloads {
		ws[i] = w.clone()
	}
	return &Policy{workloads: ws}, nil
}

func (w *Workload) validate() []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy: workload %q: "+format, append([]any{w.Name}, args...)...))
	}
	sgx := len(w.MREnclave) > 0 || w.MRSigner != nil || w.anyIdentity
	tdx := len(w.MRTD) > 0
	switch {
	case sgx && tdx:
		bad("has both SGX (mrenclave/mrsigner) and TDX (mrtd) identities; use two workloads")
	case !sgx && !tdx:
		bad("no identity: set mrenclave, or mrsigner with isv_prod_id, or mrtd")
	}
	if w.MRSigner != nil && w.ISVProdID == nil && !w.anyProdID {
		bad("mrsigner without isv_prod_id: any enclave signed by that key would match")
	}
	if w.ISVProdID != nil && w.MRSigner == nil && len(w.MREnclave) == 0 && !w.anyIdentity {
		bad("isv_prod_id without mrsigner or mrenclave")
	}
	if len(w.RTMRs) > 0 && !tdx {
		bad("rtmrs without mrtd")
	}
	for i := range w.RTMRs {
		if i < 0 || i > 3 {
			bad("rtmr index %d: want 0..3", i)
		}
	}
	for _, s := range w.TCBStatuses {
		switch {
		case !s.Valid():
			bad("tcb status %q: want one of Intel's statuses", s)
		case s == pcs.StatusRevoked:
			bad("tcb status Revoked can never be accepted")
		}
	}
	if w.CollateralGrace < 0 {
		bad("collateral grace %v is negative", w.CollateralGrace)
	}
	if len(w.Secrets) == 0 {
		bad("no secrets: the workload would receive nothing")
	}
	for name, src := range w.Secrets {
		if name == "" || src == "" {
			bad("secret mapping %q -> %q: names must not be empty", name, src)
		}
	}
	return errs
}

func (w Workload) clone() Workload {
	c := w
	c.MREnclave = slices.Clone(w.MREnclave)
	if w.MRSigner != nil {
		v := *w.MRSigner
		c.MRSigner = &v
	}
	if w.ISVProdID != nil {
		v := *w.ISVProdID
		c.ISVProdID = &v
	}
	c.MRTD = slices.Clone(w.MRTD)
	if w.RTMRs != nil {
		c.RTMRs = make(map[int]quote.TDMeasurement, len(w.RTMRs))
		for k, v := range w.RTMRs {
			c.RTMRs[k] = v
		}
	}
	c.TCBStatuses = slices.Clone(w.TCBStatuses)
	c.AdvisoryIDs = slices.Clone(w.AdvisoryIDs)
	c.Secrets = make(map[string]string, len(w.Secrets))
	for k, v := range w.Secrets {
		c.Secrets[k] = v
	}
	return c
}

// Workloads returns a copy of the policy's workloads, in order.
func (p *Policy) Workloads() []Workload {
	out := make([]Workload, len(p.workloads))
	for i, w := range p.workloads {
		out[i] = w.clone()
	}
	return out
}

// SecretNames returns the secret source names any workload refers to, for validating that every
// one exists.
func (p *Policy) SecretNames() []string {
	var names []string
	for _, w := range p.workloads {
		for _, src := range w.Secrets {
			if !slices.Contains(names, src) {
				names = append(names, src)
			}
		}
	}
	slices.Sort(names)
	return names
}

// Grant is a positive decision: the workload that matched and the secrets it may receive.
type Grant struct {
	Workload string
	Secrets  map[string]string // requested name -> secret source name
	// Accepted lists the non-default conditions the workload accepted to reach this grant
	// (e.g. "tcb_status=SWHardeningNeeded", "collateral_expired"), for the audit log.
	Accepted []string
}

// SecretSource returns the source name of the secret the client asked for as name, and whether
// the workload is granted it.
func (g *Grant) SecretSource(name string) (string, bool) {
	src, ok := g.Secrets[name]
	return src, ok
}

// Authorize decides over one verification outcome at time at. res and verr are what
// verify.Verifier.Verify returned (res may be non-nil together with an error). It returns a
// Grant, or an error that is a *Error, or the *verify.Error that ended verification.
func (p *Policy) Authorize(res *verify.Result, verr error, at time.Time) (*Grant, error) {
	if verr != nil && (res == nil || !errors.Is(verr, verify.ErrCollateralExpired)) {
		return nil, verr
	}
	if res == nil {
		return nil, &Error{Reason: ReasonIdentityMismatch, Detail: "no verification result"}
	}
	w, err := p.match(res)
	if err != nil {
		return nil, err
	}
	accepted, err := w.check(res, at)
	if err != nil {
		return nil, err
	}
	g := &Grant{Workload: w.Name, Secrets: make(map[string]string, len(w.Secrets)), Accepted: accepted}
	for k, v := range w.Secrets {
		g.Secrets[k] = v
	}
	return g, nil
}
