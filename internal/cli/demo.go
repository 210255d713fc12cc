package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// demoSecret is the demo's secret: not sensitive, printed on purpose, as Gramine's example does.
const demoSecret = "A_SIMPLE_SECRET from secretprov"

func newDemoCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on a simulated SGX platform, on loopback",
		Long: `demo runs, in one process and on 127.0.0.1 only, a simulated Intel PKI and SGX platform, a
simulated Intel PCS serving its collateral, the provisioning server with a demo policy and secret,
and enclave clients: the genuine one receives the secret; an impostor, a debug build and an
unpatched platform are refused, each with its reason. It needs no SGX, no network and no
configuration. Nothing it verifies proves anything about real hardware.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDemo(cmd.Context(), s.out)
		},
	}
}

// demo holds the pieces of the demo world.
type demo struct {
	out      io.Writer
	world    *sim.World
	pcsURL   string
	verifier *verify.Verifier
	cache    *collateral.Cache
	roots    *x509.CertPool
	addr     string
	audit    *demoAudit
	genuine  sim.Identity
}

func runDemo(ctx context.Context, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &demo{out: out, audit: &demoAudit{records: make(chan server.AuditRecord, 16)}}
	g, gctx := errgroup.WithContext(ctx)
	steps := []func(context.Context, *errgroup.Group) error{d.simulate, d.servePCS, d.fetchCollateral, d.serve}
	for _, step := range steps {
		if err := step(gctx, g); err != nil {
			cancel()
			_ = g.Wait()
			return err
		}
	}
	err := d.clients(gctx)
	cancel()
	if werr := g.Wait(); werr != nil && !errors.Is(werr, context.Canceled) && err == nil {
		err = werr
	}
	if err != nil {
		return refused(err)
	}
	d.say("done: the genuine enclave got its secret; every other request was refused with its reason")
	return nil
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) simulate(context.Context, *errgroup.Group) error {
	w, err := sim.New(sim.Options{})
	if err != nil {
		return err
	}
	d.world = w
	d.genuine = sim.DefaultIdentity()
	d.genuine.MREnclave = quote.Measurement{0x5e, 0xc7, 0xe7, 0x9a}
	d.genuine.MRSigner = quote.Measurement{0x51, 0x67}
	d.say("1. simulated Intel SGX platform and PKI (root %q, O=%q)", w.Root().Subject.CommonName, sim.Organization)
	d.say("   SIMULATED: trusted here only because the demo names its root; never in production")
	return nil
}

func (d *demo) servePCS(ctx context.Context, g *errgroup.Group) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sim.PCSHandler(d.world), ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error { return serveHTTP(ctx, srv, ln) })
	d.pcsURL = "http://" + ln.Addr().String() + sim.SGXBasePath
	d.say("2. simulated Intel PCS (API v4) at %s", d.pcsURL)
	return nil
}

func (d *demo) fetchCollateral(ctx context.Context, _ *errgroup.Group) error {
	src, err := collateral.NewClient(collateral.ClientConfig{BaseURL: d.pcsURL, Kind: collateral.ServicePCCS, HTTPClient: &http.Client{}})
	if err != nil {
		return err
	}
	if d.cache, err = collateral.NewCache(collateral.Config{Source: src, Root: d.world.Root()}); err != nil {
		return err
	}
	p, err := d.world.Platform(quote.TEESGX, pcs.StatusUpToDate)
	if err != nil {
		return err
	}
	if err := d.cache.Prefetch(ctx, p.Key()); err != nil {
		return err
	}
	b, err := d.cache.Collateral(ctx, p.Key())
	if err != nil {
		return err
	}
	if d.verifier, err = verify.New(d.cache, verify.WithRoot(d.world.Root())); err != nil {
		return err
	}
	d.say("3. collateral fetched and verified once: FMSPC %s, TCB evaluation %d, next update %s",
		b.TCBInfo.FMSPC, b.TCBInfo.TCBEvaluationDataNumber, b.TCBInfo.NextUpdate.UTC().Format(time.RFC3339))
	return nil
}

func (d *demo) serve(ctx context.Context, g *errgroup.Group) error {
	tlsConf, err := d.serverTLS()
	if err != nil {
		return err
	}
	pol, err := policy.New([]policy.Workload{{
		Name:      "demo",
		MREnclave: []quote.Measurement{d.genuine.MREnclave},
		Secrets:   map[string]string{policy.DefaultSecret: "demo-secret"},
	}})
	if err != nil {
		return err
	}
	sec, err := secrets.NewWatcher(map[string]secrets.Spec{"demo-secret": {Value: demoSecret}}, nil, nil)
	if err != nil {
		return err
	}
	srv, err := server.New(server.Config{
		TLS:      tlsConf,
		Verifier: d.verifier,
		Policy:   server.NewAtomicPolicy(pol),
		Secrets:  sec,
		Audit:    d.audit,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	g.Go(func() error { return srv.Serve(ctx, ln) })
	d.addr = ln.Addr().String()
	d.say("4. provisioning server on %s: workload \"demo\" = MRENCLAVE %s, UpToDate platforms only", d.addr, short(d.genuine.MREnclave.String()))
	return nil
}

// serverTLS returns the server's ordinary TLS configuration: a certificate for localhost and
// 127.0.0.1 as the operator's own CA would issue it. The demo clients trust that CA only
// because they are handed its pool (d.roots).
func (d *demo) serverTLS() (*tls.Config, error) {
	ca, err := sim.NewTLSAuthority("secretprov demo CA")
	if err != nil {
		return nil, err
	}
	cert, err := ca.ServerCertificate("localhost", "127.0.0.1")
	if err != nil {
		return nil, err
	}
	d.roots = ca.Pool()
	return &tls.Config{Certificates: []tls.Certificate{cert}}, nil
}

// clients runs the genuine enclave and three that must be refused.
func (d *demo) clients(ctx context.Context) error {
	impostor, debugBuild := d.genuine, d.genuine
	impostor.MREnclave = quote.Measurement{0xba, 0xd0}
	debugBuild.Debug = true
	cases := []struct {
		title  string
		status pcs.TCBStatus
		id     sim.Identity
		want   string // "" = must receive the secret
	}{
		{"the genuine enclave", pcs.StatusUpToDate, d.genuine, ""},
		{"an impostor enclave (other MRENCLAVE)", pcs.StatusUpToDate, impostor, string(policy.ReasonIdentityMismatch)},
		{"a debug build of the genuine enclave", pcs.StatusUpToDate, debugBuild, string(policy.ReasonDebugNotAllowed)},
		{"the genuine enclave on an unpatched (OutOfDate) platform", pcs.StatusOutOfDate, d.genuine, string(policy.ReasonTCBStatusNotAccepted)},
	}
	for i, c := range cases {
		d.say("%d. client: %s attests (RA-TLS certificate with a fresh P-384 key and its quote)", 5+i, c.title)
		if err := d.client(ctx, c.status, c.id, c.want); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) client(ctx context.Context, status pcs.TCBStatus, id sim.Identity, want string) error {
	p, err := d.world.Platform(quote.TEESGX, status)
	if err != nil {
		return err
	}
	certs, err := client.NewCertSource(ctx, p.Enclave(id))
	if err != nil {
		return err
	}
	res, err := client.Fetch(ctx, client.Config{
		Servers: []string{d.addr}, Roots: d.roots, ServerName: "localhost",
		Certificate: certs, Timeout: 20 * time.Second,
	})
	rec, aerr := d.audit.next(ctx)
	if aerr != nil {
		return aerr
	}
	switch refusal, ok := errors.AsType[*client.RefusedError](err); {
	case err == nil && want == "":
		secret, _ := res.Get(policy.DefaultSecret)
		d.say("   --- Received secret = '%s'", secret.Bytes())
		d.say("   audit: granted to workload %q, TCB %s, secret %s", rec.Workload, rec.TCBStatus, secretVersions(rec))
		return nil
	case ok && refusal.Reason == want:
		d.say("   refused: %s", refusal.Reason)
		d.say("   audit: %s", rec.Error)
		return nil
	case err != nil:
		return fmt.Errorf("demo: %s: want %s, got %w", id.MREnclave, orGranted(want), err)
	default:
		return fmt.Errorf("demo: an enclave that must be refused (%s) received the secret", want)
	}
}

func orGranted(reason string) string {
	if reason == "" {
		return "the secret"
	}
	return "refusal " + reason
}

func secretVersions(r server.AuditRecord) string {
	var parts []string
	for _, s := range r.Secrets {
		parts = append(parts, s.Name+"@"+s.Version)
	}
	return strings.Join(parts, ", ")
}

func short(h string) string { return h[:8] + "…" }

// demoAudit hands each audit record to the demo, to show what an operator sees. The server
// writes a record after it answered, so the demo waits for it.
type demoAudit struct{ records chan server.AuditRecord }

func (a *demoAudit) Audit(ctx context.Context, r *server.AuditRecord) error {
	select {
	case a.records <- *r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *demoAudit) next(ctx context.Context) (server.AuditRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	select {
	case r := <-a.records:
		return r, nil
	case <-ctx.Done():
		return server.AuditRecord{}, errors.New("demo: the server wrote no audit record for the decision")
	}
}

// serveHTTP serves srv on ln until ctx is done.
func serveHTTP(ctx context.Context, srv *http.Server, ln net.Listener) error {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
