package ratls

import (
	"errors"
	"strings"

	"github.com/secretprov/secretprov/verify"
)

// Reason is the stable, machine-readable cause of a refusal. Its values are part of the CLI's JSON
// contract and never change meaning; branch on them (ReasonOf, errors.Is with the sentinels), not
// on Error strings.
//
// Reasons of package verify pass through unchanged: when the quote verifier refuses, ReasonOf
// returns the verifier's reason (e.g. "pck_revoked") and verify.ReasonOf still finds the
// *verify.Error in the chain. A quote that does not parse is reported as verify's
// "quote_malformed" or "quote_unsupported".
type Reason string

// The reasons this package adds, in the order the checks run.
const (
	// ReasonChainInvalid: the peer did not present exactly one certificate (Gramine requires
	// depth 0), or, for ClientConfig, the server certificate did not verify against the roots
	// and server name.
	ReasonChainInvalid Reason = "chain_invalid"
	// ReasonCertificateMalformed: the bytes are not an X.509 certificate crypto/x509 accepts.
	ReasonCertificateMalformed Reason = "certificate_malformed"
	// ReasonExtensionMissing: neither the TCG DICE tagged-evidence extension nor a legacy SGX
	// quote extension is present.
	ReasonExtensionMissing Reason = "extension_missing"
	// ReasonExtensionMalformed: an RA-TLS extension is critical, outside the size limits,
	// or its CBOR does not follow the tagged-evidence format (including a missing or
	// ill-formed pubkey-hash claim).
	ReasonExtensionMalformed Reason = "extension_malformed"
	// ReasonEvidenceConflict: the certificate carries two quotes that do not describe the same
	// enclave, or two legacy extensions.
	ReasonEvidenceConflict Reason = "evidence_conflict"
	// ReasonKeyUnsupported: the certificate key is not ECDSA P-256, ECDSA P-384 or RSA-3072
	// with exponent 65537.
	ReasonKeyUnsupported Reason = "key_unsupported"
	// ReasonBindingInvalid: the quote's report data does not bind the certificate key.
	ReasonBindingInvalid Reason = "binding_invalid"
	// ReasonVerificationFailed: the quote verifier failed with an error that carries no
	// verify.Reason, or returned no result.
	ReasonVerificationFailed Reason = "verification_failed"
	// ReasonIdentityMismatch: a built-in Authorizer refused the verified evidence.
	ReasonIdentityMismatch Reason = "identity_mismatch"
	// ReasonUnauthorized: a caller-supplied Authorizer refused with an error that is not an
	// *Error of this package.
	ReasonUnauthorized Reason = "unauthorized"
)

// Reasons lists every Reason this package itself returns (the built-in authorizers' included);
// the reasons of package verify (verify.Reasons) come on top.
func Reasons() []Reason {
	return []Reason{
		ReasonChainInvalid, ReasonCertificateMalformed, ReasonExtensionMissing,
		ReasonExtensionMalformed, ReasonEvidenceConflict, ReasonKeyUnsupported,
		ReasonBindingInvalid, ReasonVerificationFailed, ReasonIdentityMismatch,
		ReasonUnauthorized, ReasonTCBRefused, ReasonAttributesRefused,
	}
}

// Sentinels, one per Reason of this package: errors.Is(err, ratls.ErrBindingInvalid) holds for
// every *Error whose Reason is ReasonBindingInvalid.
var (
	ErrChainInvalid         = &Error{Reason: ReasonChainInvalid}
	ErrCertificateMalformed = &Error{Reason: ReasonCertificateMalformed}
	ErrExtensionMissing     = &Error{Reason: ReasonExtensionMissing}
	ErrExtensionMalformed   = &Error{Reason: ReasonExtensionMalformed}
	ErrEvidenceConflict     = &Error{Reason: ReasonEvidenceConflict}
	ErrKeyUnsupported       = &Error{Reason: ReasonKeyUnsupported}
	ErrBindingInvalid       = &Error{Reason: ReasonBindingInvalid}
	ErrVerificationFailed   = &Error{Reason: ReasonVerificationFailed}
	ErrIdentityMismatch     = &Error{Reason: ReasonIdentityMismatch}
	ErrUnauthorized         = &Error{Reason: ReasonUnauthorized}
)

// Error is the error type of every refusal by this package. Reason is for programs; Step and Err
// are for people (logs, the CLI's "error" field).
type Error struct {
	Reason Reason
	Step   string // the check that failed, e.g. "tcg extension"
	Err    error  // the cause; a *verify.Error for verifier refusals; may be nil
}

// Error returns e.g. "ratls: tcg extension: claims: pubkey-hash claim missing".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ratls: ")
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString(": ")
	}
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(strings.ReplaceAll(string(e.Reason), "_", " "))
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Reason; this makes the sentinels match.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// ReasonOf returns the Reason of the first *Error in err's chain; failing that, the reason of the
// first *verify.Error; failing that, "" (nil err, or an error that is not a refusal).
func ReasonOf(err error) Reason {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Reason
	}
	return Reason(verify.ReasonOf(err))
}

// refuse builds an *Error with a short description as its cause.
func refuse(r Reason, step, detail string) *Error {
	return &Error{Reason: r, Step: step, Err: errors.New(detail)}
}

// refuseErr builds an *Error around a cause.
func refuseErr(r Reason, step string, cause error) *Error {
	return &Error{Reason: r, Step: step, Err: cause}
}
