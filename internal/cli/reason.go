package cli

import (
	"errors"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/ratls"
)

// reasonOf is the stable reason code of any refusal the CLI reports: a policy reason, else an
// RA-TLS reason, else the verifier's (ratls.ReasonOf falls through to verify's).
func reasonOf(err error) string {
	if _, ok := errors.AsType[*policy.Error](err); ok {
		return policy.ReasonOf(err)
	}
	return string(ratls.ReasonOf(err))
}
