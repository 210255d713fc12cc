// Package simtest wraps package sim in testing.TB helpers that fail the test instead of
// returning errors, so that tests of the verifier, collateral cache, server and client read as
// a list of steps. Like sim, it is simulated trust: import it from tests only.
//
// A typical test:
//
//	w := simtest.World(t)                                      // fresh world in t.TempDir()
//	raw := simtest.Quote(t, w, quote.TEESGX, pcs.StatusOutOfDate, sim.DefaultIdentity(), rd)
//	srv := simtest.PCS(t, w)                                   // httptest server on 127.0.0.1
//	res, err := verify.Quote(raw, simtest.Bundle(t, w, quote.TEESGX), simtest.At(w), verify.WithRoot(w.Root()))
//
// The provisioning server's ordinary TLS side and its output:
//
//	ca := simtest.TLSAuthority(t)                              // the operator's CA (sim.TLSAuthority)
//	cert := simtest.LoopbackCertificate(t, ca)                 // localhost, 127.0.0.1, ::1
//	conf := ratls.ClientConfig(enclaveCert, ca.Pool(), "")     // a client that trusts it
//	var audit simtest.LogBuffer                                // concurrency-safe output buffer
//	records := simtest.JSONLines[server.AuditRecord](t, &audit)
//	n := simtest.MetricValue(t, metrics.Registry(), "secretprov_provisions_total", labels)
package simtest

import (
	"context"
	"crypto/ecdsa"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// World creates a fresh simulated world saved in a new t.TempDir() (see Dir) with the default
// options, reference time now.
func World(t testing.TB) *sim.World {
	t.Helper()
	w, _ := WorldIn(t, sim.Options{})
	return w
}

// WorldWith creates a fresh world with opts (the forge: dates, levels, certificate edits),
// saved in a new t.TempDir().
func WorldWith(t testing.TB, opts sim.Options) *sim.World {
	t.Helper()
	w, _ := WorldIn(t, opts)
	return w
}

// WorldIn creates a fresh world with opts and returns it with its directory, for tests that
// hand the directory to another process or command.
func WorldIn(t testing.TB, opts sim.Options) (*sim.World, string) {
	t.Helper()
	dir := t.TempDir()
	w, err := sim.Init(dir, opts)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return w, dir
}

// Open loads the world saved in dir.
func Open(t testing.TB, dir string) *sim.World {
	t.Helper()
	w, err := sim.Open(dir)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return w
}

// At returns a time at which all of w's collateral and certificates are valid: one hour after
// the world's reference time.
func At(w *sim.World) time.Time { return w.Now().Add(time.Hour) }

// Platform returns w's platform for tee whose quotes verify with status.
func Platform(t testing.TB, w *sim.World, tee quote.TEE, status pcs.TCBStatus) *sim.Platform {
	t.Helper()
	p, err := w.Platform(tee, status)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return p
}

// Quote returns a binary quote from w's platform for tee at status, for enclave identity id and
// report data rd.
func Quote(t testing.TB, w *sim.World, tee quote.TEE, status pcs.TCBStatus, id sim.Identity, rd [64]byte) []byte {
	t.Helper()
	return QuoteFrom(t, Platform(t, w, tee, status).Enclave(id), rd)
}

// QuoteFrom returns a binary quote from an enclave (which may carry forge hooks).
func QuoteFrom(t testing.TB, e *sim.Enclave, rd [64]byte) []byte {
	t.Helper()
	raw, err := e.Quote(context.Background(), rd)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return raw
}

// Bundle returns w's collateral for tee, for the PCK CA the world's platforms of that TEE use
// (processor CA for SGX, platform CA for TDX).
func Bundle(t testing.TB, w *sim.World, tee quote.TEE) *pcs.Bundle {
	t.Helper()
	ca := pcs.CAProcessor
	if tee == quote.TEETDX {
		ca = pcs.CAPlatform
	}
	b, err := w.Bundle(tee, ca)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return b
}

// BundleJSON returns w's collateral for tee in the offline JSON layout (pcs.Bundle.MarshalJSON).
func BundleJSON(t testing.TB, w *sim.World, tee quote.TEE) []byte {
	t.Helper()
	b, err := Bundle(t, w, tee).MarshalJSON()
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return b
}

// PCS serves w with sim.PCSHandler on an httptest server bound to 127.0.0.1, closed when the
// test ends. Use srv.URL + sim.SGXBasePath as the PCS base URL.
func PCS(t testing.TB, w *sim.World, opts ...sim.PCSOption) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(sim.PCSHandler(w, opts...))
	t.Cleanup(srv.Close)
	return srv
}

// PCSWithFaults is PCS with a fresh set of fault switches, returned for the test to flip.
func PCSWithFaults(t testing.TB, w *sim.World) (*httptest.Server, *sim.Faults) {
	t.Helper()
	f := sim.NewFaults()
	return PCS(t, w, sim.WithFaults(f)), f
}

// Must fails the test if err is not nil; for forge calls: simtest.Must(t, w.Revoke(cert)).
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
}

// SignRS signs data with key as an r‖s DCAP signature (sim.SignRS): to re-sign a forged quote,
// QE report or document with a key of the test's own. key must be an ECDSA P-256 key.
func SignRS(t testing.TB, key *ecdsa.PrivateKey, data []byte) [64]byte {
	t.Helper()
	sig, err := sim.SignRS(key, data)
	if err != nil {
		t.Fatalf("simtest: %v", err)
	}
	return sig
}

// WaitFor polls cond every few milliseconds until it holds, and fails the test if it does not
// within d: for state a test cannot be told about, such as a server's connection count or a
// background fetch.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
