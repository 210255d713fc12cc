package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/secretprov/secretprov/internal/config"
	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/wire"
)

// serverFlags are the flags of "server" and "server validate".
type serverFlags struct {
	config        string
	gramineEnv    bool
	gramineSecret string
	poll          time.Duration
}

func (f *serverFlags) register(cmd *cobra.Command, run bool) {
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "configuration file (YAML; see the reference configuration)")
	fl.BoolVar(&f.gramineEnv, "gramine-env", false, "take the policy from Gramine's RA_TLS_* environment variables instead of the file's workloads")
	fl.StringVar(&f.gramineSecret, "gramine-secret", policy.DefaultSecret, "with --gramine-env: the secret (under secrets or secrets_dir) sent to clients")
	if run {
		fl.DurationVar(&f.poll, "poll-interval", 10*time.Second, "how often the configuration, TLS and secret files are checked for changes")
	}
	_ = cmd.MarkFlagRequired("config") // the flag exists
}

func newServerCmd(s *streams) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "server --config FILE [--gramine-env]",
		Short: "Run the secret provisioning server",
		Long: `Runs the provisioning server: TLS on "listen" for enclaves presenting RA-TLS certificates, and
plain HTTP on "admin_listen" with /healthz, /readyz and /metrics. Audit records go to audit.path,
or to the log on standard output with "audit": true.

SIGTERM or SIGINT stop accepting connections and let those in flight finish. SIGHUP reloads the
configuration and the secrets; the configuration, TLS certificate and secret files are also
polled for changes (Kubernetes volume updates). A configuration that fails to load is reported and
the running one is kept. Listen addresses, limits, verifier, log and audit settings need a restart.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServer(cmd.Context(), s, f) },
	}
	f.register(cmd, true)
	cmd.AddCommand(newServerValidateCmd(s))
	return cmd
}

func newServerValidateCmd(s *streams) *cobra.Command {
	f := &serverFlags{}
	cmd := &cobra.Command{
		Use:   "validate --config FILE [--gramine-env]",
		Short: "Check a server configuration file and print every problem with its line",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, pol, err := loadServerConfig(f)
			if err != nil {
				lines := errorLines(err)
				for _, l := range lines {
					fmt.Fprintln(s.err, l)
				}
				return badInput(fmt.Errorf("%s: %d problem(s)", f.config, len(lines)))
			}
			fmt.Fprintf(s.out, "ok: %s\n", summary(cfg, pol))
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

// loadServerConfig loads the file and builds the policy it (or the environment) describes.
func loadServerConfig(f *serverFlags) (*config.Config, *policy.Policy, error) {
	cfg, err := config.LoadWith(f.config, config.Options{NoWorkloads: f.gramineEnv})
	if err != nil {
		return nil, nil, err
	}
	var pol *policy.Policy
	if f.gramineEnv {
		if len(cfg.Workloads) > 0 {
			return nil, nil, fmt.Errorf("%s: workloads: --gramine-env takes the policy from the environment; remove the workloads or the flag", f.config)
		}
		pol, err = policy.FromGramineEnv(os.LookupEnv, policy.GramineOptions{Secret: f.gramineSecret})
	} else {
		ws := cfg.Workloads
		for i := range ws {
			// verifier.collateral_grace is the server-wide floor of every workload's grace.
			ws[i].CollateralGrace = max(ws[i].CollateralGrace, cfg.Verifier.CollateralGrace)
		}
		pol, err = policy.New(ws)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%s: policy: %w", f.config, err)
	}
	if cfg.SecretsDir == "" {
		var missing []error
		for _, name := range pol.SecretNames() {
			if _, ok := cfg.Secrets[name]; !ok {
				missing = append(missing, fmt.Errorf("%s: secrets: the policy needs secret %q, which is not defined (and no secrets_dir is set)", f.config, name))
			}
		}
		if err := errors.Join(missing...); err != nil {
			return nil, nil, err
		}
	}
	return cfg, pol, nil
}

// errorLines splits a (joined) error into its lines: one per problem.
func errorLines(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func summary(cfg *config.Config, pol *policy.Policy) string {
	var names []string
	for _, w := range pol.Workloads() {
		names = append(names, w.Name)
	}
	src := "PCS " + cfg.Verifier.PCSURL + " (" + cfg.Verifier.PCSKind + ")"
	if cfg.Verifier.CollateralFile != "" {
		src = "offline file " + cfg.Verifier.CollateralFile
	}
	if cfg.Verifier.EarlyWarning {
		src += ", warnings from early TCB data"
	}
	root := "built-in Intel SGX Root CA"
	if cfg.Verifier.TrustRoot != "" {
		root = cfg.Verifier.TrustRoot
	}
	return fmt.Sprintf("%s: listen %s, admin %q, %d workload(s) [%s], %d secret(s) defined, secrets_dir %q, collateral from %s, trust root %s",
		cfg.Path, cfg.Listen, cfg.AdminListen, len(names), strings.Join(names, ", "), len(cfg.Secrets), cfg.SecretsDir, src, root)
}

// runServer is the composition root: configuration → components in dependency order → tasks.
func runServer(ctx context.Context, s *streams, f *serverFlags) error {
	if f.poll <= 0 {
		return badInput(fmt.Errorf("--poll-interval %v: want a positive duration", f.poll))
	}
	cfg, pol, err := loadServerConfig(f)
	if err != nil {
		return badInput(err)
	}
	log, err := obs.NewLogger(s.out, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return badInput(err)
	}
	metrics := obs.NewMetrics()
	c, err := buildComponents(cfg, pol, f, s, log, metrics)
	if err != nil {
		return err
	}
	defer c.close()
	// SIGHUP is caught from here on: the "listener started" log lines come after.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("secretprov server starting", "version", version(), obs.KeyConfigFile, cfg.Path, "summary", summary(cfg, pol))
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return c.srv.Serve(gctx, c.ln) })
	if c.adminLn != nil {
		g.Go(func() error { return serveAdmin(gctx, c.adminLn, obs.AdminHandler(metrics, c.ready), log) })
	}
	if c.collateralRun != nil {
		g.Go(func() error { return c.collateralRun(gctx) })
	}
	g.Go(func() error { return c.secrets.Run(gctx, f.poll) })
	g.Go(func() error { return c.reloader.run(gctx, hup, f.poll) })
	if err := g.Wait(); err != nil {
		log.Error("server stopped", obs.KeyError, err.Error())
		return &exitError{code: ExitRefused, err: err} // a runtime failure: not the input's fault
	}
	log.Info("secretprov server stopped")
	return nil
}

// serveAdmin serves the admin handler on ln until ctx is done.
func serveAdmin(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("admin listener started", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("admin listener: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
		<-errc
		return nil
	}
}

// serverLimits maps the configuration's limits to the server's.
func serverLimits(l config.Limits) server.Limits {
	return server.Limits{
		MaxConnections: l.MaxConnections, MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		HandshakeTimeout: l.HandshakeTimeout, IdleTimeout: l.IdleTimeout,
		Wire: wire.Limits{MaxSecretSize: int(l.MaxSecretSize)},
	}
}

// metricsHooks wires the server's hooks to the Prometheus collectors.
func metricsHooks(m *obs.Metrics) server.Hooks {
	return server.Hooks{ConnOpened: m.ConnOpened, ConnClosed: m.ConnClosed, ConnRejected: m.ConnRejected,
		Verification: m.Verification, Provision: m.Provision,
		EarlyTCBCheck: m.EarlyTCBCheck, TCBRecoveryWarning: m.TCBRecoveryWarning}
}
