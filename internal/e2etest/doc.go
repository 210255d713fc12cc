// Package e2etest tries to break secretprov from the outside: a bad-input matrix over real TLS
// against a running server, fault injection (collateral service down, slow or lying; a replica
// killed; graceful shutdown; secrets rotated; an unusable cache directory), resource bounds under
// a flood of stalled connections, and a check that no secret value ever reaches a log line, an
// audit record, a metric or an error message.
//
// Everything runs in-process on 127.0.0.1 against the simulator (package sim), with the real
// server, client, verifier, collateral cache and secrets watcher. The package has no API: all of
// it is in _test.go files. docs/security.md maps the threat model to the tests here.
package e2etest
