package cli

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// benchServeFlags are the flags of "bench serve".
type benchServeFlags struct {
	bench       benchFlags
	listen      string
	dir         string
	duration    time.Duration
	idleTimeout time.Duration
}

func newBenchServeCmd(s *streams) *cobra.Command {
	var f benchServeFlags
	cmd := &cobra.Command{
		Use:   "serve --sim-dir DIR --dir OUT [--baseline-mtls] [flags]",
		Short: "Run the benchmark's server in its own process (to measure its CPU and memory apart)",
		Long: `Runs the server that "bench provision --in-process" starts, in this process, on a loopback address,
so that the load generator runs in another process (e.g. on another core with taskset) and
--server-pid measures the server alone. It serves the one bench workload (the identity flags, as
given to the load generator) with the simulated world of --sim-dir as trust root, until
interrupted or --duration passes.

It writes OUT/ca.pem (give it as --ca), OUT/addr (the address), and with --baseline-mtls
OUT/client.pem and OUT/client-key.pem (give them as --client-cert and --client-key), and prints
"listening on ADDR pid PID". On SIGUSR1 it collects its garbage and returns the free memory to
the system ("bench idle --server-pid" sends it before each reading).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchServe(cmd, s, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:0", "loopback address to listen on (port 0 picks one)")
	fl.StringVar(&f.dir, "dir", "", "directory for ca.pem, addr and the baseline client certificate")
	fl.StringVar(&f.bench.simDir, "sim-dir", "", "simulated world the server trusts (secretprov sim init)")
	fl.BoolVar(&f.bench.baseline, "baseline-mtls", false, "serve plain mutual TLS without attestation (the baseline)")
	fl.IntVar(&f.bench.connections, "connections", 1024, "clients to admit at once (raises the connection limits)")
	fl.DurationVar(&f.duration, "duration", time.Hour, "stop after this long")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", 0, "the server's idle timeout (0: its default; raise it for bench idle)")
	registerSimIdentityFlags(cmd, &f.bench.sim)
	_ = cmd.MarkFlagRequired("dir") // the flag exists
	return cmd
}

func runBenchServe(cmd *cobra.Command, s *streams, f *benchServeFlags) error {
	if err := checkLoopback(f.listen); err != nil {
		return badInput(fmt.Errorf("bench serve: --listen: %w", err))
	}
	if f.duration <= 0 || f.idleTimeout < 0 || f.bench.connections < 1 {
		return badInput(errors.New("bench serve: --duration and --connections must be positive, --idle-timeout not negative"))
	}
	if !f.bench.baseline && f.bench.simDir == "" {
		return badInput(errors.New("bench serve: give --sim-dir DIR (the simulated world the server trusts)"))
	}
	if err := os.MkdirAll(f.dir, 0o700); err != nil {
		return badInput(fmt.Errorf("bench serve: %w", err))
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(cmd.Context(), "tcp", f.listen)
	if err != nil {
		return badInput(fmt.Errorf("bench serve: %w", err))
	}
	o := benchServerOptions{conns: f.bench.connections, idleTimeout: f.idleTimeout}
	bs, err := startBenchServer(cmd.Context(), s, &f.bench, o, ln)
	if err != nil {
		ln.Close()
		return err
	}
	defer bs.stop()
	defer collectOnSignal()()
	if err := writeServeFiles(f.dir, bs); err != nil {
		return badInput(fmt.Errorf("bench serve: %w", err))
	}
	if !f.bench.baseline {
		fmt.Fprintln(s.err, simWarning)
	}
	fmt.Fprintf(s.out, "listening on %s pid %d (%s)\n", bs.addr, os.Getpid(), f.bench.mode())
	pause(cmd.Context(), f.duration)
	return nil
}

// writeServeFiles writes what the load generator needs to reach the server.
func writeServeFiles(dir string, bs *benchServer) error {
	files := map[string][]byte{"ca.pem": bs.caPEM, "addr": []byte(bs.addr + "\n")}
	if bs.clientCert != nil {
		keyDER, err := x509.MarshalPKCS8PrivateKey(bs.clientCert.PrivateKey)
		if err != nil {
			return err
		}
		files["client.pem"] = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bs.clientCert.Certificate[0]})
		files["client-key.pem"] = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
