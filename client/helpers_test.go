package client_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/wire"
)

// raTLS is the RA-TLS certificate of the simulated enclave, made once for the test binary as
// the client makes it once per process.
var raTLS struct {
	once sync.Once
	cert ratls.CertSource
}

func raTLSCert(t testing.TB) ratls.CertSource {
	t.Helper()
	raTLS.once.Do(func() {
		w := simtest.World(t)
		e := simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity())
		c, err := client.NewCertSource(context.Background(), e)
		if err != nil {
			t.Fatalf("NewCertSource: %v", err)
		}
		raTLS.cert = c
	})
	if raTLS.cert == nil {
		t.Fatal("no RA-TLS certificate (creating it failed in an earlier test)")
	}
	return raTLS.cert
}

// testPKI is the operator's CA (sim.TLSAuthority) and the pool that trusts it. Its validity
// covers synctest's fake clock (which starts in 2000) and today.
type testPKI struct {
	ca    *sim.TLSAuthority
	roots *x509.CertPool
}

var (
	validFrom  = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	validUntil = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	ca := simtest.TLSAuthority(t, sim.WithTLSValidity(validFrom, validUntil))
	return &testPKI{ca: ca, roots: ca.Pool()}
}

// loopbackCert issues a server certificate for localhost, 127.0.0.1 and ::1.
func (p *testPKI) loopbackCert(t testing.TB) tls.Certificate {
	t.Helper()
	return simtest.LoopbackCertificate(t, p.ca)
}

// handler is what a test server does with connection n (1-based) after the handshake.
type handler func(c *tls.Conn, n int)

// testServer is a minimal provisioning server: TLS with a required client certificate,
// then a handler speaking package wire.
type testServer struct {
	t      testing.TB
	conf   *tls.Config
	handle handler
	addr   string

	mu    sync.Mutex
	conns int      // handshakes completed
	peers []string // MRENCLAVE of each client's RA-TLS certificate
	wg    sync.WaitGroup
}

func newServerConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
		ClientAuth: tls.RequireAnyClientCert, SessionTicketsDisabled: true,
	}
}

// startServer serves on 127.0.0.1:0 until the test ends.
func startServer(t testing.TB, conf *tls.Config, h handler) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, conf, h)
}

func serveOn(t testing.TB, ln net.Listener, conf *tls.Config, h handler) *testServer {
	s := &testServer{t: t, conf: conf, handle: h, addr: ln.Addr().String()}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { s.serveConn(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// serveConn handshakes raw and runs the handler; also used over net.Pipe in synctest bubbles.
func (s *testServer) serveConn(raw net.Conn) {
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Server(raw, s.conf)
	if err := c.HandshakeContext(context.Background()); err != nil {
		return
	}
	mr := "unparsable"
	if cs := c.ConnectionState(); len(cs.PeerCertificates) == 1 {
		if rc, err := ratls.ParseX509(cs.PeerCertificates[0]); err == nil && rc.Quote.SGX != nil {
			mr = rc.Quote.SGX.MREnclave.String()
		}
	}
	s.mu.Lock()
	s.conns++
	n := s.conns
	s.peers = append(s.peers, mr)
	s.mu.Unlock()
	s.handle(c, n)
}

func (s *testServer) handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *testServer) peerMREnclaves() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.peers...)
}

// grant answers V1 with values["default"] and named requests with the values it has (others
// not found); after a V1 response it waits for the client to close, as our server does.
func grant(values map[string]string) handler {
	return func(c *tls.Conn, _ int) {
		req, err := wire.ReadRequest(c, wire.Limits{})
		if err != nil {
			return
		}
		if req.Kind == wire.KindV1 {
			v, ok := values[client.DefaultSecretName]
			if !ok || wire.WriteV1Response(c, []byte(v)) != nil {
				return
			}
			_, _ = io.Copy(io.Discard, c)
			return
		}
		entries := make([]wire.Entry, len(req.Names))
		for i, name := range req.Names {
			entries[i] = wire.Entry{Name: name, Status: wire.StatusNotFound}
			if v, ok := values[name]; ok {
				entries[i] = wire.Entry{Name: name, Status: wire.StatusFound, Value: []byte(v)}
			}
		}
		_ = wire.WriteNamedResponse(c, entries, wire.Limits{})
	}
}

// refuse answers a named request with a refusal and closes a V1 request without a response.
func refuse(reason string) handler {
	return func(c *tls.Conn, _ int) {
		req, err := wire.ReadRequest(c, wire.Limits{})
		if err == nil && req.Kind == wire.KindNamed {
			_ = wire.WriteRefusal(c, reason)
		}
	}
}

// entries answers named requests with fixed entries for the names asked.
func entries(status map[string]wire.Entry, values map[string]string) handler {
	return func(c *tls.Conn, _ int) {
		req, err := wire.ReadRequest(c, wire.Limits{})
		if err != nil || req.Kind != wire.KindNamed {
			return
		}
		out := make([]wire.Entry, len(req.Names))
		for i, name := range req.Names {
			if e, ok := status[name]; ok {
				out[i] = e
				out[i].Name = name
				continue
			}
			out[i] = wire.Entry{Name: name, Status: wire.StatusFound, Value: []byte(values[name])}
		}
		_ = wire.WriteNamedResponse(c, out, wire.Limits{})
	}
}

// closeSilently reads the request and closes without a response, as Gramine's server does when
// it refuses.
func closeSilently(c *tls.Conn, _ int) { _, _ = wire.ReadRequest(c, wire.Limits{}) }

// sequence runs the handlers in turn, one per connection; the last one repeats.
func sequence(hs ...handler) handler {
	return func(c *tls.Conn, n int) { hs[min(n, len(hs))-1](c, n) }
}

// deadAddr returns a loopback address on which nothing listens.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// rawServer accepts TCP connections and hands them to f (not TLS).
func rawServer(t testing.TB, f func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); f(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// pipeDialer connects every dial to an in-memory server (usable in synctest bubbles); dials to
// addresses not in srv fail with errRefused.
type pipeDialer struct {
	mu    sync.Mutex
	srv   map[string]*testServer
	hang  string // an address whose server reads and never answers
	dials []dial
	start time.Time
	wg    sync.WaitGroup
}

type dial struct {
	addr string
	at   time.Duration
}

var errRefused = errors.New("test: connection refused")

func (d *pipeDialer) DialContext(_ context.Context, _, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dials = append(d.dials, dial{addr, time.Since(d.start)})
	s := d.srv[addr]
	d.mu.Unlock()
	if addr != d.hang && s == nil {
		return nil, errRefused
	}
	c1, c2 := net.Pipe()
	if s != nil {
		d.wg.Go(func() { s.serveConn(c2) })
	} else {
		d.wg.Go(func() { hangConn(c2) })
	}
	return c1, nil
}

func (d *pipeDialer) log() []dial {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]dial(nil), d.dials...)
}
