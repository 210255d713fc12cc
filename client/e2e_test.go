package client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// End to end against package server: a simulated world, its verifier and a one-workload policy.

const (
	e2eDefault = "A_SIMPLE_SECRET-e2e\x00"
	e2eDB      = "db-password-e2e-7Qw"
)

type staticSet struct{ set *secrets.Set }

func (s staticSet) Current() *secrets.Set { return s.set }

type e2eWorld struct {
	w     *sim.World
	pki   *testPKI
	audit *simtest.LogBuffer
}

func newE2EWorld(t *testing.T) *e2eWorld {
	return &e2eWorld{w: simtest.World(t), pki: newPKI(t), audit: &simtest.LogBuffer{}}
}

// start runs a provisioning server until stop is called or the test ends.
func (e *e2eWorld) start(t *testing.T) (addr string, stop func()) {
	t.Helper()
	v, err := verify.New(e.w, verify.WithRoot(e.w.Root()))
	if err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New([]policy.Workload{{
		Name:      "demo",
		MREnclave: []quote.Measurement{sim.DefaultIdentity().MREnclave},
		Secrets:   map[string]string{"default": "demo-secret", "db": "db-password"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	set, err := secrets.Load(map[string]secrets.Spec{"demo-secret": {Value: e2eDefault}, "db-password": {Value: e2eDB}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := simtest.At(e.w)
	srv, err := server.New(server.Config{
		TLS:      newServerConfig(e.pki.loopbackCert(t)),
		Verifier: v, Policy: server.NewAtomicPolicy(pol), Secrets: staticSet{set},
		Audit: server.NewJSONAudit(e.audit), Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

func (e *e2eWorld) cert(t *testing.T, status pcs.TCBStatus, id sim.Identity) ratls.CertSource {
	t.Helper()
	c, err := client.NewCertSource(t.Context(), simtest.Platform(t, e.w, quote.TEESGX, status).Enclave(id))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *e2eWorld) config(cert ratls.CertSource, servers ...string) client.Config {
	return client.Config{Servers: servers, Roots: e.pki.roots, Certificate: cert, Timeout: 10 * time.Second, Backoff: fastRetry}
}

func TestE2EWithServer(t *testing.T) {
	e := newE2EWorld(t)
	addr, _ := e.start(t)
	good := e.cert(t, pcs.StatusUpToDate, sim.DefaultIdentity())

	t.Run("named", func(t *testing.T) {
		cfg := e.config(good, deadAddr(t), addr)
		cfg.Names = []string{"default", "db"}
		res, err := client.Fetch(t.Context(), cfg)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		if v := values(t, res); v["default"] != e2eDefault || v["db"] != e2eDB || res.Server != addr {
			t.Errorf("wrong secrets or server %s", res.Server)
		}
	})
	t.Run("gramine V1", func(t *testing.T) {
		cfg := e.config(good, addr)
		cfg.Protocol = client.GramineV1
		res, err := client.Fetch(t.Context(), cfg)
		if err != nil || values(t, res)["default"] != e2eDefault {
			t.Fatalf("Fetch = %v, %v", res, err)
		}
	})
	t.Run("secret not granted", func(t *testing.T) {
		cfg := e.config(good, addr)
		cfg.Names = []string{"default", "other"}
		_, err := client.Fetch(t.Context(), cfg)
		de, ok := errors.AsType[*client.DeniedError](err)
		if !ok || len(de.Denials) != 1 || de.Denials[0].Name != "other" || de.Denials[0].Status == wire.StatusFound {
			t.Fatalf("Fetch error %v, want a denial of other", err)
		}
	})

	other := sim.DefaultIdentity()
	other.MREnclave[0] ^= 1
	debug := sim.DefaultIdentity()
	debug.Debug = true
	revoked, err := e.w.PCKRevokedPlatform(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	revokedCert, err := client.NewCertSource(t.Context(), revoked.Enclave(sim.DefaultIdentity()))
	if err != nil {
		t.Fatal(err)
	}
	refusals := []struct {
		name   string
		cert   ratls.CertSource
		reason string
	}{
		{"wrong MRENCLAVE", e.cert(t, pcs.StatusUpToDate, other), "identity_mismatch"},
		{"debug enclave", e.cert(t, pcs.StatusUpToDate, debug), "debug_not_allowed"},
		{"OutOfDate platform", e.cert(t, pcs.StatusOutOfDate, sim.DefaultIdentity()), "tcb_status_not_accepted"},
		{"revoked PCK", revokedCert, "pck_revoked"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, err := client.Fetch(t.Context(), e.config(tc.cert, addr))
			re, ok := errors.AsType[*client.RefusedError](err)
			if !ok || re.Reason != tc.reason {
				t.Fatalf("Fetch error %v, want refusal %s", err, tc.reason)
			}
			// The server writes its audit record when the connection ends, after our client left.
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(e.audit.String(), `"reason":"`+tc.reason+`"`); {
				if time.Now().After(deadline) {
					t.Fatalf("the audit log has no %s record", tc.reason)
				}
				time.Sleep(10 * time.Millisecond)
			}
			// A Gramine V1 client learns nothing: the server closes without a response.
			cfg := e.config(tc.cert, addr)
			cfg.Protocol, cfg.Timeout = client.GramineV1, 300*time.Millisecond
			if _, err := client.Fetch(t.Context(), cfg); !errors.Is(err, client.ErrNoResponse) || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("V1: Fetch error %v, want ErrNoResponse until the deadline", err)
			}
		})
	}
	for _, v := range []string{e2eDefault, e2eDB} {
		if strings.Contains(e.audit.String(), strings.TrimSuffix(v, "\x00")) {
			t.Errorf("a secret value is in the audit log")
		}
	}
}

// Three servers behind one server list; the first is stopped in the middle of the run and no
// provisioning fails.
func TestE2EServerStoppedMidRun(t *testing.T) {
	e := newE2EWorld(t)
	a1, stop1 := e.start(t)
	a2, _ := e.start(t)
	a3, _ := e.start(t)
	cfg := e.config(e.cert(t, pcs.StatusUpToDate, sim.DefaultIdentity()), a1, a2, a3)
	served := map[string]int{}
	for i := range 12 {
		if i == 5 {
			stop1()
		}
		res, err := client.Fetch(t.Context(), cfg)
		if err != nil {
			t.Fatalf("provisioning %d: %v", i, err)
		}
		served[res.Server]++
	}
	if served[a1] != 5 || served[a2] != 7 {
		t.Errorf("served by %v", served)
	}
}
