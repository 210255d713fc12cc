package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
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

// testPKI is a CA and the server certificates it issues. Validity covers synctest's fake
// clock (which starts in 2000) and today.
type testPKI struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	roots *x509.CertPool
}

var (
	validFrom  = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	validUntil = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test provisioning CA"},
		NotBefore: validFrom, NotAfter: validUntil, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &testPKI{ca: ca, key: key, roots: roots}
}

// serverCert issues a server certificate; with no dns names and no IPs it has no SAN at all.
func (p *testPKI) serverCert(t testing.TB, cn string, dns []string, ips ...net.IP) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: validFrom, NotAfter: validUntil, DNSNames: dns, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *testPKI) loopbackCert(t testing.TB) tls.Certificate {
	return p.serverCert(t, "localhost", []string{"localhost"}, net.IPv4(127, 0, 0, 1), net.IPv6loopback)
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
