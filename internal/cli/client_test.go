package cli

import (
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// provServer is a minimal provisioning server for the CLI tests: it grants the simulator's
// default MRENCLAVE the secrets in values and refuses any other with identity_mismatch.
type provServer struct {
	addr   string
	caFile string
	values map[string]string

	mu        sync.Mutex
	lastQuote []byte // raw quote of the last client's RA-TLS certificate
}

func (s *provServer) quote() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastQuote
}

func startProvServer(t *testing.T, values map[string]string) *provServer {
	t.Helper()
	ca := simtest.TLSAuthority(t)
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, ca.CertificatePEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{
		Certificates: []tls.Certificate{simtest.ServerCertificate(t, ca, "localhost", "127.0.0.1")},
		ClientAuth:   tls.RequireAnyClientCert, MinVersion: tls.VersionTLS12,
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	s := &provServer{addr: ln.Addr().String(), caFile: caFile, values: values}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); s.serve(c.(*tls.Conn)) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return s
}

func (s *provServer) serve(c *tls.Conn) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if c.Handshake() != nil {
		return
	}
	granted := false
	if rc, err := ratls.ParseX509(c.ConnectionState().PeerCertificates[0]); err == nil && rc.Quote.SGX != nil {
		granted = rc.Quote.SGX.MREnclave == sim.DefaultIdentity().MREnclave && !rc.Quote.SGX.Debug()
		s.mu.Lock()
		s.lastQuote = rc.RawQuote
		s.mu.Unlock()
	}
	req, err := wire.ReadRequest(c, wire.Limits{})
	switch {
	case err != nil:
	case !granted && req.Kind == wire.KindNamed:
		_ = wire.WriteRefusal(c, "identity_mismatch")
	case !granted:
	case req.Kind == wire.KindV1:
		_ = wire.WriteV1Response(c, []byte(s.values["default"]))
	default:
		entries := make([]wire.Entry, len(req.Names))
		for i, n := range req.Names {
			entries[i] = wire.Entry{Name: n, Status: wire.StatusNotFound}
			if v, ok := s.values[n]; ok {
				entries[i] = wire.Entry{Name: n, Status: wire.StatusFound, Value: []byte(v)}
			}
		}
		_ = wire.WriteNamedResponse(c, entries, wire.Limits{})
	}
}

const (
	secretDefault = "A_SIMPLE_SECRET-cli"
	secretDB      = "hunter2-cli-value"
)

// clientEnv is a provisioning server and a simulated world for one test.
type clientEnv struct {
	*provServer
	simDir string
}

func newClientEnv(t *testing.T, values map[string]string) *clientEnv {
	_, dir := simtest.WorldIn(t, sim.Options{})
	return &clientEnv{provServer: startProvServer(t, values), simDir: dir}
}

// args are the arguments of "client CMD" against the server with the sim attester.
func (e *clientEnv) args(cmd string, extra ...string) []string {
	return append([]string{"client", cmd, "--servers", e.addr, "--ca", e.caFile, "--attester", "sim",
		"--sim-dir", e.simDir, "--timeout", "5s"}, extra...)
}

func noValues(t *testing.T, where, s string) {
	t.Helper()
	for _, v := range []string{secretDefault, secretDB} {
		if strings.Contains(s, v) {
			t.Errorf("%s shows a secret value:\n%s", where, s)
		}
	}
}

func TestClientGetPrints(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault + "\x00", "db": secretDB})
	code, out, errOut := run(t, srv.args("get", "--secret", "default,db")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	want := "--- Received secret = '" + secretDefault + "'\n--- Received secret db = '" + secretDB + "'\n"
	if out != want {
		t.Errorf("stdout %q, want %q", out, want)
	}
	if !strings.Contains(errOut, "SIMULATED Intel SGX/TDX attestation") {
		t.Errorf("no simulated-quote warning on stderr:\n%s", errOut)
	}
	noValues(t, "stderr", errOut)

	code, out, errOut = run(t, srv.args("get", "--protocol", "gramine")...)
	if code != ExitOK || out != "--- Received secret = '"+secretDefault+"'\n" {
		t.Errorf("gramine protocol: exit %d, stdout %q\n%s", code, out, errOut)
	}
}

