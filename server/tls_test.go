package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/verify"
)

func newTestServer(t *testing.T) *Server {
	t.Helper()
	srv, err := New(Config{
		TLS:      &tls.Config{Certificates: []tls.Certificate{testPKI(t).server}},
		Verifier: &stubVerifier{}, Policy: NewAtomicPolicy(testPolicy(t)), Secrets: staticSecrets{testSecrets(t)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// stubVerifier refuses every quote; enough where no client attests.
type stubVerifier struct{}

func (*stubVerifier) Verify(context.Context, *quote.Quote, time.Time) (*verify.Result, error) {
	return nil, errors.New("stub verifier")
}

func TestNewValidates(t *testing.T) {
	good := func() Config {
		return Config{
			TLS:      &tls.Config{Certificates: []tls.Certificate{testPKI(t).server}},
			Verifier: &stubVerifier{}, Policy: NewAtomicPolicy(testPolicy(t)), Secrets: staticSecrets{},
		}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no TLS", func(c *Config) { c.TLS = nil }, "TLS is required"},
		{"no certificate", func(c *Config) { c.TLS = &tls.Config{} }, "no certificate"},
		{"GetConfigForClient", func(c *Config) {
			c.TLS.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }
		}, "GetConfigForClient"},
		{"TLS 1.1 max", func(c *Config) { c.TLS.MaxVersion = tls.VersionTLS11 }, "MaxVersion"},
		{"no verifier", func(c *Config) { c.Verifier = nil }, "Verifier"},
		{"no policy", func(c *Config) { c.Policy = nil }, "Policy"},
		{"no secrets", func(c *Config) { c.Secrets = nil }, "Secrets"},
		{"negative limit", func(c *Config) { c.Limits.MaxConnections = -1 }, "MaxConnections"},
		{"negative timeout", func(c *Config) { c.Limits.IdleTimeout = -time.Second }, "IdleTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := good()
			tt.edit(&c)
			_, err := New(c)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error about %s", err, tt.want)
			}
		})
	}
	if _, err := New(good()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestNewDefaultsAndDoesNotMutate(t *testing.T) {
	base := &tls.Config{
		Certificates: []tls.Certificate{testPKI(t).server},
		MinVersion:   tls.VersionTLS10, ClientAuth: tls.NoClientCert, NextProtos: []string{"x"},
	}
	before := base.Clone()
	srv, err := New(Config{TLS: base, Verifier: &stubVerifier{}, Policy: NewAtomicPolicy(testPolicy(t)),
		Secrets: staticSecrets{}, Limits: Limits{IdleTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	ignore := cmpopts.IgnoreUnexported(tls.Config{})
	if diff := cmp.Diff(before, base, ignore, cmpopts.IgnoreFields(tls.Config{}, "Certificates")); diff != "" {
		t.Errorf("caller's tls.Config changed:\n%s", diff)
	}
	c := srv.tls
	if c.MinVersion != tls.VersionTLS12 || c.ClientAuth != tls.RequireAnyClientCert || !c.SessionTicketsDisabled {
		t.Errorf("server TLS: min %x, auth %v, tickets disabled %v", c.MinVersion, c.ClientAuth, c.SessionTicketsDisabled)
	}
	for _, id := range c.CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("suite %s is not ECDHE+AEAD", name)
		}
	}
	want := Limits{MaxConnections: 1024, MaxConnectionsPerIP: 64, HandshakeTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Second, FollowUpTimeout: 2 * time.Second, DrainTimeout: 30 * time.Second}
	if diff := cmp.Diff(want, srv.limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
}

// TestTLSVersionsAndSuites: TLS 1.0/1.1 and a non-AEAD TLS 1.2 suite are refused; TLS 1.2 with
// an AEAD suite and TLS 1.3 are served; sessions are never resumed.
func TestTLSVersionsAndSuites(t *testing.T) {
	e := start(t, envOptions{})
	cert := goodCert(t)
	conf := func(edit func(*tls.Config)) *tls.Config {
		c := ratls.ClientConfig(ratls.StaticCert(cert), testPKI(t).roots, "")
		edit(c)
		return c
	}
	refused := map[string]*tls.Config{
		"TLS 1.0": conf(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10 }),
		"TLS 1.1": conf(func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS11, tls.VersionTLS11 }),
		"TLS 1.2 CBC": conf(func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256}
		}),
	}
	for name, c := range refused {
		if tc, err := dialConfig(e.addr, c); err == nil {
			tc.Close()
			t.Errorf("%s: handshake succeeded", name)
		}
	}
	cache := tls.NewLRUClientSessionCache(4)
	served := map[string]*tls.Config{
		"TLS 1.2 GCM": conf(func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12; c.ClientSessionCache = cache }),
		"TLS 1.3":     conf(func(c *tls.Config) { c.ClientSessionCache = cache }),
	}
	for name, c := range served {
		for range 2 {
			tc, err := dialConfig(e.addr, c)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if got := v1Raw(t, tc); len(got) < 41 || string(got[41:]) != secretDefault {
				t.Errorf("%s: got %q", name, got)
			}
			if tc.ConnectionState().DidResume {
				t.Errorf("%s: session resumed", name)
			}
			tc.Close()
		}
	}
}

// TestNonTLSBytes: plain TCP carrying the Gramine request or an HTTP request gets no secret.
func TestNonTLSBytes(t *testing.T) {
	e := start(t, envOptions{})
	for _, req := range []string{
		"SECRET_PROVISION_RA_TLS_REQUEST_V1\x00",
		"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		"\x16\x03\x01\x00\x05hello",
	} {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		got := readAll(c)
		c.Close()
		if strings.Contains(string(got), "SECRET_PROVISION") || strings.Contains(string(got), strings.TrimRight(secretDefault, "\x00")) {
			t.Errorf("request %q: response %q", req, got)
		}
	}
	waitCounter(t, e.metrics, "secretprov_connections_rejected_total", map[string]string{"cause": "handshake"}, 3)
	if rs := e.records(t); len(rs) != 0 {
		t.Errorf("audit records for non-TLS bytes: %+v", rs)
	}
}

// TestReasonOf: the code the peer learns for each kind of error.
func TestReasonOf(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ratls.ErrBindingInvalid, "binding_invalid"},
		{&ratls.Error{Reason: ratls.ReasonVerificationFailed, Err: errors.New("deadline")}, "verification_failed"},
		{errors.New("something else"), "verification_failed"},
	}
	for _, tt := range tests {
		if got := reasonOf(tt.err); got != tt.want {
			t.Errorf("reasonOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
