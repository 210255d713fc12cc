package ratls

import (
	"fmt"
	"slices"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Authorizer decides whether verified evidence is acceptable. It runs after the quote verified
// and the key binding held; a nil return authorizes the peer. An error that is not an *Error is
// reported as ReasonUnauthorized.
type Authorizer func(ev *Evidence) error

// Reasons of the built-in authorizers.
const (
	// ReasonTCBRefused: the TCB status is not UpToDate, or the collateral has expired.
	ReasonTCBRefused Reason = "tcb_refused"
	// ReasonAttributesRefused: a debug enclave, or SGX attributes Gramine refuses (not
	// INITIALIZED, not MODE64BIT, PROVISION_KEY or EINITTOKEN_KEY set).
	ReasonAttributesRefused Reason = "attributes_refused"
)

// SGX ATTRIBUTES.FLAGS bits (spec §1.6).
const (
	flagInitialized  = 0x01
	flagDebug        = 0x02
	flagMode64Bit    = 0x04
	flagProvisionKey = 0x10
	flagEINITToken   = 0x20
)

// AuthorizeAnyInsecure accepts any evidence the verifier accepted: any enclave, any TCB status
// the verifier did not refuse, debug enclaves too. For tests and inspection only.
func AuthorizeAnyInsecure() Authorizer {
	return func(*Evidence) error { return nil }
}

// AuthorizeMREnclave accepts an SGX enclave whose MRENCLAVE is one of allowed, with Gramine's
// default platform rules (those of a verifier with no RA_TLS_ALLOW_* variable set): TCB status
// UpToDate, collateral not expired, not a debug enclave, INITIALIZED and MODE64BIT set,
// PROVISION_KEY and EINITTOKEN_KEY clear. Anything looser (other TCB statuses, advisories,
// debug) is package policy's job, or a custom Authorizer's.
func AuthorizeMREnclave(allowed ...quote.Measurement) Authorizer {
	allowed = slices.Clone(allowed)
	return func(ev *Evidence) error {
		r, err := sgxBaseline(ev)
		if err != nil {
			return err
		}
		if !slices.Contains(allowed, r.MREnclave) {
			return refuse(ReasonIdentityMismatch, "authorize", "MRENCLAVE "+r.MREnclave.String()+" not allowed")
		}
		return nil
	}
}

// AuthorizeMRSigner accepts an SGX enclave signed by signer with ISV_PROD_ID prodID and ISV_SVN
// at least minSVN (Gramine's RA_TLS_MRSIGNER, RA_TLS_ISV_PROD_ID, RA_TLS_ISV_SVN), under the
// same default platform rules as AuthorizeMREnclave.
func AuthorizeMRSigner(signer quote.Measurement, prodID, minSVN uint16) Authorizer {
	return func(ev *Evidence) error {
		r, err := sgxBaseline(ev)
		if err != nil {
			return err
		}
		switch {
		case r.MRSigner != signer:
			return refuse(ReasonIdentityMismatch, "authorize", "MRSIGNER "+r.MRSigner.String()+" not allowed")
		case r.ISVProdID != prodID:
			return refuse(ReasonIdentityMismatch, "authorize", fmt.Sprintf("ISV_PROD_ID %d, want %d", r.ISVProdID, prodID))
		case r.ISVSVN < minSVN:
			return refuse(ReasonIdentityMismatch, "authorize", fmt.Sprintf("ISV_SVN %d, want >= %d", r.ISVSVN, minSVN))
		}
		return nil
	}
}

// sgxBaseline returns the verified SGX report after Gramine's default platform checks.
func sgxBaseline(ev *Evidence) (*quote.EnclaveReport, error) {
	if ev == nil || ev.Result == nil || ev.Result.SGX == nil {
		return nil, refuse(ReasonIdentityMismatch, "authorize", "not a verified SGX enclave")
	}
	res := ev.Result
	if res.TCBStatus != pcs.StatusUpToDate || res.CollateralExpired {
		return nil, refuse(ReasonTCBRefused, "authorize",
			fmt.Sprintf("TCB status %q, collateral expired %t", res.TCBStatus, res.CollateralExpired))
	}
	flags := res.SGX.Attributes[0]
	switch {
	case flags&flagDebug != 0:
		return nil, refuse(ReasonAttributesRefused, "authorize", "debug enclave")
	case flags&flagInitialized == 0, flags&flagMode64Bit == 0:
		return nil, refuse(ReasonAttributesRefused, "authorize", "enclave not initialized or not 64-bit")
	case flags&(flagProvisionKey|flagEINITToken) != 0:
		return nil, refuse(ReasonAttributesRefused, "authorize", "enclave has PROVISION_KEY or EINITTOKEN_KEY")
	}
	return res.SGX, nil
}
