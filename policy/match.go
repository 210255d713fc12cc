package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// SGX ATTRIBUTES.FLAGS bits (Gramine sgx_arch.h).
const (
	flagInit          = 0x01
	flagDebug         = 0x02
	flagMode64        = 0x04
	flagProvisionKey  = 0x10
	flagEINITTokenKey = 0x20
)

// match returns the first workload whose identity matches the quote.
func (p *Policy) match(res *verify.Result) (*Workload, error) {
	for i := range p.workloads {
		w := &p.workloads[i]
		if w.matches(res) {
			return w, nil
		}
	}
	return nil, &Error{Reason: ReasonIdentityMismatch, Detail: "no workload matches", Got: identityString(res)}
}

func (w *Workload) matches(res *verify.Result) bool {
	switch {
	case res.SGX != nil && (len(w.MREnclave) > 0 || w.MRSigner != nil || w.anyIdentity):
		r := res.SGX
		if len(w.MREnclave) > 0 && !slices.Contains(w.MREnclave, r.MREnclave) {
			return false
		}
		if w.MRSigner != nil && *w.MRSigner != r.MRSigner {
			return false
		}
		if w.ISVProdID != nil && *w.ISVProdID != r.ISVProdID {
			return false
		}
		return r.ISVSVN >= w.MinISVSVN
	case res.TDX != nil && len(w.MRTD) > 0:
		r := res.TDX
		if !slices.Contains(w.MRTD, r.MRTD) {
			return false
		}
		for i, want := range w.RTMRs {
			if r.RTMRs[i] != want {
				return false
			}
		}
		return true
	}
	return false
}

// check applies the workload's conditions to a result whose identity matched. It returns the
// non-default conditions it accepted.
func (w *Workload) check(res *verify.Result, at time.Time) ([]string, error) {
	refuse := func(r Reason, detail, want, got string) error {
		return &Error{Reason: r, Workload: w.Name, Detail: detail, Want: want, Got: got}
	}
	var accepted []string
	if res.SGX != nil {
		if err := checkSGXAttributes(res.SGX); err != "" {
			return nil, refuse(ReasonAttributesInvalid, err, "INIT|MODE64BIT set, PROVISIONKEY|EINITTOKEN clear",
				fmt.Sprintf("flags %#02x", res.SGX.Attributes[0]))
		}
	}
	if debug := (res.SGX != nil && res.SGX.Debug()) || (res.TDX != nil && res.TDX.Debug()); debug {
		if !w.AllowDebug {
			return nil, refuse(ReasonDebugNotAllowed, "the enclave runs in debug mode: its memory is readable by the host", "production", "debug")
		}
		accepted = append(accepted, "debug")
	}
	statuses := w.TCBStatuses
	if len(statuses) == 0 {
		statuses = []pcs.TCBStatus{pcs.StatusUpToDate}
	}
	if res.TCBStatus == pcs.StatusRevoked || !slices.Contains(statuses, res.TCBStatus) {
		return nil, refuse(ReasonTCBStatusNotAccepted, "platform TCB status", joinStatuses(statuses), string(res.TCBStatus))
	}
	if res.TCBStatus != pcs.StatusUpToDate {
		accepted = append(accepted, "tcb_status="+string(res.TCBStatus))
	}
	if !slices.Contains(w.AdvisoryIDs, AnyAdvisory) {
		for _, id := range res.AdvisoryIDs {
			if !slices.Contains(w.AdvisoryIDs, id) {
				return nil, refuse(ReasonAdvisoryNotAccepted, "advisory "+id+" is not accepted",
					"["+strings.Join(w.AdvisoryIDs, ",")+"]", "["+strings.Join(res.AdvisoryIDs, ",")+"]")
			}
		}
	}
	if len(res.AdvisoryIDs) > 0 {
		accepted = append(accepted, "advisories="+strings.Join(res.AdvisoryIDs, ","))
	}
	if res.CollateralExpired {
		if err := w.checkExpiry(res, at); err != nil {
			return nil, err
		}
		accepted = append(accepted, "collateral_expired")
	}
	return accepted, nil
}

func (w *Workload) checkExpiry(res *verify.Result, at time.Time) error {
	exp := res.EarliestExpiry
	refuse := func(detail string) error {
		return &Error{Reason: ReasonCollateralExpired, Workload: w.Name, Detail: detail,
			Want: "expired at most " + w.CollateralGrace.String(), Got: "earliest expiry " + exp.UTC().Format(time.RFC3339)}
	}
	switch {
	case exp.IsZero() || !exp.Before(at):
		// Expired flag without a past expiry: some collateral is not yet valid (from the future).
		return refuse("collateral is not yet valid")
	case w.AllowExpiredCollateralInsecure:
		return nil
	case at.Sub(exp) > w.CollateralGrace:
		return refuse(fmt.Sprintf("collateral expired %s ago", at.Sub(exp).Round(time.Second)))
	}
	return nil
}

// checkSGXAttributes applies Gramine's attribute rules; it returns "" when they hold.
func checkSGXAttributes(r *quote.EnclaveReport) string {
	f := r.Attributes[0]
	switch {
	case f&flagInit == 0:
		return "INIT flag clear"
	case f&flagMode64 == 0:
		return "MODE64BIT flag clear"
	case f&flagProvisionKey != 0:
		return "PROVISIONKEY flag set"
	case f&flagEINITTokenKey != 0:
		return "EINITTOKEN_KEY flag set"
	}
	return ""
}

func joinStatuses(s []pcs.TCBStatus) string {
	parts := make([]string, len(s))
	for i, v := range s {
		parts[i] = string(v)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func identityString(res *verify.Result) string {
	switch {
	case res.SGX != nil:
		r := res.SGX
		return "mrenclave " + r.MREnclave.String() + " mrsigner " + r.MRSigner.String() +
			" isv_prod_id " + strconv.Itoa(int(r.ISVProdID)) + " isv_svn " + strconv.Itoa(int(r.ISVSVN))
	case res.TDX != nil:
		parts := []string{"mrtd " + res.TDX.MRTD.String()}
		for i, m := range res.TDX.RTMRs {
			parts = append(parts, fmt.Sprintf("rtmr%d %s", i, m))
		}
		return strings.Join(parts, " ")
	}
	return "no identity"
}
