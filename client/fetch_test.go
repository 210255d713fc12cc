package client_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/wire"
)

// fastRetry keeps integration tests quick: short pauses, short deadline.
var fastRetry = client.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}

func baseConfig(t *testing.T, p *testPKI, servers ...string) client.Config {
	return client.Config{
		Servers: servers, Roots: p.roots, Certificate: raTLSCert(t),
		Timeout: 10 * time.Second, Backoff: fastRetry,
	}
}

func values(t *testing.T, res *client.Result) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, s := range res.Secrets {
		out[s.Name()] = string(s.Bytes())
	}
	return out
}

func TestFetchNamed(t *testing.T) {
	p := newPKI(t)
	srv := startServer(t, newServerConfig(p.loopbackCert(t)), grant(map[string]string{
		"default": "A_SIMPLE_SECRET\x00", "db-password": "hunter2",
	}))
	cfg := baseConfig(t, p, srv.addr)
	cfg.Names = []string{"db-password", "default"}
	res, err := client.Fetch(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if res.Server != srv.addr || res.Protocol != client.Secretprov || res.Attempts != 1 {
		t.Errorf("result %+v", res)
	}
	if got := []string{res.Secrets[0].Name(), res.Secrets[1].Name()}; !slices.Equal(got, cfg.Names) {
		t.Errorf("secret order %v, want %v", got, cfg.Names)
	}
	v := values(t, res)
	if v["default"] != "A_SIMPLE_SECRET\x00" || v["db-password"] != "hunter2" {
		t.Errorf("values differ")
	}
	if s, ok := res.Get("db-password"); !ok || string(s.Bytes()) != "hunter2" {
		t.Errorf("Get(db-password) = %v, %v", s, ok)
	}
	// The server saw the simulated enclave's RA-TLS certificate, binding intact.
	want := sim.DefaultIdentity().MREnclave.String()
	if got := srv.peerMREnclaves(); len(got) != 1 || got[0] != want {
		t.Errorf("server saw MRENCLAVE %v, want [%s]", got, want)
	}
}

func TestFetchV1(t *testing.T) {
	p := newPKI(t)
	for _, maxVersion := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(maxVersion), func(t *testing.T) {
			conf := newServerConfig(p.loopbackCert(t))
			conf.MaxVersion = maxVersion // Gramine 1.2's mbedTLS speaks TLS 1.2 only
			srv := startServer(t, conf, grant(map[string]string{"default": "FIRST_SECRET\x00"}))
			cfg := baseConfig(t, p, srv.addr)
			cfg.Protocol = client.GramineV1
			res, err := client.Fetch(t.Context(), cfg)
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if v := values(t, res); len(v) != 1 || v["default"] != "FIRST_SECRET\x00" {
				t.Errorf("got secrets %v", res.Secrets)
			}
		})
	}
}