// The identity flags reach the simulated quote, and --tcb-status picks the platform whose
// quote verifies with that status.
func TestClientSimIdentityFlags(t *testing.T) {
	w, dir := simtest.WorldIn(t, sim.Options{})
	srv := &clientEnv{provServer: startProvServer(t, map[string]string{"default": secretDefault}), simDir: dir}
	signer := strings.Repeat("5a", 32)
	code, _, errOut := run(t, srv.args("get", "--mrsigner", signer, "--isv-prod-id", "7", "--isv-svn", "3", "--tcb-status", "OutOfDate")...)
	if code != ExitOK {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	res, err := verify.Quote(srv.quote(), simtest.Bundle(t, w, quote.TEESGX), simtest.At(w), verify.WithRoot(w.Root()))
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	r := res.SGX
	if r.MRSigner.String() != signer || r.ISVProdID != 7 || r.ISVSVN != 3 || r.Debug() || res.TCBStatus != pcs.StatusOutOfDate {
		t.Errorf("quote: mrsigner %s prod %d svn %d debug %v status %s", r.MRSigner, r.ISVProdID, r.ISVSVN, r.Debug(), res.TCBStatus)
	}
}

func TestClientGetRefused(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault})
	code, out, errOut := run(t, srv.args("get", "--mrenclave", strings.Repeat("ab", 32))...)
	if code != ExitRefused || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, want := range []string{"reason: identity_mismatch", "hint: the server's policy has no workload for this enclave's MRENCLAVE/MRSIGNER"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// A debug enclave is refused too (this server refuses it as an identity mismatch).
	if code, _, _ := run(t, srv.args("get", "--debug")...); code != ExitRefused {
		t.Errorf("debug enclave: exit %d", code)
	}
	// V1: a refusal is a closed connection; the client says so and what to check.
	code, _, errOut = run(t, srv.args("get", "--protocol", "gramine", "--mrenclave", strings.Repeat("ab", 32), "--timeout", "2s")...)
	if code != ExitRefused || !strings.Contains(errOut, "closed without a response") {
		t.Errorf("V1 refusal: exit %d\n%s", code, errOut)
	}
}

func TestClientGetDenied(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault})
	code, out, errOut := run(t, srv.args("get", "--secret", "default", "--secret", "nope")...)
	if code != ExitRefused || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if !strings.Contains(errOut, "nope: not_found") || !strings.Contains(errOut, "no secret of this name") {
		t.Errorf("stderr does not say which secret and why:\n%s", errOut)
	}
	noValues(t, "stderr", errOut)
}

func TestClientGetUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	srv := newClientEnv(t, nil)
	// The timeout covers making the simulated quote too, which under -race on a loaded machine
	// takes a good part of a second; the dead address is refused at once and retried until then.
	args := srv.args("get", "--timeout", "2s")
	args[3] = dead
	code, _, errOut := run(t, args...)
	if code != ExitRefused || !strings.Contains(errOut, "not provisioned") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

func TestClientGetOutDir(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault, "db": secretDB})
	dir := filepath.Join(t.TempDir(), "secrets")
	code, out, errOut := run(t, srv.args("get", "--secret", "db", "--secret", "default", "--out-dir", dir)...)
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
	for name, want := range map[string]string{"db": secretDB, "default": secretDefault} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		fi, _ := os.Stat(filepath.Join(dir, name))
		if err != nil || string(b) != want || fi.Mode().Perm() != 0o400 {
			t.Errorf("%s: %v, mode %v", name, err, fi.Mode())
		}
	}
	noValues(t, "stderr", errOut)
}

func TestClientEnvFallbacks(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault})
	t.Setenv(envServers, "dummyserver;"+srv.addr)
	t.Setenv(envCAChain, srv.caFile)
	code, out, errOut := run(t, "client", "get", "--attester", "sim", "--sim-dir", srv.simDir)
	if code != ExitOK || out != "--- Received secret = '"+secretDefault+"'\n" {
		t.Errorf("exit %d, stdout %q\n%s", code, out, errOut)
	}
}

type keyRecorder map[string][]byte

func (k keyRecorder) SetKey(name string, key []byte) error {
	k[name] = append([]byte(nil), key...)
	return nil
}

func fakeKeys(t *testing.T) keyRecorder {
	keys := keyRecorder{}
	newKeySetter = func() client.KeySetter { return keys }
	t.Cleanup(func() { newKeySetter = defaultKeySetter })
	return keys
}

var defaultKeySetter = newKeySetter

func TestClientSetKeyEnv(t *testing.T) {
	const key = "0123456789abcdef"
	srv := newClientEnv(t, map[string]string{"default": key, "db": secretDB})
	keys := fakeKeys(t)
	t.Setenv(envSetKey, "default")
	code, out, errOut := run(t, srv.args("get")...)
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
	if string(keys["default"]) != key || len(keys) != 1 {
		t.Errorf("keys set: %d", len(keys))
	}
	// A secret that is not 16 bytes is not a key.
	t.Setenv(envSetKey, "")
	code, _, errOut = run(t, srv.args("exec", "--set-key", "logs=db", "--", "true")...)
	if code != ExitBadInput || !strings.Contains(errOut, "exactly 16") {
		t.Errorf("17-byte key: exit %d\n%s", code, errOut)
	}
	noValues(t, "stderr", errOut)
}

