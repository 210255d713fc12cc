// Package pcs parses and checks the documents Intel's Provisioning Certification Service
// publishes for DCAP attestation: TCB Info, Enclave (QE) Identity, CRLs, issuer chains, the SGX
// extension of PCK certificates, and the dcap-qvl collateral bundle that carries them offline.
//
// # What it owns
//
//   - Strict parsers for attacker-supplied bytes (specification:
//     shared/spec/dcap-quote-verification.md): the PCK SGX extension (§3.3), TCB Info v2/v3 for
//     SGX and TDX (§4.1), Enclave Identity v2 for QE, QVE and TD_QE (§4.2), CRLs as DER, PEM or
//     hex (§3.5), PEM chains and percent-encoded issuer-chain headers (§6.1), and the
//     dcap-qvl collateral JSON (Bundle). Sizes and counts are bounded (MaxDocumentSize,
//     MaxTCBLevels...); duplicate JSON keys, duplicate levels, unknown statuses, wrong hex
//     lengths and non-UTC dates are refused. Unknown JSON members are ignored, as QVL does:
//     Intel has added members (component "category"/"type") without a version change.
//   - Signed documents keep the exact bytes that were signed (TCBInfo.Raw, QEIdentity.Raw;
//     never re-marshalled) and CheckSignature verifies them (ECDSA P-256, SHA-256, r||s).
//   - The chain and CRL checks of Intel's QVL, in two layers. Primitives that check against a
//     root the caller already trusts, without CRLs, so that a verifier can check collateral
//     once and revocation per quote: CheckTrustedRoot (the chain's root is the trusted one),
//     CheckIssued (one link: common-name fragment, issuer name, ECDSA-SHA256, signature),
//     CheckPCKLeafExtensions (the standard extensions QVL requires in a PCK certificate, §3.3),
//     CheckPCKLinks (PCK CA and PCK certificate below the root, §5.2) and
//     VerifyPCKCRLIssuerChain (§3.5); and QVL's complete steps built on them, with the root's
//     self-signature and the CRLs: VerifyPCKChain (§5.2), VerifyTCBSigningChain (§5.3, §5.4).
//     Also VerifyCRL, CheckCRLTime, CheckRevocation, and validity windows (Validity, WindowOf,
//     Bundle.Validities; §5.1 step 5, §5.10) that say which item expires first.
//   - MarshalPCKExtensions and Bundle.MarshalJSON, inverses of the parsers, for simulators and
//     for converting PCS responses to the offline layout.
//
// # What it does not do
//
// It performs no I/O (fetching is package collateral), never reads the clock (every time is a
// parameter; a zero time is refused), never logs, and has no cache. It does not match TCB
// levels, combine statuses or decide a verdict: that is package verify (§5.5–§5.9). Parsing
// is not verification: a parsed document must not be trusted before its signature and signing
// chain have been checked. Time checks are separate from chain checks so that the caller can
// choose Intel's semantics (expiry reported, not fatal; certificate notBefore ignored) or
// strict ones (§5.10).
//
// # Errors
//
// Every error is an *Error with a Kind (what went wrong) and a Doc (which item). Branch with
// errors.Is on the sentinels (ErrFormat, ErrSignature, ErrChain, ErrUntrusted, ErrRevoked,
// ErrExpired, ErrMismatch) or on a pattern such as &Error{Kind: KindRevoked, Doc: DocPCKCert}.
// A verifier's reasons map as follows:
//
//	KindExpired (any Doc)                              collateral_expired
//	KindRevoked, DocPCKCert or DocPCKCA                pck_revoked
//	KindMismatch, DocTCBInfo / DocQEIdentity / Bundle  collateral_mismatch
//	any other Kind, DocRootCRL / DocPCKCRL / DocCRL    crl_invalid
//	any other Kind, DocTCBInfo or its signing chain    tcb_info_invalid
//	any other Kind, DocQEIdentity or its signing chain qe_identity_invalid
//	any other Kind, DocPCKCert / DocPCKCA / DocRootCA  pck_chain_invalid (DocPCKExtensions too)
//
// VerifyTCBSigningChain reports DocTCBSigningCert, DocRootCA or a CRL doc; the caller knows
// whether it was checking the TCB Info or the QE Identity chain. Likewise
// VerifyPCKCRLIssuerChain reports DocPCKCA or DocRootCA for what is a crl_invalid case.
//
// # Usage
//
//	b, err := pcs.ParseBundleJSON(raw)
//	// ...
//	caType, err := pcs.VerifyPCKChain(pckChain, intelRoot, b.RootCRL, b.PCKCRL)
//	err = pcs.VerifyTCBSigningChain(b.TCBInfoIssuerChain, intelRoot, b.RootCRL)
//	err = b.TCBInfo.CheckSignature(b.TCBInfoIssuerChain[0])
//	ext, err := pcs.ParsePCKExtensions(pckChain[0])
//	err = b.TCBInfo.CheckFor(q.Header.TEE, ext.FMSPC, ext.PCEID)
//	window := pcs.WindowOf(b.Validities(pckChain...)...)
//	expired := window.Check(at) != nil
package pcs