func TestFetchRefusalIsFinal(t *testing.T) {
	p := newPKI(t)
	conf := newServerConfig(p.loopbackCert(t))
	refusing := startServer(t, conf, refuse("identity_mismatch"))
	good := startServer(t, conf, grant(map[string]string{"default": "x"}))
	start := time.Now()
	_, err := client.Fetch(t.Context(), baseConfig(t, p, refusing.addr, good.addr))
	re, ok := errors.AsType[*client.RefusedError](err)
	if !ok || re.Reason != "identity_mismatch" || re.Server != refusing.addr {
		t.Fatalf("Fetch error %v, want *RefusedError identity_mismatch from %s", err, refusing.addr)
	}
	if !errors.Is(err, wire.ErrRefused) {
		t.Errorf("errors.Is(err, wire.ErrRefused) = false")
	}
	if n := good.handshakes(); n != 0 {
		t.Errorf("the next server was tried %d times after a final refusal", n)
	}
	if refusing.handshakes() != 1 {
		t.Errorf("refusing server tried %d times, want 1", refusing.handshakes())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

func TestFetchTransientRefusalRetries(t *testing.T) {
	p := newPKI(t)
	for _, reason := range []string{"collateral_unavailable", "secret_unavailable"} {
		t.Run(reason, func(t *testing.T) {
			srv := startServer(t, newServerConfig(p.loopbackCert(t)),
				sequence(refuse(reason), refuse(reason), grant(map[string]string{"default": "v"})))
			res, err := client.Fetch(t.Context(), baseConfig(t, p, srv.addr))
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			if res.Attempts != 3 || srv.handshakes() != 3 {
				t.Errorf("attempts %d, handshakes %d, want 3", res.Attempts, srv.handshakes())
			}
		})
	}
}

func TestFetchDenied(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name   string
		status map[string]wire.Entry
		want   []client.Denial
		final  bool
	}{
		{
			name: "not granted and not found",
			status: map[string]wire.Entry{
				"db":  {Status: wire.StatusNotGranted, Reason: "secret_not_granted"},
				"api": {Status: wire.StatusNotFound},
			},
			want: []client.Denial{
				{Name: "db", Status: wire.StatusNotGranted, Reason: "secret_not_granted"},
				{Name: "api", Status: wire.StatusNotFound},
			},
			final: true,
		},
		{
			name:   "transient only",
			status: map[string]wire.Entry{"db": {Status: wire.StatusNotFound, Reason: "secret_unavailable"}},
			want:   []client.Denial{{Name: "db", Status: wire.StatusNotFound, Reason: "secret_unavailable"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, newServerConfig(p.loopbackCert(t)),
				entries(tc.status, map[string]string{"default": "v", "db": "d", "api": "a"}))
			cfg := baseConfig(t, p, srv.addr)
			cfg.Names = []string{"default", "db", "api"}
			cfg.Timeout = 500 * time.Millisecond
			_, err := client.Fetch(t.Context(), cfg)
			de, ok := errors.AsType[*client.DeniedError](err)
			if !ok || de.Server != srv.addr || !slices.Equal(de.Denials, tc.want) {
				t.Fatalf("Fetch error %v, want *DeniedError %v", err, tc.want)
			}
			if retried := srv.handshakes() > 1; retried == tc.final {
				t.Errorf("final %v, but %d attempts", tc.final, srv.handshakes())
			}
			if !tc.final && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("transient denial: %v does not match DeadlineExceeded", err)
			}
		})
	}
}

// A dead first server, a server whose certificate does not verify, a server that is not TLS,
// and a server that closes without a response each move the client on to the next server.
func TestFetchFailover(t *testing.T) {
	p := newPKI(t)
	good := startServer(t, newServerConfig(p.loopbackCert(t)), grant(map[string]string{"default": "v"}))
	other := newPKI(t) // a CA the client does not trust
	untrusted := startServer(t, newServerConfig(other.loopbackCert(t)), grant(map[string]string{"default": "v"}))
	notTLS := rawServer(t, func(c net.Conn) { _, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n")) })
	silent := startServer(t, newServerConfig(p.loopbackCert(t)), closeSilently)
	wrongName := startServer(t, newServerConfig(simtest.ServerCertificateWithCN(t, p.ca, "elsewhere", "elsewhere.example")), grant(nil))

	tests := []struct {
		name  string
		first string
		want  error // what the log of the failed attempt must say, via errors.Is when set
	}{
		{"dead", deadAddr(t), nil},
		{"untrusted certificate", untrusted.addr, nil},
		{"server name mismatch", wrongName.addr, nil},
		{"not TLS", notTLS, nil},
		{"closed without response", silent.addr, client.ErrNoResponse},
	}
	for _, tc := range tests {
		for _, proto := range []client.Protocol{client.Secretprov, client.GramineV1} {
			t.Run(tc.name+"/"+string(proto), func(t *testing.T) {
				cfg := baseConfig(t, p, tc.first, good.addr)
				cfg.Protocol = proto
				rec := &recorder{}
				cfg.Logger = rec.logger()
				res, err := client.Fetch(t.Context(), cfg)
				if err != nil {
					t.Fatalf("Fetch: %v", err)
				}
				if res.Server != good.addr || res.Attempts != 2 {
					t.Errorf("answered by %s after %d attempts, want %s after 2", res.Server, res.Attempts, good.addr)
				}
				if fails := rec.failures(); len(fails) != 1 || tc.want != nil && !errors.Is(fails[0], tc.want) {
					t.Errorf("failed attempts logged: %v", fails)
				}
			})
		}
	}
}

func TestFetchDeadlineExceeded(t *testing.T) {
	p := newPKI(t)
	hang := rawServer(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }) // never answers
	cfg := baseConfig(t, p, deadAddr(t), hang)
	cfg.Timeout = 400 * time.Millisecond
	cfg.AttemptTimeout = 150 * time.Millisecond
	start := time.Now()
	_, err := client.Fetch(t.Context(), cfg)
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch error %v, want DeadlineExceeded", err)
	}
	if _, ok := errors.AsType[*client.RefusedError](err); ok {
		t.Errorf("a timeout reported as a refusal: %v", err)
	}
	if elapsed < 400*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("gave up after %s, want about 400ms", elapsed)
	}
}

