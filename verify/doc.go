// Package verify decides whether an Intel DCAP quote (SGX quote v3, TDX quote v4/v5) is genuine,
// from which enclave or TD, and how patched its platform is, with the verdicts of Intel's QVL and
// QvE. It does not decide whether that enclave is the one you want: that is package policy.
//
// # What it owns
//
// The verification algorithm of shared/spec/dcap-quote-verification.md §5:
//
//   - §5.1–5.2 the PCK certificate chain from the quote, verified to the trusted root (the
//     embedded Intel SGX Root CA, pinned by key), including the standard extensions QVL
//     requires in the PCK certificate (§3.3), the root CA CRL and the PCK CRL (issuer,
//     required extensions, signature), revocation of the PCK CA and of the PCK certificate;
//   - §5.3–5.4 TCB Info and QE Identity: TCB Signing chain (revocation included), signatures
//     over the exact signed bytes;
//   - §5.5 collateral matching (TCB Info and QE Identity ids against the TEE type, FMSPC and
//     PCE-ID against the PCK certificate, compared as bytes), the QE report signature by the
//     PCK key, the QE report binding (§2.7), the QE identity (§5.6), the quote signature by
//     the attestation key, the TDX module identity;
//   - §5.7–5.8 TCB level matching and status convergence (platform × TDX module × QE), Intel's
//     TD relaunch rule for TDX 1.5;
//   - §5.10 time: every certificate, CRL and document is judged at the explicit time `at`.
//
// The result is a Result (TEE, quote version, Intel's TCB status string, advisory IDs, a
// collateral-expired flag, FMSPC, TCB date, earliest expiry, and the identity) or an *Error
// with a stable Reason naming the failed step, the expected and the actual value.
//
// # What it does not do
//
// No I/O (collateral comes from a CollateralSource; fetching is package collateral), no
// clock (a zero time is refused), no logging, no goroutines, no policy (debug enclaves,
// measurements, acceptable statuses and advisories are package policy's). Parsing is
// packages quote and pcs, and so are the individual certificate-link, chain-shape and CRL
// checks (pcs.CheckTrustedRoot, pcs.CheckIssued, pcs.CheckPCKLinks,
// pcs.VerifyPCKCRLIssuerChain, pcs.VerifyCRL); this package orders them and caches results. Only ECDSA P-256 attestation keys and PCK chains in the quote
// (certification data type 5) are supported, as in Intel's QvE.
//
// # Reasons
//
// Checks run in this order; the first failure decides the Reason:
//
//	quote_malformed              the quote does not parse (truncated, garbage, bad lengths)
//	quote_unsupported            a quote format Intel defines but this package does not take:
//	                             version, attestation key type, TEE, QE vendor, certification
//	                             data type other than a PCK chain
//	pck_chain_invalid            the quote's PCK chain: not 3 certificates, wrong names, a bad
//	                             signature, not ending in the trusted root, a PCK certificate
//	                             without AKI, CRL distribution points, SKI, key usage or basic
//	                             constraints (PCK_CERT_CHAIN_*, PCK_CERT_CHAIN_UNTRUSTED)
//	collateral_unavailable       the CollateralSource failed or returned nothing
//	crl_invalid                  root CA CRL or PCK CRL: wrong issuer, missing CRL Number/AKI
//	                             or nextUpdate, bad signature; a PCK CRL issuer chain that does
//	                             not verify
//	tcb_info_invalid             TCB Info: signing chain, signature (TCB_INFO_INVALID_SIGNATURE),
//	                             version; TCB Signing certificate revoked by the root CRL
//	                             (TCB_SIGNING_CERT_REVOKED)
//	qe_identity_invalid          the same for the QE Identity
//	pck_revoked                  the PCK certificate is in the PCK CRL (PCK_REVOKED), or its CA
//	                             is in the root CRL (INTERMEDIATE_CA_REVOKED)
//	collateral_mismatch          collateral for another platform or TEE: PCK CRL from another
//	                             CA; TCB Info id vs TEE type, v2 TCB Info for a TDX quote,
//	                             FMSPC or PCE-ID (TCB_INFO_MISMATCH); QE Identity id vs TEE
//	                             (QE_IDENTITY_MISMATCH of the id); TDX module identity missing
//	                             or MRSIGNERSEAM/SEAMATTRIBUTES differ (TDX_MODULE_MISMATCH)
//	qe_report_signature_invalid  the PCK key did not sign the QE report
//	qe_report_binding_invalid    the QE report data does not commit to the attestation key and
//	                             QE authentication data (INVALID_QE_REPORT_DATA)
//	qe_identity_mismatch         the QE report's MISCSELECT, ATTRIBUTES (masked), MRSIGNER or
//	                             ISVPRODID differ from the QE Identity
//	quote_signature_invalid      the attestation key did not sign the quote header and body
//	tcb_not_supported            no platform TCB level matches; the QE ISVSVN or the TDX module
//	                             ISVSVN is below every level (TCB_NOT_SUPPORTED)
//	tcb_revoked                  the converged status is Revoked (platform, TDX module or QE
//	                             level Revoked); Result.TCBStatus is "Revoked"
//	collateral_expired           everything verified, but `at` is outside the validity of some
//	                             certificate, CRL or document (WithExpiredCollateralAllowed
//	                             turns this into success with Result.CollateralExpired set)
//
// Non-terminal Intel outcomes (OutOfDate, ConfigurationNeeded, SWHardeningNeeded, …) are not
// errors: they are Result.TCBStatus, for policy to judge. One deliberate change of order
// against QVL: the TDX module check (QVL step 4.1.2.4.11) runs after the quote signature, so
// that no field of an unauthenticated body is interpreted; a forged body is always
// quote_signature_invalid.
//
// # Advisories
//
// Result.AdvisoryIDs are the matched platform TCB level's advisories (for TDX the TDX level's),
// which is what Intel's QvE reports (dcap spec §5.8; dcap-qvl also merges the QE level's). The
// QE and TDX module levels' advisories are in QEAdvisoryIDs and ModuleAdvisoryIDs. TD relaunch
// advice (TDX 1.5) is Result.TDRelaunchAdvised; TCBStatus then stays OutOfDate or
// OutOfDateConfigurationNeeded.
//
// # Time
//
// Time is always the explicit `at`. Intel semantics for the verdict, strict semantics for the
// flag: the TCB verdict is computed whatever the dates, and Result.CollateralExpired is set
// when `at` is before a notBefore / thisUpdate / issueDate ("from the future") or after a
// notAfter / nextUpdate, bounds inclusive, of any item: the PCK chain and trusted root, both
// CRLs, both issuer chains, TCB Info and QE Identity. Result.EarliestExpiry is the earliest of
// their ends. Expiry is reported as collateral_expired only when nothing else failed, and the
// full Result comes with it.
//
// # Speed
//
// A Verifier checks each collateral bundle once when it first sees it (signatures, chains,
// CRLs, revoked-serial sets; nothing here depends on time or on the quote) and remembers it by
// pointer, so sources must not modify a Bundle they handed out. Verified PCK chains are cached
// by SHA-256 of their PEM bytes, verified QE report signatures by SHA-256 of report, signature
// and PCK key (bounded LRU caches, WithCacheSize). Per quote remain: hashing, cache and
// revocation-set lookups, comparisons, and one ECDSA verification (the quote signature). The
// cold Quote does everything from scratch; both paths run the same step functions.
//
// # Usage
//
//	v, err := verify.New(source) // e.g. verify.Static(bundle), or a collateral cache
//	res, err := v.Verify(ctx, q, time.Now())
//	switch {
//	case err == nil:
//		// genuine; judge res.TCBStatus, res.AdvisoryIDs and res.Identity by policy
//	case errors.Is(err, verify.ErrCollateralExpired):
//		// genuine, res.TCBStatus is set, but the collateral is stale
//	default:
//		log.Println(verify.ReasonOf(err), err) // res still holds the quote's identity
//	}
package verify
