package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// Secret values of the tests. They are distinctive so that TestMain can search every log line,
// audit record and metric of the run for them (they must never appear).
const (
	secretDefault = "A_SIMPLE_SECRET-9f3Kq7Zt\x00" // NUL-terminated, like Gramine's example
	secretDB      = "db-password-Xw4m2Rv8LpQ"
	secretRotated = "rotated-value-Hh2Jd9QaT"
)

var (
	testWorldOnce sync.Once
	testWorld     *sim.World
	testWorldErr  error
)

// world returns the simulated world shared by the package's tests (created once, in memory).
func world(t testing.TB) *sim.World {
	t.Helper()
	testWorldOnce.Do(func() { testWorld, testWorldErr = sim.New(sim.Options{}) })
	if testWorldErr != nil {
		t.Fatal(testWorldErr)
	}
	return testWorld
}

// serverPKI is the operator's CA and its server certificate for localhost and 127.0.0.1.
type serverPKI struct {
	roots  *x509.CertPool
	caPEM  []byte
	server tls.Certificate
}

var (
	pkiOnce sync.Once
	pkiVal  serverPKI
)

func testPKI(t testing.TB) serverPKI {
	t.Helper()
	pkiOnce.Do(func() { pkiVal = newPKI(t) })
	return pkiVal
}

// newPKI creates a new CA (sim.TLSAuthority) and issues its server certificate.
func newPKI(t testing.TB) serverPKI {
	t.Helper()
	ca := simtest.TLSAuthority(t)
	return serverPKI{roots: ca.Pool(), caPEM: ca.CertificatePEM(), server: simtest.ServerCertificate(t, ca, "localhost", "127.0.0.1")}
}