func TestFetchCancelled(t *testing.T) {
	p := newPKI(t)
	ctx, cancel := context.WithCancel(t.Context())
	hang := rawServer(t, func(c net.Conn) { cancel(); _, _ = c.Read(make([]byte, 1)) })
	_, err := client.Fetch(ctx, baseConfig(t, p, hang))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch error %v, want context.Canceled", err)
	}
}

func TestFetchServerNames(t *testing.T) {
	p := newPKI(t)
	// A certificate with a common name and no subject alternative name.
	cnOnly := startServer(t, newServerConfig(simtest.ServerCertificateWithCN(t, p.ca, "provisioning.example")), grant(map[string]string{"default": "v"}))

	t.Run("CN-only certificate with override", func(t *testing.T) {
		cfg := baseConfig(t, p, cnOnly.addr)
		cfg.ServerName = "provisioning.example"
		if _, err := client.Fetch(t.Context(), cfg); err != nil {
			t.Fatalf("Fetch: %v", err)
		}
	})
	t.Run("CN-only certificate, host does not match", func(t *testing.T) {
		cfg := baseConfig(t, p, cnOnly.addr)
		cfg.Timeout = 300 * time.Millisecond
		if _, err := client.Fetch(t.Context(), cfg); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Fetch error %v, want DeadlineExceeded", err)
		}
	})
	t.Run("IPv6 literal", func(t *testing.T) {
		ln, err := net.Listen("tcp", "[::1]:0")
		if err != nil {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		srv := serveOn(t, ln, newServerConfig(p.loopbackCert(t)), grant(map[string]string{"default": "v6"}))
		servers, err := client.ParseServers("dummyserver;" + srv.addr)
		if err != nil || len(servers) != 1 || !strings.HasPrefix(servers[0], "[::1]:") {
			t.Fatalf("ParseServers = %v, %v", servers, err)
		}
		res, err := client.Fetch(t.Context(), baseConfig(t, p, servers...))
		if err != nil || values(t, res)["default"] != "v6" {
			t.Fatalf("Fetch = %v, %v", res, err)
		}
	})
}

func TestFetchInvalidConfig(t *testing.T) {
	p := newPKI(t)
	ok := func(t *testing.T) client.Config { return baseConfig(t, p, "127.0.0.1:1") }
	tests := []struct {
		name string
		edit func(*client.Config)
	}{
		{"no servers", func(c *client.Config) { c.Servers = nil }},
		{"server without port", func(c *client.Config) { c.Servers = []string{"localhost"} }},
		{"server port 0", func(c *client.Config) { c.Servers = []string{"localhost:0"} }},
		{"empty host", func(c *client.Config) { c.Servers = []string{":4433"} }},
		{"no certificate", func(c *client.Config) { c.Certificate = nil }},
		{"invalid name", func(c *client.Config) { c.Names = []string{"../etc/passwd"} }},
		{"repeated name", func(c *client.Config) { c.Names = []string{"a", "a"} }},
		{"V1 with another name", func(c *client.Config) { c.Protocol = client.GramineV1; c.Names = []string{"db"} }},
		{"unknown protocol", func(c *client.Config) { c.Protocol = "v2" }},
		{"negative timeout", func(c *client.Config) { c.Timeout = -time.Second }},
		{"shrinking backoff", func(c *client.Config) { c.Backoff.Factor = 0.5 }},
		{"jitter above 1", func(c *client.Config) { c.Backoff.Jitter = 1.5 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok(t)
			tc.edit(&cfg)
			if _, err := client.Fetch(t.Context(), cfg); !errors.Is(err, client.ErrInvalidConfig) {
				t.Errorf("Fetch error %v, want ErrInvalidConfig", err)
			}
		})
	}
}

func TestParseProtocol(t *testing.T) {
	for in, want := range map[string]client.Protocol{"secretprov": client.Secretprov, "gramine": client.GramineV1} {
		if got, err := client.ParseProtocol(in); err != nil || got != want {
			t.Errorf("ParseProtocol(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := client.ParseProtocol("v1"); !errors.Is(err, client.ErrInvalidConfig) {
		t.Errorf("ParseProtocol(v1) error %v", err)
	}
}
