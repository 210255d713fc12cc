// Package collateral is where the Intel documents a DCAP verifier needs come from: TCB Info, QE
// (or TD_QE) Identity, PCK CRL and root CA CRL, with their issuer chains (dcap spec §3.5, §4,
// §6). It owns
//
//   - Client: the PCS v4 API shape by base URL, in three dialects (ServiceKind): Intel PCS,
//     a PCCS, and Azure's caching service (§6.3: clientid/api-version parameters, CRLs by
//     "uri=", alternative issuer-chain header names). TDX documents come from the "/tdx/" twin
//     of the SGX base URL. Requests carry a User-Agent, a per-attempt timeout and the caller's
//     context; transport errors, timeouts and 5xx answers are retried with exponential
//     backoff and jitter, 4xx answers are not; bodies are limited (1 MiB by default) and
//     never buffered beyond the limit; errors name the item, URL and status and quote at most
//     a short, sanitised prefix of a response body.
//   - Cache: a verify.CollateralSource (Collateral(ctx, pcs.Key)) that keeps each document
//     the way Intel keys it — TCB Info per TEE and FMSPC, QE Identity per TEE, PCK CRL per CA,
//     one root CA CRL — and stores a document only after it parsed and its issuer chain and
//     signature verified against the configured trust root (and, for TCB Info, its TEE and
//     FMSPC are the ones asked for). A newly fetched document that fails any check, or is older
//     than the cached one, is rejected and the cached one kept. Bundles assembled from the
//     documents are memoised: Collateral returns the same *pcs.Bundle pointer until one of its
//     documents changes, so the verifier's per-bundle checks stay cached. Concurrent requests
//     for a missing document share one fetch.
//   - StaticSource (Static, File): one fixed bundle from the offline collateral JSON, for
//     air-gapped verifiers.
//
// It does not verify quotes, decide policy or read the clock in verification (package verify
// does, at an explicit time), and it logs nothing: Hooks report fetches, stored items and
// absorbed errors.
//
// # Outage semantics
//
// A cached document is served until a newer one verifies. When the service is down (errors,
// timeouts, 5xx, or invalid documents), Collateral keeps returning the last verified
// documents, even past their nextUpdate: the verifier then flags the result
// collateral_expired (verify.Result.CollateralExpired, reason collateral_expired), and the
// operator's grace for expired collateral is applied by package policy per workload. The cache
// itself never discards a verified document for age. A document past its nextUpdate is
// fetched again on demand at most once per RetryInterval, so an outage does not turn every
// verification into a network round trip. With a document missing and the service failing,
// Collateral returns an error, which the verifier reports as collateral_unavailable. A service
// that delivers a wrong document (another FMSPC, TEE or CA) is a failing service, not a
// collateral mismatch.
//
// Run refreshes cached documents in the background: RefreshInterval (default 1 h, minus up to
// 20 % jitter) after each fetch, so that TCB recoveries are picked up within the hour, and in
// any case RefreshInterval before nextUpdate; failed refreshes are retried from RetryInterval
// (default 1 min) with doubling backoff. Prefetch loads given platforms (for readiness); Status
// and Ready report which are loaded.
//
// # Early TCB data
//
// With Config.EarlyWarning, EarlyBundle returns bundles built with Intel's update=early TCB
// Info and QE Identity. They are for warnings only ("this platform will drop to OutOfDate at
// the next TCB recovery"); never refuse a quote because of them. CachedEarlyBundle answers from
// memory only and leaves missing documents to Run, for callers on a provisioning path. Early
// bundles kept for warnings never hold up Prefetch or Ready.
//
// # Disk layout
//
// With Config.Dir set (created with mode 0700), every verified document is written to one
// file per item, mode 0600, atomically (temporary file in the same directory, fsync,
// rename):
//
//	root_crl_global.json
//	pck_crl_processor.json, pck_crl_platform.json
//	tcb_info_sgx_00A067110000.json, tcb_info_tdx_B0C06F000000_early.json
//	qe_identity_sgx.json, qe_identity_tdx.json, qe_identity_tdx_early.json
//
// Each file is a JSON object {"format":1, "item":"tcb_info/sgx/00A067110000", "url":…,
// "fetched":RFC 3339, "body":base64 of the response body as served, "issuer_chain":PEM}.
// NewCache reads them back and verifies each again against the trust root, so a restart works
// with the network down; anything unreadable or invalid is reported through Hooks.OnError and
// skipped. A directory that cannot be created, read or written (permissions, full disk) is
// reported through Hooks.OnError and never stops the memory cache.
//
// Time comes from Config.Now (default time.Now) for fetch times and schedules only.
//
// Usage:
//
//	client, err := collateral.NewClient(collateral.ClientConfig{BaseURL: collateral.IntelPCSURL})
//	cache, err := collateral.NewCache(collateral.Config{Source: client, Root: verify.IntelRoot(), Dir: "/var/cache/secretprov"})
//	go cache.Run(ctx)
//	v, err := verify.New(cache)
package collateral
