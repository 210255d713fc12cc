package policy

import (
	"errors"
	"strings"

	"github.com/secretprov/secretprov/verify"
)

// Reason is a stable policy refusal code. The values are part of the audit and metrics contract.
type Reason string

// Policy refusal reasons (verify's reasons pass through unchanged).
const (
	ReasonIdentityMismatch     Reason = "identity_mismatch"
	ReasonAttributesInvalid    Reason = "enclave_attributes_invalid"
	ReasonDebugNotAllowed      Reason = "debug_not_allowed"
	ReasonTCBStatusNotAccepted Reason = "tcb_status_not_accepted"
	ReasonAdvisoryNotAccepted  Reason = "advisory_not_accepted"
	ReasonCollateralExpired    Reason = Reason(verify.ReasonCollateralExpired)
	ReasonSecretNotGranted     Reason = "secret_not_granted"
	ReasonSecretUnavailable    Reason = "secret_unavailable"
)

// Error is a policy refusal. Reason is for programs and for the peer; Workload, Want and Got are
// for the operator's log and audit record and must not be sent to the peer.
type Error struct {
	Reason   Reason
	Workload string // the workload that matched, empty for identity_mismatch
	Detail   string // what failed
	Want     string // what the policy accepts
	Got      string // what the quote showed
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("policy: ")
	if e.Workload != "" {
		b.WriteString("workload ")
		b.WriteString(e.Workload)
		b.WriteString(": ")
	}
	b.WriteString(string(e.Reason))
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Want != "" {
		b.WriteString(": want ")
		b.WriteString(e.Want)
		b.WriteString(",")
	} else if e.Got != "" {
		b.WriteString(":")
	}
	if e.Got != "" {
		b.WriteString(" got ")
		b.WriteString(e.Got)
	}
	return b.String()
}

// Is makes errors.Is(err, &policy.Error{Reason: r}) match any *Error with reason r.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ReasonOf returns the reason code of a policy or verification error: the policy Reason, the
// verify Reason, or "" for nil and for errors that carry none.
func ReasonOf(err error) string {
	if err == nil {
		return ""
	}
	if pe, ok := errors.AsType[*Error](err); ok {
		return string(pe.Reason)
	}
	return string(verify.ReasonOf(err))
}
