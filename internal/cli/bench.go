package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/ratls"
)

// benchFlags are the flags of "bench provision" and "bench idle".
type benchFlags struct {
	servers     []string
	ca          string
	serverName  string
	attester    string
	simDir      string
	sim         simQuoteFlags
	connections int
	duration    time.Duration
	timeout     time.Duration
	json        bool
	baseline    bool
	inProcess   bool
	serverPID   int
	clientCert  string
	clientKey   string
	cpuProfile  string
}

func (f *benchFlags) register(cmd *cobra.Command, conns int) {
	fl := cmd.Flags()
	fl.StringSliceVar(&f.servers, "servers", nil, "servers to load, HOST:PORT[,HOST:PORT...], loopback only (workers are spread over them)")
	fl.StringVar(&f.ca, "ca", "", "CA certificates (PEM or DER) that verify the servers")
	fl.StringVar(&f.serverName, "server-name", "", "name to check in the servers' certificates (default: the host of each entry)")
	fl.StringVar(&f.attester, "attester", "sim", "quote provider of the simulated clients: sim (or gramine/tdx inside an enclave)")
	fl.StringVar(&f.simDir, "sim-dir", "", "simulated world directory (--attester sim; --in-process: default a fresh world)")
	registerSimIdentityFlags(cmd, &f.sim)
	fl.IntVar(&f.connections, "connections", conns, "concurrent clients")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.BoolVar(&f.inProcess, "in-process", false, "start the server in this process on 127.0.0.1 (simulated world; one workload that accepts the identity flags; one secret)")
	fl.IntVar(&f.serverPID, "server-pid", 0, "process id of the (local) server, to measure its CPU time and memory")
	fl.DurationVar(&f.timeout, "timeout", 10*time.Second, "bound on each connection's handshake and exchange")
}

func newBenchCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure provisioning: load generator, baseline mutual TLS, idle connection memory",
		Long: `Benchmarks of a provisioning server on this machine, over loopback only. Every number comes with
its method in docs/performance.md; compare ratios measured in one run, not absolute rates.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBenchProvisionCmd(s), newBenchIdleCmd(s), newBenchServeCmd(s))
	return cmd
}

func newBenchProvisionCmd(s *streams) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "provision (--in-process | --servers ADDR[,ADDR] --ca FILE) --connections N --duration D [flags]",
		Short: "Load a server with full provisionings and report rate, latency and server CPU",
		Long: `Runs --connections concurrent simulated Gramine processes for --duration. Each makes ONE RA-TLS
certificate when it starts (as a Gramine process does), then loops: TCP connect, full TLS
handshake (no session resumption), Gramine V1 request, default secret read, close.

Reported: provisions per second, latency percentiles from connect to secret (ms), errors by kind
(handshake: TLS failed; refused: closed without a response after the handshake; timeout: a
deadline passed; io: anything else), and the CPU time per provision of a local server: with
--server-pid, the server process's user+system time; with --in-process, the whole process's
(server and load generator together, field process_cpu_ms_per_provision).

--baseline-mtls runs the same loop with plain mutual TLS and no attestation: an ordinary P-384
client certificate issued by a CA that the server verifies, served by a benchmark-only server with
the same TLS settings, wire code, limits and audit record as the provisioning server, minus the
RA-TLS verification and the policy. With --in-process it is started here; against --servers it is
a "bench serve --baseline-mtls" process and needs --client-cert/--client-key from its --dir.

Exit status: 0 when at least one provisioning succeeded, 1 when none did, 2 for bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchProvision(cmd, s, &f) },
	}
	f.register(cmd, 8)
	cmd.Flags().DurationVar(&f.duration, "duration", 10*time.Second, "how long to load the server")
	cmd.Flags().BoolVar(&f.baseline, "baseline-mtls", false, "plain mutual TLS without attestation (the baseline)")
	cmd.Flags().StringVar(&f.clientCert, "client-cert", "", "--baseline-mtls against --servers: client certificate (PEM) from bench serve --dir")
	cmd.Flags().StringVar(&f.clientKey, "client-key", "", "--baseline-mtls against --servers: its private key (PEM)")
	cmd.Flags().StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of this process during the run (go tool pprof)")
	return cmd
}

// mode is the JSON "mode" of a run.
func (f *benchFlags) mode() string {
	if f.baseline {
		return "baseline-mtls"
	}
	return "attested"
}

// check validates the flags shared by the bench commands.
func (f *benchFlags) check() error {
	switch {
	case f.connections < 1 || f.connections > 100000:
		return fmt.Errorf("--connections %d: want 1..100000", f.connections)
	case f.timeout <= 0:
		return fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	case f.inProcess && (len(f.servers) > 0 || f.ca != ""):
		return errors.New("--in-process starts its own server: give neither --servers nor --ca")
	case f.inProcess && f.serverPID != 0:
		return errors.New("--in-process measures its own process: --server-pid does not apply")
	case !f.inProcess && (len(f.servers) == 0 || f.ca == ""):
		return errors.New("give --in-process, or --servers ADDR and --ca FILE")
	case f.inProcess && f.attester != "sim":
		return errors.New("--in-process trusts only its simulated world: use --attester sim")
	}
	return nil
}

// targets parses --servers and refuses anything but loopback addresses: the benchmark loads
// only servers on this machine.
func (f *benchFlags) targets() ([]string, error) {
	addrs, err := client.ParseServers(strings.Join(f.servers, ","))
	if err != nil {
		return nil, fmt.Errorf("--servers: %w", err)
	}
	for _, a := range addrs {
		if err := checkLoopback(a); err != nil {
			return nil, fmt.Errorf("--servers: %w", err)
		}
	}
	return addrs, nil
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("%s: the benchmark loads loopback servers only (127.0.0.0/8, [::1], localhost)", addr)
}

