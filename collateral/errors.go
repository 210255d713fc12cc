package collateral

import (
	"errors"
	"strconv"
	"strings"
)

// Sentinels for errors.Is. Every error of this package about one item is an *Error whose
// Reason is one of these; its Err (the cause: a pcs, x509, net or context error) is matched
// too.
var (
	// ErrStatus: the service answered with a non-2xx HTTP status (Error.Status says which).
	ErrStatus = errors.New("unexpected HTTP status")
	// ErrTransport: no response (connection refused, reset, per-attempt timeout...).
	ErrTransport = errors.New("no response")
	// ErrTooLarge: a response body or header is larger than the configured limit.
	ErrTooLarge = errors.New("response too large")
	// ErrMalformed: the response lacks a required header or has an undecodable one.
	ErrMalformed = errors.New("malformed response")
	// ErrInvalid: the document does not parse, its issuer chain or signature does not verify
	// against the trust root, or it is not the document asked for (FMSPC, TEE, CA).
	ErrInvalid = errors.New("invalid document")
	// ErrRollback: a correctly signed document is older than the one already cached (lower
	// TCB evaluation data number or CRL number, earlier issue date); the cached one is kept.
	ErrRollback = errors.New("older than the cached document")
	// ErrDisk: the cache directory could not be read or written.
	ErrDisk = errors.New("cache directory")
	// ErrNotCached: Cache.CachedEarlyBundle needs a document the cache does not hold yet; Run
	// fetches it in the background.
	ErrNotCached = errors.New("not cached")
)

// Error reports a failure about one collateral item.
type Error struct {
	Op     string // "fetch", "check", "load" or "save"
	Item   Item
	URL    string // the request URL, when there is one
	Status int    // the HTTP status, when there was a response
	Reason error  // one of the package's sentinels
	Detail string // short human detail; never more than a short prefix of a response body
	Err    error  // the cause, if any
}

// Error formats as "collateral: <op> <item>: <url>: status <n>: <reason>: <detail>: <cause>",
// leaving out empty parts.
func (e *Error) Error() string {
	parts := []string{"collateral", e.Op + " " + e.Item.String()}
	if e.URL != "" {
		parts = append(parts, e.URL)
	}
	if e.Status != 0 {
		parts = append(parts, "status "+strconv.Itoa(e.Status))
	}
	if e.Reason != nil {
		parts = append(parts, e.Reason.Error())
	}
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the Reason and the cause, so errors.Is matches either.
func (e *Error) Unwrap() []error {
	var errs []error
	for _, err := range []error{e.Reason, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// maxDetail bounds the part of a response body quoted in an error.
const maxDetail = 96

// snippet returns a printable prefix of b, at most maxDetail bytes, for error messages.
func snippet(b []byte) string {
	if len(b) > maxDetail {
		b = b[:maxDetail]
	}
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			sb.WriteByte('.')
		}
	}
	return sb.String()
}
