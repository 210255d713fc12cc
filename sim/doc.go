// Package sim is a simulated Intel SGX/TDX attestation world: an Intel-like PKI, platforms with
// quoting enclaves that produce real-format quotes, signed collateral, and an HTTP handler that
// serves the collateral the way Intel's PCS does. It exists so that the verifier, the
// collateral cache, the server, the client and the demo can be exercised end to end on
// machines without SGX.
//
// # WARNING: simulated trust
//
// Nothing in this package is trusted by default, and nothing here may ever be trusted in
// production. The simulated root CA is an ordinary key pair whose private key sits in the
// world directory in clear text; anyone can mint "genuine" quotes for any enclave under it.
// Package verify trusts only the embedded Intel SGX Root CA unless a caller names another root
// explicitly (verify.WithRoot(w.Root()), the CLI's --root DIR/root.pem, the server's
// verifier.trust_root), and every simulated certificate says "SIMULATED" in its subject. A
// simulated quote verified against the default Intel root is refused with pck_chain_invalid.
// Only internal/cli and tests import this package; internal/archtest enforces it.
//
// # What it owns (docs: shared/spec/dcap-quote-verification.md)
//
//   - The PKI (§3): root CA (CN "Intel SGX Root CA", pathlen 1, keyCertSign|cRLSign), PCK
//     Processor and Platform CAs (pathlen 0), PCK certificates with the SGX extension (PPID,
//     16 TCB components, PCESVN, CPUSVN, PCE-ID, FMSPC, SGX type; Platform-CA leaves also
//     platform instance ID and configuration), the TCB Signing certificate, the root CA CRL and
//     both PCK CRLs (CRL Number, AKI, keyCompromise entries). Extensions, their order,
//     criticality and encodings, and the subject attribute types are Intel's; only the values
//     differ (organisation "secretprov SIMULATED PKI").
//   - Collateral (§4): TCB Info v3 for SGX (id "SGX") and TDX (id "TDX", tdxModule,
//     tdxModuleIdentities TDX_01/TDX_03) with one level per TCB status and Intel-style advisory
//     IDs, and Enclave Identity v2 for QE and TD_QE; compact JSON in Intel's key order, date
//     and hex formats (MarshalTCBInfo, MarshalQEIdentity), signed over the exact bytes.
//   - Intel's early TCB data (PCS update=early, §6.1): per TEE an optional second TCB Info and
//     QE Identity with the next tcbEvaluationDataNumber, as Intel publishes ahead of a TCB
//     recovery (World.SetEarlyTCBLevels, RecoveryLevels, EarlyBundle, EarlySource). Without
//     one, update=early serves the standard documents, as Intel does when no recovery is
//     pending; WithoutEarlyData makes PCSHandler a service that has no early data (404).
//   - Quotes (§2): SGX v3 and TDX v4 quotes for any Identity and report data, with a QE report
//     signed by the PCK key and bound to the attestation key (§2.7), 32 bytes of QE
//     authentication data and the type-5 PEM chain (PCK ‖ CA ‖ root, NUL-terminated).
//   - PCSHandler (§6): Intel's PCS v4 / PCCS paths, parameters, issuer-chain headers and errors,
//     and Azure's two caching services on the same paths (Dialect, WithDialects): the global
//     ACC cache (api-version, clientid, CRLs by pckcrl?uri=<Intel CRL URL>) and the regional
//     THIM service (pckcrl?ca=, rootcacrl), with Azure's header names and CRL encodings, and
//     400 for a missing or unknown api-version or a missing clientid. Also Intel's pckcert, for
//     tools and Intel's quote provider pointed at "secretprov sim pcs" (the simulator's PCK
//     certificates, chosen by QE ID or by raw TCB). Faults (error statuses, delays, corrupted
//     bodies, bad signatures, request counters) apply to every dialect. The comments of
//     pcs_azure.go and pcs_pckcert.go say what of Azure's and Intel's behaviour the simulator
//     relies on, and where that is documented or only observed.
//   - The world directory (Init, Open, Save), shared by separate processes.
//   - TLSAuthority: not part of the Intel PKI. It stands in for the operator's own CA, which
//     issues the provisioning server's ordinary TLS certificate (ECDSA P-256, serverAuth, DNS
//     and IP names, or a legacy CN-only one) that enclave clients check against the CA file
//     they are given. Nothing trusts it unless the caller passes its Pool or CertificatePEM.
//   - The forge (Options.EditCert, AddPlatform, EditTCBInfo, EditQEIdentity, Revoke,
//     ReissueCert, ReissuePCK, Reissue, SignDocument, QuoteHooks): any certificate field, TCB
//     level, document or date can be changed to build negative cases for other packages.
//
// # What it does not do
//
// It verifies nothing (that is package verify) and parses only what it wrote itself (and the
// query parameters of the requests PCSHandler answers). It does not simulate enclaves, sealing,
// pckcerts (all of a platform's certificates, POST with a platform manifest), decryption of an
// encrypted PPID, the QVE identity, the TCB evaluation data number and FMSPC lists, Azure's
// PCK certificate endpoint (THIM agent at 169.254.169.254, JSON answers) or Azure's legacy
// paths (/sgx/certificates/vN/tcb/<fmspc>, /qeid). TDX 1.5 (v5) quotes are produced only
// through QuoteHooks (change the version, body type and report before signing).
//
// # How a test picks a TCB status
//
// The world has one platform per TEE and TCB status: its PCK certificate carries exactly the
// SGX components and PCESVN of the TCB Info level with that status (for TDX, the TD reports'
// TEE_TCB_SVN matches that level's TDX components and the TDX_01 module identity is UpToDate),
// and the QE is at its UpToDate level. World.Platform(tee, status) returns it; verify then
// reports exactly that status and the level's advisory IDs (Revoked is refused with
// tcb_revoked). World.PCKRevokedPlatform(tee) has a PCK listed in the PCK CRL (pck_revoked).
// All platforms of a TEE share one collateral set, so one PCS serves them all.
//
// # Usage
//
//	w, err := sim.Init(dir, sim.Options{})            // or sim.New for memory only, sim.Open(dir)
//	p, err := w.Platform(quote.TEESGX, pcs.StatusSWHardeningNeeded)
//	raw, err := p.Enclave(sim.DefaultIdentity()).Quote(ctx, reportData) // a ratls.Attester
//	bundle, err := p.Bundle()
//	res, err := verify.Quote(raw, bundle, w.Now(), verify.WithRoot(w.Root()))
//	srv := httptest.NewServer(sim.PCSHandler(w, sim.WithFaults(faults)))
//	thim := httptest.NewServer(sim.PCSHandler(w, sim.WithDialects(sim.DialectAzureTHIM)))
//	levels := sim.RecoveryLevels(sim.DefaultSGXLevels(), pcs.StatusOutOfDate, "INTEL-SA-99999")
//	err = w.SetEarlyTCBLevels(quote.TEESGX, levels)   // served for update=early
//	early, err := p.EarlyBundle()                       // or sim.EarlySource{World: w}
//	ca, err := sim.NewTLSAuthority("operator CA")          // the server's TLS certificate
//	cert, err := ca.ServerCertificate("localhost", "127.0.0.1")
//	conf := ratls.ClientConfig(enclaveCert, ca.Pool(), "localhost")
//
// Tests should prefer package internal/simtest, which wraps these calls in testing.TB helpers.
package sim
