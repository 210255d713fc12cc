package verify

import (
	"errors"
	"strings"
)

// Reason is the stable, machine-readable cause of a refusal. Its values are part of the CLI's
// JSON contract ("reason") and never change meaning; branch on them, not on Error strings.
type Reason string

// The reasons. The package documentation lists them in the order the checks run and maps
// Intel's QVL/QvE status codes onto them.
const (
	ReasonQuoteMalformed           Reason = "quote_malformed"
	ReasonQuoteUnsupported         Reason = "quote_unsupported"
	ReasonPCKChainInvalid          Reason = "pck_chain_invalid"
	ReasonPCKRevoked               Reason = "pck_revoked"
	ReasonCollateralUnavailable    Reason = "collateral_unavailable"
	ReasonCRLInvalid               Reason = "crl_invalid"
	ReasonTCBInfoInvalid           Reason = "tcb_info_invalid"
	ReasonQEIdentityInvalid        Reason = "qe_identity_invalid"
	ReasonCollateralMismatch       Reason = "collateral_mismatch"
	ReasonQEReportSignatureInvalid Reason = "qe_report_signature_invalid"
	ReasonQEReportBindingInvalid   Reason = "qe_report_binding_invalid"
	ReasonQEIdentityMismatch       Reason = "qe_identity_mismatch"
	ReasonQuoteSignatureInvalid    Reason = "quote_signature_invalid"
	ReasonTCBNotSupported          Reason = "tcb_not_supported"
	ReasonTCBRevoked               Reason = "tcb_revoked"
	ReasonCollateralExpired        Reason = "collateral_expired"
)

// Reasons lists every Reason this package returns.
func Reasons() []Reason {
	return []Reason{
		ReasonQuoteMalformed, ReasonQuoteUnsupported, ReasonPCKChainInvalid, ReasonPCKRevoked,
		ReasonCollateralUnavailable, ReasonCRLInvalid, ReasonTCBInfoInvalid,
		ReasonQEIdentityInvalid, ReasonCollateralMismatch, ReasonQEReportSignatureInvalid,
		ReasonQEReportBindingInvalid, ReasonQEIdentityMismatch, ReasonQuoteSignatureInvalid,
		ReasonTCBNotSupported, ReasonTCBRevoked, ReasonCollateralExpired,
	}
}

// Sentinels, one per Reason, for errors.Is: errors.Is(err, verify.ErrPCKRevoked) holds for
// every *Error whose Reason is ReasonPCKRevoked, whatever its step or values.
var (
	ErrQuoteMalformed           = &Error{Reason: ReasonQuoteMalformed}
	ErrQuoteUnsupported         = &Error{Reason: ReasonQuoteUnsupported}
	ErrPCKChainInvalid          = &Error{Reason: ReasonPCKChainInvalid}
	ErrPCKRevoked               = &Error{Reason: ReasonPCKRevoked}
	ErrCollateralUnavailable    = &Error{Reason: ReasonCollateralUnavailable}
	ErrCRLInvalid               = &Error{Reason: ReasonCRLInvalid}
	ErrTCBInfoInvalid           = &Error{Reason: ReasonTCBInfoInvalid}
	ErrQEIdentityInvalid        = &Error{Reason: ReasonQEIdentityInvalid}
	ErrCollateralMismatch       = &Error{Reason: ReasonCollateralMismatch}
	ErrQEReportSignatureInvalid = &Error{Reason: ReasonQEReportSignatureInvalid}
	ErrQEReportBindingInvalid   = &Error{Reason: ReasonQEReportBindingInvalid}
	ErrQEIdentityMismatch       = &Error{Reason: ReasonQEIdentityMismatch}
	ErrQuoteSignatureInvalid    = &Error{Reason: ReasonQuoteSignatureInvalid}
	ErrTCBNotSupported          = &Error{Reason: ReasonTCBNotSupported}
	ErrTCBRevoked               = &Error{Reason: ReasonTCBRevoked}
	ErrCollateralExpired        = &Error{Reason: ReasonCollateralExpired}
)

// Error is the only error type returned for a refused quote. Reason is for programs; Step, Want,
// Got and Err are for people (logs, the CLI's "error" field).
type Error struct {
	Reason Reason
	Step   string // the check that failed, e.g. "qe report binding"
	Want   string // the expected value, when a comparison failed (hex, decimal, time)
	Got    string // the actual value
	Err    error  // the cause (a parse, x509 or pcs error, or a description), may be nil
}

// Error returns a sentence naming the step and the expected and actual values, e.g.
// "verify: qe report binding: report data does not commit to the attestation key: want 3fa1…,
// got 0000…".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("verify: ")
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(strings.ReplaceAll(string(e.Reason), "_", " "))
	}
	if e.Want != "" || e.Got != "" {
		b.WriteString(": want ")
		b.WriteString(orNone(e.Want))
		b.WriteString(", got ")
		b.WriteString(orNone(e.Got))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason; this makes the sentinels match.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ReasonOf returns the Reason of the first *Error in err's chain, or "" if there is none (nil
// err, or a caller error such as a zero verification time).
func ReasonOf(err error) Reason {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return ""
}

// fail builds an *Error; cause is a short description or an underlying error.
func fail(r Reason, step string, cause error) *Error {
	return &Error{Reason: r, Step: step, Err: cause}
}

// mismatch builds an *Error for a failed comparison.
func mismatch(r Reason, step, what, want, got string) *Error {
	return &Error{Reason: r, Step: step, Want: want, Got: got, Err: errors.New(what)}
}
