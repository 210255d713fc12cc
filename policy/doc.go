// Package policy decides whether a verified enclave or TD may receive secrets, and which ones.
//
// Package verify answers "is this quote genuine, and how patched is its platform"; this package
// answers "is it the workload we expect, on a platform we accept". A Policy is an ordered list of
// Workloads. Each workload names an identity — a list of MRENCLAVE values and/or an MRSIGNER with
// ISVPRODID and a minimum ISVSVN for SGX; a list of MRTD values and exact RTMRs for TDX — and the
// conditions under which it is served: accepted TCB statuses, accepted Intel advisories, whether a
// debug enclave is allowed, how long past its nextUpdate collateral may still be used, and the
// secrets it receives.
//
// # Decisions
//
// Authorize takes verify's Result and error. A verification failure other than expired
// collateral is final and keeps verify's reason. Otherwise the first workload whose identity
// matches decides (workloads are tried in order), and the checks run in a fixed order, each with
// its own reason code:
//
//	identity_mismatch           no workload's identity matches
//	enclave_attributes_invalid  SGX: INIT or MODE64BIT clear, PROVISIONKEY or EINITTOKEN set (as Gramine)
//	debug_not_allowed           a debug enclave or TD and the workload does not allow debug
//	tcb_status_not_accepted     the TCB status is not in the workload's list (Revoked never is)
//	advisory_not_accepted       an advisory ID is not in the workload's list ("*" accepts any)
//	collateral_expired          collateral outside its validity, beyond the workload's grace
//
// Everything a workload does not say is refused: no TCB status but UpToDate, no advisory, no
// debug enclave, no expired collateral. Errors are *Error values whose Error text names the
// expected and actual values for logs and audit; a peer should only be told the Reason.
//
// # Gramine drop-in
//
// FromGramineEnv builds a one-workload policy from the RA_TLS_* environment variables of Gramine's
// ra_tls_verify_dcap library (spec gramine-ratls-secretprov.md §1.8, §1.9) with Gramine ≥ 1.8
// semantics: every measurement variable must be set (to a value or to "any"), flags count only
// when exactly "1", and the status table is Gramine's. Two deliberate differences, both fail
// closed: expired collateral is accepted only with RA_TLS_ALLOW_OUTDATED_TCB_INSECURE=1 whatever
// the TCB status (Gramine checks expiry only for UpToDate), and a policy whose MRENCLAVE and
// MRSIGNER are both "any" is refused unless the caller explicitly allows it (Gramine only warns).
//
// The package does no I/O and never reads the clock: the environment is a lookup function and
// the time of the decision a parameter.
package policy
