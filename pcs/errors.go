package pcs

import (
	"errors"
	"strings"
)

// Kind classifies why a collateral document or certificate was refused. A verifier maps it,
// together with the Doc, to its own reason codes (see the package documentation).
type Kind string

// The kinds of failure reported by this package.
const (
	// KindFormat: the bytes are malformed, use an unsupported version, break a size limit or
	// violate a field rule (hex length, date format, status value, duplicate level...).
	KindFormat Kind = "format"
	// KindSignature: a signature (document, certificate or CRL) does not verify, or the
	// signer's key cannot produce it (not ECDSA P-256).
	KindSignature Kind = "signature"
	// KindChain: a certificate chain has the wrong shape: certificate count, subject common
	// names, issuer/subject linkage, CA constraints, unknown PCK CA.
	KindChain Kind = "chain"
	// KindUntrusted: a chain ends in a root that is not the trusted root.
	KindUntrusted Kind = "untrusted"
	// KindRevoked: a certificate's serial number is listed in the relevant CRL.
	KindRevoked Kind = "revoked"
	// KindExpired: the verification time is outside an item's validity window (expired or
	// not yet valid).
	KindExpired Kind = "expired"
	// KindMismatch: a well-formed, correctly signed item is not the one that was needed
	// (TCB Info id/FMSPC/PCE-ID, QE Identity id, CRL issuer, bundle key).
	KindMismatch Kind = "mismatch"
)

// Doc names the item an error is about.
type Doc string

// The items this package checks.
const (
	DocTCBInfo        Doc = "tcb info"
	DocQEIdentity     Doc = "qe identity"
	DocRootCRL        Doc = "root crl"
	DocPCKCRL         Doc = "pck crl"
	DocCRL            Doc = "crl" // a CRL that could not be parsed far enough to tell which
	DocRootCA         Doc = "root ca"
	DocPCKCA          Doc = "pck ca"
	DocPCKCert        Doc = "pck certificate"
	DocPCKExtensions  Doc = "pck sgx extension"
	DocTCBSigningCert Doc = "tcb signing certificate"
	DocChain          Doc = "certificate chain"
	DocBundle         Doc = "bundle"
)

// Error is the only error type returned by this package. Kind and Doc are stable and meant for
// branching; Detail is for humans; Err is the underlying cause (x509, asn1, json...), if any.
type Error struct {
	Kind   Kind
	Doc    Doc
	Detail string
	Err    error
}

// Sentinels for errors.Is. A sentinel matches every *Error of its Kind, whatever the Doc. To
// match a Kind for one Doc only, use a target such as &Error{Kind: KindRevoked, Doc: DocPCKCert}.
var (
	ErrFormat    = &Error{Kind: KindFormat}
	ErrSignature = &Error{Kind: KindSignature}
	ErrChain     = &Error{Kind: KindChain}
	ErrUntrusted = &Error{Kind: KindUntrusted}
	ErrRevoked   = &Error{Kind: KindRevoked}
	ErrExpired   = &Error{Kind: KindExpired}
	ErrMismatch  = &Error{Kind: KindMismatch}
)

// Error formats as "pcs: <doc>: <kind>: <detail>: <cause>", leaving out empty parts.
func (e *Error) Error() string {
	parts := make([]string, 0, 5)
	parts = append(parts, "pcs")
	if e.Doc != "" {
		parts = append(parts, string(e.Doc))
	}
	if e.Kind != "" {
		parts = append(parts, string(e.Kind))
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error pattern matched by e: a target's empty Kind or Doc
// matches anything; a target carrying a Detail or a cause only matches itself.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok || t.Detail != "" || t.Err != nil {
		return false
	}
	return (t.Kind == "" || t.Kind == e.Kind) && (t.Doc == "" || t.Doc == e.Doc)
}

func newErr(kind Kind, doc Doc, detail string, cause error) *Error {
	return &Error{Kind: kind, Doc: doc, Detail: detail, Err: cause}
}

func formatErr(doc Doc, detail string, cause error) *Error {
	return newErr(KindFormat, doc, detail, cause)
}

// retag rewrites an *Error produced by a generic parser so that it names the item it was
// parsing; prefix is prepended to the detail. Other errors become format errors.
func retag(err error, doc Doc, prefix string) error {
	if err == nil {
		return nil
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return formatErr(doc, prefix, err)
	}
	detail := prefix
	if e.Detail != "" {
		detail = prefix + ": " + e.Detail
	}
	return &Error{Kind: e.Kind, Doc: doc, Detail: detail, Err: e.Err}
}
