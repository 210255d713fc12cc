package cli

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// The benchmark server's one workload and secret. The value is not sensitive.
const (
	benchWorkload     = "bench"
	benchSecretSource = "bench-secret"
	benchSecret       = "bench-secret-value-0123456789abc"
)

// benchServerOptions size the benchmark server.
type benchServerOptions struct {
	conns       int           // concurrent clients to admit (limits are raised to fit)
	idleTimeout time.Duration // 0: the server's default
	onVerified  func()        // attested mode: called after each RA-TLS verification
}

// limits are the server's defaults with the connection limits raised for conns clients, all
// from one loopback address.
func (o benchServerOptions) limits() server.Limits {
	n := max(server.DefaultMaxConnections, 2*o.conns)
	return server.Limits{MaxConnections: n, MaxConnectionsPerIP: n, IdleTimeout: o.idleTimeout, DrainTimeout: 5 * time.Second}
}

// benchServer is a running benchmark server.
type benchServer struct {
	addr       string
	roots      *x509.CertPool   // verify its certificate
	caPEM      []byte           // the same, for a --ca file
	clientCert *tls.Certificate // baseline: the plain client certificate it accepts
	srv        *server.Server   // attested mode only
	stop       func()
}

// startInProcess starts the attested server (or, with --baseline-mtls, the baseline server) on
// 127.0.0.1:0 in this process, with a simulated world: f.simDir, or a fresh one in a temporary
// directory that f.simDir then names (so that the clients quote from the same world).
func startInProcess(ctx context.Context, s *streams, f *benchFlags, o benchServerOptions) (*benchServer, error) {
	removeWorld := func() {}
	if f.simDir == "" && !f.baseline {
		dir, err := os.MkdirTemp("", "secretprov-bench-")
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		if _, err := sim.Init(dir, sim.Options{}); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("bench: sim: %w", err)
		}
		f.simDir, removeWorld = dir, func() { os.RemoveAll(dir) }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		removeWorld()
		return nil, fmt.Errorf("bench: %w", err)
	}
	bs, err := startBenchServer(ctx, s, f, o, ln)
	if err != nil {
		ln.Close()
		removeWorld()
		return nil, err
	}
	stop := bs.stop
	bs.stop = func() { stop(); removeWorld() }
	return bs, nil
}

// startBenchServer serves ln with the attested or the baseline server until the returned stop
// is called (or ctx ends).
func startBenchServer(ctx context.Context, s *streams, f *benchFlags, o benchServerOptions, ln net.Listener) (*benchServer, error) {
	pki, err := newBenchPKI()
	if err != nil {
		return nil, fmt.Errorf("bench: certificates: %w", err)
	}
	secret, err := benchSecrets()
	if err != nil {
		return nil, err
	}
	bs := &benchServer{addr: ln.Addr().String(), roots: pki.roots, caPEM: pki.caPEM}
	var serve func(context.Context, net.Listener) error
	if f.baseline {
		bs.clientCert = &pki.client
		b := newBaselineServer(pki.server, pki.clientCAs, secret, o.limits())
		serve = b.serve
	} else {
		srv, err := attestedServer(f, o, pki.server, secret)
		if err != nil {
			return nil, err
		}
		bs.srv, serve = srv, srv.Serve
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln) }()
	bs.stop = func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Fprintf(s.err, "secretprov: bench: server: %v\n", err)
		}
	}
	return bs, nil
}

// attestedServer is the provisioning server (package server) as the "server" command builds
// it, with the simulated world as collateral source and root, the one bench workload, and audit
// records encoded as JSON and discarded.
func attestedServer(f *benchFlags, o benchServerOptions, cert tls.Certificate, set *secrets.Set) (*server.Server, error) {
	if f.simDir == "" {
		return nil, badInput(errors.New("bench: --sim-dir DIR: the simulated world the server trusts"))
	}
	w, err := sim.Open(f.simDir)
	if err != nil {
		return nil, badInput(fmt.Errorf("bench: %w", err))
	}
	v, err := verify.New(w, verify.WithRoot(w.Root()))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	pol, err := benchPolicy(&f.sim)
	if err != nil {
		return nil, badInput(err)
	}
	cfg := server.Config{
		TLS:      &tls.Config{Certificates: []tls.Certificate{cert}},
		Verifier: v, Policy: server.NewAtomicPolicy(pol), Secrets: staticSet{set},
		Limits: o.limits(), Audit: server.NewJSONAudit(io.Discard),
	}
	if o.onVerified != nil {
		cfg.Hooks.Verification = func(time.Duration, string, string, string) { o.onVerified() }
	}
	srv, err := server.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return srv, nil
}

// benchPolicy accepts exactly the simulated identity of the flags at their TCB status, any
// advisory, with the bench secret as "default".
func benchPolicy(sf *simQuoteFlags) (*policy.Policy, error) {
	id, err := sf.identity()
	if err != nil {
		return nil, err
	}
	st := pcs.TCBStatus(sf.status)
	if !st.Valid() {
		return nil, fmt.Errorf("bench: --tcb-status %q: want one of %s", sf.status, statusList())
	}
	wl := policy.Workload{
		Name: benchWorkload, TCBStatuses: []pcs.TCBStatus{st}, AdvisoryIDs: []string{policy.AnyAdvisory},
		AllowDebug: sf.debug, Secrets: map[string]string{policy.DefaultSecret: benchSecretSource},
	}
	if sf.tdx {
		wl.MRTD = []quote.TDMeasurement{id.MRTD}
	} else {
		wl.MREnclave = []quote.Measurement{id.MREnclave}
	}
	return policy.New([]policy.Workload{wl})
}

func benchSecrets() (*secrets.Set, error) {
	set, err := secrets.Load(map[string]secrets.Spec{benchSecretSource: {Value: benchSecret}}, nil)
	if err != nil {
		return nil, fmt.Errorf("bench: secrets: %w", err)
	}
	return set, nil
}

type staticSet struct{ set *secrets.Set }

func (s staticSet) Current() *secrets.Set { return s.set }

// benchPKI: a server CA and certificate for 127.0.0.1/localhost (P-256, as a typical operator
// certificate), and for the baseline a client CA with one client certificate whose key is P-384
// like the RA-TLS certificates, so that both modes sign and verify the same handshake.
type benchPKI struct {
	roots     *x509.CertPool
	caPEM     []byte
	server    tls.Certificate
	clientCAs *x509.CertPool
	client    tls.Certificate
}

func newBenchPKI() (*benchPKI, error) {
	ta, err := sim.NewTLSAuthority("secretprov bench CA")
	if err != nil {
		return nil, err
	}
	srv, err := ta.ServerCertificate("localhost", "127.0.0.1", "::1")
	if err != nil {
		return nil, err
	}
	// The baseline's client certificate: the operator CA issues server certificates only.
	now := time.Now()
	cca, ccaKey, err := benchCA("secretprov bench client CA", now)
	if err != nil {
		return nil, err
	}
	cliLeaf := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "bench client"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cli, err := benchLeaf(cliLeaf, elliptic.P384(), cca, ccaKey)
	if err != nil {
		return nil, err
	}
	p := &benchPKI{roots: ta.Pool(), caPEM: ta.CertificatePEM(), clientCAs: x509.NewCertPool(), server: srv, client: cli}
	p.clientCAs.AddCert(cca)
	return p, nil
}

func benchCA(cn string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func benchLeaf(tmpl *x509.Certificate, curve elliptic.Curve, ca *x509.Certificate, caKey *ecdsa.PrivateKey) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
