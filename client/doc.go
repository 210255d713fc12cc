// Package client is the enclave side of secret provisioning: it proves the enclave to a
// provisioning server with its RA-TLS certificate, receives the secrets, and hands them to the
// application. It speaks to secretprov servers and, with the GramineV1 protocol, to Gramine's
// own secret provisioning server (spec/gramine-ratls-secretprov.md §2).
//
// # What it owns
//
//   - The server list: ParseServers reads Gramine's SECRET_PROVISION_SERVERS syntax (entries
//     separated by ',', ';' or spaces; entries without a port skipped), plus IPv6 literals in
//     brackets, which Gramine cannot express (§2.3).
//   - Fetch: TLS to each server in turn, presenting the RA-TLS certificate (made once per
//     process, NewCertSource) and verifying the server against Config.Roots
//     (SECRET_PROVISION_CA_CHAIN_PATH), then the request and the response through package wire:
//     our named request (protocol Secretprov, the default) or Gramine's V1 request (GramineV1).
//   - Retries: the servers in order, then again with exponential backoff and jitter until a
//     deadline. A connection, handshake or I/O failure, or a connection closed without a
//     response, moves on to the next server (Gramine's client stops after the first TCP
//     connection). A refusal reason code is final (*RefusedError), as is a secret not granted
//     or not found (*DeniedError), except the transient reasons collateral_unavailable and
//     secret_unavailable (TransientReason), which are retried.
//   - Delivery: WriteFiles (a tmpfs directory, files 0400, written atomically), EnvPairs and
//     MergeEnv (environment variables for Exec), SetKeys (Gramine encrypted-files keys,
//     /dev/attestation/keys/<name>, exactly 16 bytes, through a KeySetter such as
//     *attest.Gramine), GramineStringEnv (SECRET_PROVISION_SECRET_STRING, as Gramine's
//     constructor sets it), and Exec, which replaces the process with the application.
//
// # What it does not do
//
// It does not produce quotes (package attest, or the simulator in tests), build or parse RA-TLS
// certificates (package ratls), verify anything about the server beyond its X.509 certificate,
// or decide policy: the server does. It never logs or returns a secret value: Result holds
// secrets.Secret values, which print as REDACTED, and errors name secrets and sizes only.
//
// # Usage
//
//	cert, err := client.NewCertSource(ctx, attest.NewGramine()) // once per process
//	servers, err := client.ParseServers(os.Getenv("SECRET_PROVISION_SERVERS"))
//	res, err := client.Fetch(ctx, client.Config{
//		Servers: servers, Roots: pool, Certificate: cert,
//		Names: []string{"default", "db-password"},
//	})
//	if re, ok := errors.AsType[*client.RefusedError](err); ok {
//		log.Fatalf("refused: %s", re.Reason) // e.g. identity_mismatch
//	}
//	err = client.WriteFiles("/run/secrets", res.Secrets)
package client