// testPolicy: the demo workload (sim's default MRENCLAVE, UpToDate or SWHardeningNeeded) and a
// TDX workload.
func testPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	id := sim.DefaultIdentity()
	p, err := policy.New([]policy.Workload{{
		Name:        "demo",
		MREnclave:   []quote.Measurement{id.MREnclave},
		TCBStatuses: []pcs.TCBStatus{pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded},
		AdvisoryIDs: []string{policy.AnyAdvisory},
		Secrets:     map[string]string{"default": "demo-secret", "db": "db-password", "gone": "absent-source"},
	}, {
		Name:    "td",
		MRTD:    []quote.TDMeasurement{id.MRTD},
		Secrets: map[string]string{"default": "db-password"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testSecrets(t testing.TB) *secrets.Set {
	t.Helper()
	set, err := secrets.Load(map[string]secrets.Spec{
		"demo-secret": {Value: secretDefault},
		"db-password": {Value: secretDB},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

type staticSecrets struct{ set *secrets.Set }

func (s staticSecrets) Current() *secrets.Set { return s.set }

// env is one running server with its observations.
type env struct {
	srv     *Server
	addr    string
	audit   *simtest.LogBuffer
	metrics *obs.Metrics
	cancel  context.CancelFunc
	done    chan error
}

type envOptions struct {
	limits  Limits
	now     func() time.Time
	policy  PolicySource
	secrets SecretsSource
	tls     *tls.Config // nil: testPKI's server certificate
	quiet   bool        // no log, audit to io.Discard (benchmarks)
	early   ratls.QuoteVerifier
	logs    *simtest.LogBuffer // if set, also receives the log lines (JSON, debug level)
}

// start runs a server on 127.0.0.1:0 until the test ends. Its log goes to the run-wide capture
// at debug level, its audit records to env.audit and the capture.
func start(t testing.TB, o envOptions) *env {
	t.Helper()
	w := world(t)
	v, err := verify.New(w, verify.WithRoot(w.Root()))
	if err != nil {
		t.Fatal(err)
	}
	if o.policy == nil {
		o.policy = NewAtomicPolicy(testPolicy(t))
	}
	if o.secrets == nil {
		o.secrets = staticSecrets{testSecrets(t)}
	}
	if o.now == nil {
		at := simtest.At(w)
		o.now = func() time.Time { return at }
	}
	if o.tls == nil {
		o.tls = &tls.Config{Certificates: []tls.Certificate{testPKI(t).server}}
	}
	e := &env{audit: &simtest.LogBuffer{}, metrics: newMetrics(), done: make(chan error, 1)}
	cfg := Config{
		TLS: o.tls, Verifier: v,
		Policy: o.policy, Secrets: o.secrets, Limits: o.limits, Now: o.now,
		Logger: captureLogger(), Audit: NewJSONAudit(io.MultiWriter(e.audit, capture)),
		Hooks: metricsHooks(e.metrics), EarlyVerifier: o.early,
	}
	if o.logs != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(io.MultiWriter(capture, o.logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.quiet {
		cfg.Logger, cfg.Audit = nil, NewJSONAudit(io.Discard)
	}
	e.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- e.srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-e.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

func metricsHooks(m *obs.Metrics) Hooks {
	return Hooks{ConnOpened: m.ConnOpened, ConnClosed: m.ConnClosed, ConnRejected: m.ConnRejected,
		Verification: m.Verification, Provision: m.Provision,
		EarlyTCBCheck: m.EarlyTCBCheck, TCBRecoveryWarning: m.TCBRecoveryWarning}
}

// enclaveCert returns an RA-TLS certificate of an SGX enclave with identity id on the world's
// platform at status.
func enclaveCert(t testing.TB, status pcs.TCBStatus, id sim.Identity) *tls.Certificate {
	t.Helper()
	return certFrom(t, simtest.Platform(t, world(t), quote.TEESGX, status).Enclave(id))
}

func certFrom(t testing.TB, a ratls.Attester) *tls.Certificate {
	t.Helper()
	c, err := ratls.NewCertificate(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func goodCert(t testing.TB) *tls.Certificate {
	return enclaveCert(t, pcs.StatusUpToDate, sim.DefaultIdentity())
}

// dial opens a TLS session presenting cert, as our enclave client does.
func dial(t testing.TB, addr string, cert *tls.Certificate) *tls.Conn {
	t.Helper()
	c, err := dialConfig(addr, ratls.ClientConfig(ratls.StaticCert(cert), testPKI(t).roots, ""))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	return c
}

func dialConfig(addr string, conf *tls.Config) (*tls.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, conf)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, nil
}

// v1Raw sends Gramine's V1 request, written byte by byte by hand, reads the 41-byte header and
// the secret it announces, then closes as Gramine's client does. It returns everything read.
func v1Raw(t testing.TB, c *tls.Conn) []byte {
	t.Helper()
	if _, err := c.Write([]byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\x00")); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 41)
	if n, err := io.ReadFull(c, hdr); err != nil {
		return hdr[:n]
	}
	n := int(hdr[37])<<24 | int(hdr[38])<<16 | int(hdr[39])<<8 | int(hdr[40])
	if n > 1<<20 {
		t.Fatalf("announced secret length %d", n)
	}
	body := make([]byte, n)
	m, _ := io.ReadFull(c, body)
	return append(hdr, body[:m]...)
}

// v1Secret provisions over a new session and returns the secret (nil if refused).
func v1Secret(t testing.TB, addr string, cert *tls.Certificate) []byte {
	t.Helper()
	c := dial(t, addr, cert)
	defer c.Close()
	got := v1Raw(t, c)
	if len(got) < 41 {
		return nil
	}
	_ = c.CloseWrite()
	return got[41:]
}

// named sends a named request over a new session and reads the answer.
func named(t testing.TB, addr string, cert *tls.Certificate, names ...string) ([]wire.Entry, error) {
	t.Helper()
	c := dial(t, addr, cert)
	defer c.Close()
	if err := wire.WriteNamedRequest(c, names, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	return wire.ReadNamedResponse(c, names, wire.Limits{})
}

// records parses the JSON audit lines written so far.
func (e *env) records(t testing.TB) []AuditRecord {
	t.Helper()
	return simtest.JSONLines[AuditRecord](t, e.audit)
}

// waitRecords waits until n audit records were written (the server writes a record after its
// response, so a client can be faster) and returns them.
func (e *env) waitRecords(t testing.TB, n int) []AuditRecord {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		rs := e.records(t)
		if len(rs) >= n || time.Now().After(deadline) {
			if len(rs) != n {
				t.Fatalf("audit records: got %d, want %d:\n%s", len(rs), n, e.audit.String())
			}
			return rs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// counter returns the value of a counter (or gauge) of m with exactly the given labels
// (simtest.MetricValue).
func counter(t testing.TB, m *obs.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	return simtest.MetricValue(t, m.Registry(), name, labels)
}

// waitCounter waits until counter(...) == want (hooks run just after the audit record).
func waitCounter(t testing.TB, m *obs.Metrics, name string, labels map[string]string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := counter(t, m, name, labels)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	simtest.WaitFor(t, 5*time.Second, what, cond)
}

// readAll reads until the peer closes or fails; it never fails the test.
func readAll(c net.Conn) []byte {
	var buf bytes.Buffer
	_, _ = io.Copy(&buf, c)
	return buf.Bytes()
}

// isClosed reports whether err means the peer closed the connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		strings.Contains(err.Error(), "reset by peer") || strings.Contains(err.Error(), "broken pipe")
}
