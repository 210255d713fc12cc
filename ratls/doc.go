// Package ratls creates, parses and verifies RA-TLS certificates, byte-compatible with Gramine's,
// and builds tls.Config values that use them.
//
// An RA-TLS certificate is a self-signed X.509 certificate whose extensions carry an SGX (or
// TDX) quote that binds the certificate's public key. The TLS handshake proves that the peer
// holds the key; the quote proves which enclave generated it.
//
// # What it owns
//
//   - Creation (NewCertificate), as Gramine's ra_tls_create_key_and_crt does it
//     (docs: shared/spec/gramine-ratls-secretprov.md §1.2–§1.5): a fresh ECDSA P-384 key
//     (P-256 or RSA-3072 on request), the legacy raw-quote extension at the OID Gramine
//     really writes (0.6.9.42.840.113741.1337.6) and the TCG DICE tagged-evidence extension
//     (2.23.133.5.4.9: CBOR tag 60000 over [quote, claims], claims {"pubkey-hash": [1,
//     SHA-256(SPKI)]}), with exactly the CBOR bytes Gramine writes, and every extension value
//     within the sizes Gramine's crude extension finder accepts (§1.7).
//   - Parsing and key binding (ParseCertificate, ParseX509; §1.8 step 1): the TCG extension
//     first and final, else the legacy one at either OID; the size limits of Gramine; strict,
//     bounded CBOR; P-256, P-384 and RSA-3072 keys; a certificate with both extensions is
//     refused unless both quotes come from the same enclave.
//   - Verification (VerifyCertificate): the parsed quote handed to a QuoteVerifier
//     (*verify.Verifier in production), giving Evidence.
//   - tls.Config helpers in the style of go-spiffe's tlsconfig: ServerConfig (a provisioning
//     server that requires an RA-TLS client certificate), ClientConfig (an enclave presenting
//     its RA-TLS certificate to an ordinary server), VerifyingClientConfig (a client verifying
//     an RA-TLS server), the Hook* twins, and the VerifyConnection primitive. Authorizers
//     decide what evidence is acceptable.
//   - Errors: *Error with a Reason (ReasonOf); the reasons of package verify pass through.
//
// # What it does not do
//
// It does not verify quotes (package verify), fetch collateral (package collateral), obtain
// quotes inside an enclave (package attest), or express workload policy beyond the Gramine
// defaults of AuthorizeMREnclave and AuthorizeMRSigner (package policy). It does not check the
// certificate's validity dates or self-signature, as Gramine does not (§1.10): the handshake's
// proof of possession plus the quote's binding are what count. RA-TLS has no freshness: a
// certificate can be replayed by whoever holds its key, until its quote no longer verifies.
//
// Stricter than Gramine, on purpose: the pubkey-hash claim is required (Gramine accepts a
// claims map without it, which then binds no key at all); a critical RA-TLS extension,
// duplicate CBOR map keys, indefinite lengths and a disagreeing second quote are refused.
//
// # Per-connection evidence
//
// crypto/tls callbacks receive no context and no connection. ServerConfig therefore installs a
// GetConfigForClient that gives every handshake its own VerifyConnection, bound to the
// handshake's context. A server passes a context from NewEvidenceContext to
// tls.Conn.HandshakeContext and reads that connection's outcome from the slot afterwards; the
// same context's deadline bounds the verification (as does WithVerifyTimeout):
//
//	conf := ratls.ServerConfig(ratls.StaticCert(serverCert), verifier, ratls.AuthorizeMREnclave(mr))
//	tlsConn := tls.Server(conn, conf)
//	ctx, slot := ratls.NewEvidenceContext(connCtx)
//	if err := tlsConn.HandshakeContext(ctx); err != nil {
//		reason := ratls.ReasonOf(err) // e.g. "identity_mismatch", "tcb_revoked"
//		_, _ = slot.Outcome()         // the refused peer's evidence, for the audit log
//	}
//	ev := slot.Evidence() // verified and authorized
//
// WithEvidenceHook is the alternative for code that does not own the handshake call.
package ratls
