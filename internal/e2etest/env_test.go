package e2etest

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// operatorCA is the operator's CA (sim.TLSAuthority), one for the whole run: it issues every
// provisioning server's certificate for 127.0.0.1, and clients trust it, as with --ca.
var operatorCA = sync.OnceValues(func() (*sim.TLSAuthority, error) {
	return sim.NewTLSAuthority("e2etest operator CA")
})

func operator(t testing.TB) *sim.TLSAuthority {
	t.Helper()
	a, err := operatorCA()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// fakeClock is a clock the tests move by hand: the servers' verification time and the
// collateral cache's clock, so that collateral expires without waiting 30 days.
type fakeClock struct{ ns atomic.Int64 }

func newClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.Set(t)
	return c
}

func (c *fakeClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// stack is one simulated Intel world served by a simulated PCS on 127.0.0.1, with the
// production verification path in front of it: collateral.Client → collateral.Cache →
// verify.Verifier, trusting the world's root.
type stack struct {
	w        *sim.World
	pcs      *httptest.Server
	faults   *sim.Faults
	cache    *collateral.Cache
	verifier *verify.Verifier
	metrics  *obs.Metrics // collateral hooks
	clock    *fakeClock   // nil: servers verify at simtest.At(w)
}

type stackOptions struct {
	world    sim.Options
	reuse    *sim.World // instead of a new world with the options above
	clock    *fakeClock // also the cache's clock
	cacheDir string
	// refresh and retry are the cache's RefreshInterval and RetryInterval (zero: defaults).
	refresh, retry time.Duration
	onError        func(error) // also called for every collateral error, after the log
}

func newStack(t testing.TB, o stackOptions) *stack {
	t.Helper()
	w := o.reuse
	if w == nil {
		w = simtest.WorldWith(t, o.world)
	}
	s := &stack{w: w, faults: sim.NewFaults(), metrics: newMetrics(), clock: o.clock}
	s.pcs = simtest.PCS(t, s.w, sim.WithFaults(s.faults))
	src, err := collateral.NewClient(collateral.ClientConfig{
		BaseURL: s.pcs.URL + sim.SGXBasePath, RootCRLURL: s.pcs.URL + sim.RootCRLPath,
		HTTPClient: s.pcs.Client(), Timeout: 300 * time.Millisecond, Attempts: 2,
		Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	log := logger("collateral")
	cfg := collateral.Config{
		Source: src, Root: s.w.Root(), Dir: o.cacheDir,
		RefreshInterval: o.refresh, RetryInterval: o.retry,
		Hooks: collateral.Hooks{
			OnFetch: s.metrics.CollateralFetch, OnItem: s.metrics.CollateralState,
			OnError: func(err error) {
				log.Warn("collateral", obs.KeyError, err.Error()) // as internal/cli wires it
				if o.onError != nil {
					o.onError(err)
				}
			},
		},
	}
	if o.clock != nil {
		cfg.Now = o.clock.Now
	}
	if s.cache, err = collateral.NewCache(cfg); err != nil {
		t.Fatal(err)
	}
	if s.verifier, err = verify.New(s.cache, verify.WithRoot(s.w.Root())); err != nil {
		t.Fatal(err)
	}
	return s
}

// sgxKey and tdxKey are the collateral keys of the world's platforms.
func sgxKey() pcs.Key {
	return pcs.Key{TEE: quote.TEESGX, FMSPC: sim.DefaultSGXFMSPC, CA: pcs.CAProcessor}
}

func tdxKey() pcs.Key {
	return pcs.Key{TEE: quote.TEETDX, FMSPC: sim.DefaultTDXFMSPC, CA: pcs.CAPlatform}
}

// prefetch loads the collateral of both TEEs into the cache.
func (s *stack) prefetch(t testing.TB) {
	t.Helper()
	if err := s.cache.Prefetch(context.Background(), sgxKey(), tdxKey()); err != nil {
		t.Fatalf("prefetch: %v", err)
	}
}

// now is the stack's verification time.
func (s *stack) now() time.Time {
	if s.clock != nil {
		return s.clock.Now()
	}
	return simtest.At(s.w)
}

// enclave returns the demo workload's enclave on the world's SGX platform at status.
func (s *stack) enclave(t testing.TB, status pcs.TCBStatus) *sim.Enclave {
	t.Helper()
	return simtest.Platform(t, s.w, quote.TEESGX, status).Enclave(sim.DefaultIdentity())
}

// raTLS makes an RA-TLS certificate with ratls.NewCertificate, as the client does.
func raTLS(t testing.TB, a ratls.Attester, opts ...ratls.CreateOption) *tls.Certificate {
	t.Helper()
	c, err := ratls.NewCertificate(context.Background(), a, opts...)
	if err != nil {
		t.Fatalf("ratls.NewCertificate: %v", err)
	}
	return c
}

// Names of the test secrets, as sources and as the names clients ask for.
const (
	srcDefault = "demo-secret"
	srcDB      = "db-password"
)

// demoPolicy is the demo workload: the simulator's default MRENCLAVE, UpToDate only, no
// advisories, no debug; "default" and "db" secrets.
func demoPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.New([]policy.Workload{{
		Name:      "demo",
		MREnclave: []quote.Measurement{sim.DefaultIdentity().MREnclave},
		Secrets:   map[string]string{"default": srcDefault, "db": srcDB},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type staticSecrets struct{ set *secrets.Set }

func (s staticSecrets) Current() *secrets.Set { return s.set }

func demoSecrets(t testing.TB) staticSecrets {
	t.Helper()
	set, err := secrets.Load(map[string]secrets.Spec{
		srcDefault: {Value: secretValue("default")},
		srcDB:      {Value: secretValue("db")},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return staticSecrets{set}
}

// served is one running server.Server on 127.0.0.1.
type served struct {
	addr    string
	srv     *server.Server
	audit   *simtest.LogBuffer
	metrics *obs.Metrics
	stop    func() // cancels Serve and waits for it to return (drained); idempotent
}

type serveOptions struct {
	limits  server.Limits
	now     func() time.Time // nil: the stack's verification time
	secrets server.SecretsSource
	policy  *policy.Policy
}

// serve starts a server over the stack's verifier; it is stopped when the test ends at the
// latest.
func (s *stack) serve(t testing.TB, o serveOptions) *served {
	t.Helper()
	if o.now == nil {
		o.now = s.now
	}
	if o.secrets == nil {
		o.secrets = demoSecrets(t)
	}
	if o.policy == nil {
		o.policy = demoPolicy(t)
	}
	sv := &served{audit: &simtest.LogBuffer{}, metrics: newMetrics()}
	m := sv.metrics
	srv, err := server.New(server.Config{
		TLS:      &tls.Config{Certificates: []tls.Certificate{simtest.LoopbackCertificate(t, operator(t))}},
		Verifier: s.verifier, Policy: server.NewAtomicPolicy(o.policy), Secrets: o.secrets,
		Limits: o.limits, Now: o.now, Logger: logger("server"),
		Audit: server.NewJSONAudit(io.MultiWriter(sv.audit, &capture.audit)),
		Hooks: server.Hooks{ConnOpened: m.ConnOpened, ConnClosed: m.ConnClosed, ConnRejected: m.ConnRejected,
			Verification: m.Verification, Provision: m.Provision},
	})
	if err != nil {
		t.Fatal(err)
	}
	sv.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sv.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	sv.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(sv.stop)
	return sv
}

// records parses the audit records written so far.
func (sv *served) records(t testing.TB) []server.AuditRecord {
	t.Helper()
	return simtest.JSONLines[server.AuditRecord](t, sv.audit)
}

func rejected(t testing.TB, m *obs.Metrics, cause string) float64 {
	t.Helper()
	return simtest.MetricValue(t, m.Registry(), "secretprov_connections_rejected_total", map[string]string{"cause": cause})
}

// clientConfig is a Fetch configuration against servers with a short deadline and fast retries.
func clientConfig(t testing.TB, cert *tls.Certificate, servers ...string) client.Config {
	return client.Config{
		Servers: servers, Roots: operator(t).Pool(), Certificate: ratls.StaticCert(cert),
		Timeout: 3 * time.Second, AttemptTimeout: 2 * time.Second,
		Backoff: client.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		Logger:  logger("client"),
	}
}

// fetch runs client.Fetch and records its error text for the leak check.
func fetch(ctx context.Context, cfg client.Config) (*client.Result, error) {
	res, err := client.Fetch(ctx, cfg)
	noteErr(err)
	if err == nil {
		capture.delivered.Add(int64(len(res.Secrets)))
	}
	return res, err
}

// value returns a received secret's value as a string (for comparison only: never print it).
func value(res *client.Result, name string) string {
	s, ok := res.Get(name)
	if !ok {
		return ""
	}
	return string(s.Bytes())
}