func runBenchProvision(cmd *cobra.Command, s *streams, f *benchFlags) error {
	if err := f.check(); err != nil {
		return badInput(fmt.Errorf("bench provision: %w", err))
	}
	if f.duration <= 0 || f.duration > 24*time.Hour {
		return badInput(fmt.Errorf("bench provision: --duration %s: want 0 < D <= 24h", f.duration))
	}
	ctx := cmd.Context()
	lc, cleanup, err := f.setupWith(cmd, s, benchServerOptions{conns: f.connections}, f.connections)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := lc.warmUp(ctx); err != nil {
		return refused(fmt.Errorf("bench provision: warm-up provisioning failed: %w", err))
	}
	stopProfile, err := startCPUProfile(f.cpuProfile)
	if err != nil {
		return badInput(fmt.Errorf("bench provision: %w", err))
	}
	res := lc.run(ctx)
	stopProfile()
	res.Mode = f.mode()
	if err := printBench(s, f.json, res); err != nil {
		return err
	}
	if res.Provisions == 0 {
		return refused(errors.New("bench provision: no provisioning succeeded"))
	}
	return nil
}

// setupWith starts the in-process server with o (if asked), makes one certificate per worker
// and returns the load configuration with its cleanup.
func (f *benchFlags) setupWith(cmd *cobra.Command, s *streams, o benchServerOptions, workers int) (*loadConfig, func(), error) {
	lc := &loadConfig{conns: workers, duration: f.duration, timeout: f.timeout, serverPID: f.serverPID}
	cleanup := func() {}
	if f.inProcess {
		srv, err := startInProcess(cmd.Context(), s, f, o)
		if err != nil {
			return nil, nil, err
		}
		cleanup = srv.stop
		lc.addrs, lc.roots, lc.serverName, lc.inProcess = []string{srv.addr}, srv.roots, "localhost", true
		lc.baselineCert = srv.clientCert
	} else if err := f.external(lc); err != nil {
		return nil, nil, badInput(fmt.Errorf("bench: %w", err))
	}
	if err := f.makeCerts(cmd, s, lc); err != nil {
		cleanup()
		return nil, nil, err
	}
	return lc, cleanup, nil
}

// external fills lc for servers in other processes.
func (f *benchFlags) external(lc *loadConfig) error {
	var err error
	if lc.addrs, err = f.targets(); err != nil {
		return err
	}
	if lc.roots, err = loadCAPool(f.ca); err != nil {
		return fmt.Errorf("--ca: %w", err)
	}
	lc.serverName = f.serverName
	if f.baseline {
		lc.baselineCert, err = f.loadClientCert()
	}
	return err
}

func (f *benchFlags) loadClientCert() (*tls.Certificate, error) {
	if f.clientCert == "" || f.clientKey == "" {
		return nil, errors.New("--baseline-mtls against --servers needs --client-cert and --client-key (bench serve --dir writes them)")
	}
	c, err := tls.LoadX509KeyPair(f.clientCert, f.clientKey)
	if err != nil {
		return nil, fmt.Errorf("--client-cert/--client-key: %w", err)
	}
	return &c, nil
}

// makeCerts gives every worker its client certificate: in attested mode one RA-TLS certificate
// per worker from the attester (made in parallel, before the clock starts); in baseline mode the
// one plain client certificate.
func (f *benchFlags) makeCerts(cmd *cobra.Command, s *streams, lc *loadConfig) error {
	lc.certs = make([]*tls.Certificate, lc.conns)
	if f.baseline {
		for i := range lc.certs {
			lc.certs[i] = lc.baselineCert
		}
		return nil
	}
	a, err := createAttester(cmd, s, f.attester, f.simDir, &f.sim)
	if err != nil {
		return err
	}
	err = parallel(cmd.Context(), lc.conns, func(ctx context.Context, i int) error {
		c, err := ratls.NewCertificate(ctx, a)
		lc.certs[i] = c
		return err
	})
	if err != nil {
		return badInput(fmt.Errorf("bench: attester %s: RA-TLS certificate: %w", f.attester, err))
	}
	return nil
}

// printBench writes the result as JSON or as a few lines for people.
func printBench(s *streams, asJSON bool, r *benchResult) error {
	if asJSON {
		return printJSONLine(s, r)
	}
	fmt.Fprintf(s.out, "mode %s, %d connections, %.1fs: %d provisions, %.1f/s\n",
		r.Mode, r.Connections, r.DurationS, r.Provisions, r.ProvisionsPerSec)
	fmt.Fprintf(s.out, "latency ms (connect to secret): p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n",
		r.P50, r.P90, r.P99, r.Max)
	fmt.Fprintf(s.out, "errors: handshake %d, refused %d, io %d, timeout %d\n",
		r.Errors[errHandshake], r.Errors[errRefused], r.Errors[errIO], r.Errors[errTimeout])
	if r.ServerCPU != nil {
		fmt.Fprintf(s.out, "server CPU: %.3f ms per provision\n", *r.ServerCPU)
	}
	if r.ProcessCPU != nil {
		fmt.Fprintf(s.out, "process CPU (server and load generator): %.3f ms per provision\n", *r.ProcessCPU)
	}
	return nil
}

func printJSONLine(s *streams, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintf(s.out, "%s\n", b)
	return err
}

// startCPUProfile starts a CPU profile into path ("" = none) and returns its stop function.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); out.Close() }, nil
}