func TestClientExec(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault + "\x00", "db": secretDB})
	var gotArgv, gotEnv []string
	execProcess = func(argv, env []string) error { gotArgv, gotEnv = argv, env; return nil }
	t.Cleanup(func() { execProcess = client.Exec })
	t.Setenv("KEEP_ME", "1")
	code, out, errOut := run(t, srv.args("exec", "--env", "DB_PASSWORD=db", "--gramine-string", "--", "sh", "-c", "echo hi")...)
	if code != ExitOK || out != "" {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
	if !slices.Equal(gotArgv, []string{"sh", "-c", "echo hi"}) {
		t.Errorf("argv %q", gotArgv)
	}
	for _, want := range []string{"DB_PASSWORD=" + secretDB, "SECRET_PROVISION_SECRET_STRING=" + secretDefault, "KEEP_ME=1"} {
		if !slices.Contains(gotEnv, want) {
			t.Errorf("environment lacks %q", strings.SplitN(want, "=", 2)[0])
		}
	}
	noValues(t, "stderr", errOut)
}

func TestClientBadInput(t *testing.T) {
	srv := newClientEnv(t, map[string]string{"default": secretDefault})
	sd := srv.simDir
	base := []string{"client", "get", "--servers", srv.addr, "--ca", srv.caFile}
	tests := []struct {
		name string
		args []string
		want string // in the error
	}{
		{"no CA", []string{"client", "get", "--servers", srv.addr, "--attester", "sim", "--sim-dir", sd}, "give --ca"},
		{"CA file missing", []string{"client", "get", "--servers", srv.addr, "--ca", "/nonexistent", "--attester", "sim", "--sim-dir", sd}, "--ca"},
		{"CA file not a certificate", []string{"client", "get", "--servers", srv.addr, "--ca", sd + "/world.json", "--attester", "sim", "--sim-dir", sd}, "--ca"},
		{"bad servers", srv.args("get", "--servers", "::1:4433"), "server list"},
		{"no attester", base, "give --attester"},
		{"unknown attester", srv.args("get", "--attester", "sev"), "--attester"},
		{"sim without dir", append(base, "--attester", "sim"), "--sim-dir"},
		{"sim dir without world", srv.args("get", "--sim-dir", t.TempDir()), "sim"},
		{"identity flag with gramine", append(base, "--attester", "gramine", "--isv-svn", "2"), "--attester sim only"},
		{"gramine outside an enclave", append(base, "--attester", "gramine"), "attester gramine"},
		{"bad mrenclave", srv.args("get", "--mrenclave", "xyz"), "--mrenclave"},
		{"bad tcb status", srv.args("get", "--tcb-status", "Fine"), "--tcb-status"},
		{"bad secret name", srv.args("get", "--secret", "../x"), "secret name"},
		{"gramine protocol with named secret", srv.args("get", "--protocol", "gramine", "--secret", "db"), "only the"},
		{"unknown protocol", srv.args("get", "--protocol", "v2"), "protocol"},
		{"zero timeout", srv.args("get", "--timeout", "0s"), "--timeout"},
		{"exec without --", srv.args("exec", "--env", "X=default", "true"), "after --"},
		{"exec without command", srv.args("exec", "--env", "X=default", "--"), "after --"},
		{"exec without delivery", srv.args("exec", "--", "true"), "no delivery"},
		{"exec unknown command", srv.args("exec", "--env", "X=default", "--", "secretprov-no-such-command"), "executable file not found"},
		{"bad --env", srv.args("exec", "--env", "X", "--", "true"), "--env"},
		{"bad env var name", srv.args("exec", "--env", "1X=default", "--", "true"), "--env"},
		{"bad key name", srv.args("exec", "--set-key", "a/b=default", "--", "true"), "--set-key"},
		{"set-key with tdx", []string{"client", "exec", "--servers", srv.addr, "--ca", srv.caFile, "--attester", "tdx", "--set-key", "default=default", "--", "true"}, "--attester gramine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := run(t, tc.args...)
			if code != ExitBadInput || !strings.Contains(errOut, tc.want) || out != "" {
				t.Errorf("exit %d (want %d), stdout %q, stderr (want %q):\n%s", code, ExitBadInput, out, tc.want, errOut)
			}
		})
	}
	if n := len(srv.quote()); n != 0 {
		t.Errorf("bad input reached the server")
	}
}
