package ratls

import (
	"context"
	"crypto/x509"
	"errors"
	"time"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// QuoteVerifier decides whether a quote is genuine and how patched its platform is.
// *verify.Verifier satisfies it. Implementations must be safe for concurrent use: the TLS
// helpers call Verify from every handshake.
type QuoteVerifier interface {
	Verify(ctx context.Context, q *quote.Quote, at time.Time) (*verify.Result, error)
}

// Evidence is what a verified RA-TLS certificate establishes: the verifier's result (TCB status,
// identity), the binding format, and the certificate whose key the TLS handshake proved the peer
// holds. Evidence is not an authorization: an Authorizer (or package policy) decides.
type Evidence struct {
	Result      *verify.Result
	Binding     Binding
	Certificate *x509.Certificate
	Quote       *quote.Quote
}

// VerifyCertificate parses cert (ParseX509) and verifies its quote with v at time at.
//
// When the certificate parsed but the verifier refused, the returned *Evidence is non-nil
// together with the error (its Result is the verifier's partial result, possibly nil), so that
// logs and audit records can name the refused enclave; it must not be used for authorization.
// On every other error the *Evidence is nil.
//
// A verifier refusal keeps its reason: ReasonOf returns the *verify.Error's reason and
// verify.ReasonOf/errors.Is with verify's sentinels still work. A verifier error without a
// verify reason (a context deadline, a zero time) is ReasonVerificationFailed.
func VerifyCertificate(ctx context.Context, cert *x509.Certificate, v QuoteVerifier, at time.Time) (*Evidence, error) {
	c, err := ParseX509(cert)
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(ctx, c.Quote, at)
	ev := &Evidence{Result: res, Binding: c.Binding, Certificate: cert, Quote: c.Quote}
	if err != nil {
		return ev, verifierError(err)
	}
	if res == nil {
		return ev, refuse(ReasonVerificationFailed, "quote verification", "verifier returned no result")
	}
	return ev, nil
}

func verifierError(err error) error {
	const step = "quote verification"
	if ve, ok := errors.AsType[*verify.Error](err); ok {
		return refuseErr(Reason(ve.Reason), step, err)
	}
	return refuseErr(ReasonVerificationFailed, step, err)
}
