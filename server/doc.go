// Package server is the secret provisioning service: it accepts TLS connections from enclaves
// presenting RA-TLS certificates, verifies their quotes, asks the policy which workload each is
// and which secrets it gets, and sends them with Gramine's V1 framing or our named-secrets
// extension (spec/gramine-ratls-secretprov.md §2; DESIGN.md §2 "server").
//
// # Per connection
//
// Every accepted connection runs in its own goroutine; nothing on that path takes a lock shared
// by all connections (the connection counters are an atomic integer and sharded maps).
//
//  1. Limits: over Limits.MaxConnections, or Limits.MaxConnectionsPerIP from one source
//     address, the connection is closed at once (Hooks.ConnRejected "limit").
//  2. TLS handshake within Limits.HandshakeTimeout: TLS 1.2 (ECDHE with AEAD suites only) or
//     1.3, a client certificate required but not chain-verified (RA-TLS certificates are
//     self-signed; the handshake proves the client holds the key), no session tickets.
//  3. After the handshake, within the same deadline: exactly one peer certificate, RA-TLS
//     verification (package ratls: key binding, then the quote with the Verifier), then
//     Policy().Authorize. Verifying after the handshake, not inside it, lets the server tell our
//     client why it was refused.
//  4. Within Limits.IdleTimeout, the request (package wire):
//     Gramine V1: a granted peer whose workload maps "default" gets that secret, then the server
//     waits Limits.FollowUpTimeout for the client to close or to send a named follow-up request;
//     otherwise the connection is closed without a response, as Gramine's server does.
//     Named request: a refused peer gets a refusal carrying the reason code only; a granted peer
//     gets one entry per name: found (the value), not granted, or not found.
//     Anything else: closed without a response.
//  5. One AuditRecord per decision (after the response, or when the client sent no request):
//     peer, identity, TCB status, advisories, FMSPC, workload, protocol, secrets by name and
//     version, decision, reason. Hooks report it for metrics.
//
// Deadlines are absolute: a client that sends nothing, or one byte at a time, is cut when its
// deadline passes. No buffer is allocated for a connection before its request arrives.
//
// # Early TCB data
//
// Intel publishes the TCB Info and QE Identity of its next TCB recovery event ahead of time
// (PCS update=early). With Config.EarlyVerifier set, once an authorized peer's connection has
// ended, its quote is verified again with that early data at the same verification time. If
// the platform's TCB status would be worse (UpToDate, then SWHardeningNeeded or
// ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate,
// OutOfDateConfigurationNeeded, Revoked), the server calls Hooks.TCBRecoveryWarning and logs a
// warning (workload, tee, fmspc, tcb_status, early_tcb_status, early_advisory_ids, warnings),
// at most once per platform, workload and statuses per EarlyWarningLogInterval: the
// platform will drop to that status when the standard data moves, and a policy accepting only
// the current status will then refuse it. Every check is reported to Hooks.EarlyTCBCheck; a
// check without an early status (collateral not at hand, verification failure) is logged at
// debug level. The check never changes, delays or fails a decision.
//
// # Shutdown and reload
//
// Cancelling Serve's context stops accepting; connections in flight finish for up to
// Limits.DrainTimeout, then those still open are closed, and Serve returns nil. The policy, the
// secrets and the server certificate are read through PolicySource, SecretsSource and
// tls.Config.GetCertificate on every connection, so AtomicPolicy, SecretsSwitch and
// CertReloader swap them without dropping a connection.
//
// # What it does not do
//
// It never logs, audits or reports a secret value (names and versions only); the peer learns a
// refusal's reason code, never the expected values. It does not read configuration files,
// environment variables or signals, fetch collateral, or serve metrics: the CLI wires those
// (internal/cli), and Hooks carry the observations. It does not import the simulator: tests do.
//
// Usage:
//
//	srv, err := server.New(server.Config{
//		TLS:      &tls.Config{GetCertificate: certs.GetCertificate},
//		Verifier: verifier, // *verify.Verifier
//		Policy:   server.NewAtomicPolicy(pol),
//		Secrets:  server.NewSecretsSwitch(watcher),
//		Audit:    server.NewJSONAudit(auditFile),
//	})
//	...
//	err = srv.Serve(ctx, ln) // until ctx is cancelled
package server
