package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/internal/config"
	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/verify"
)

// components are what "server" runs, built in dependency order.
type components struct {
	srv           *server.Server
	ln, adminLn   net.Listener
	secrets       *server.SecretsSwitch
	reloader      *reloader
	collateralRun func(context.Context) error // nil: nothing to refresh (offline file)
	early         ratls.QuoteVerifier         // nil unless verifier.early_warning
	ready         obs.ReadyFunc
	closers       []io.Closer
}

func (c *components) close() {
	for _, cl := range c.closers {
		_ = cl.Close()
	}
}

// buildComponents builds the server's components in dependency order and opens its listeners;
// on failure it closes what it opened.
func buildComponents(cfg *config.Config, pol *policy.Policy, f *serverFlags, s *streams, log *slog.Logger, m *obs.Metrics) (*components, error) {
	c := &components{}
	if err := c.build(cfg, pol, f, s, log, m); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *components) build(cfg *config.Config, pol *policy.Policy, f *serverFlags, s *streams, log *slog.Logger, m *obs.Metrics) error {
	v, collReady, err := c.verifier(cfg, s, log, m)
	if err != nil {
		return err
	}
	specs, err := secretSpecs(cfg, pol)
	if err != nil {
		return badInput(err)
	}
	w, err := newSecretsWatcher(specs, cfg.Limits.MaxSecretSize, log, m)
	if err != nil {
		return badInput(err)
	}
	c.secrets = server.NewSecretsSwitch(w)
	certs, err := server.NewCertReloader(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return badInput(err)
	}
	audit, err := auditSink(cfg, log, c)
	if err != nil {
		return badInput(err)
	}
	atomicPol := server.NewAtomicPolicy(pol)
	c.srv, err = server.New(server.Config{
		TLS:      &tls.Config{GetCertificate: certs.GetCertificate},
		Verifier: v, Policy: atomicPol, Secrets: c.secrets, Limits: serverLimits(cfg.Limits),
		Logger: log, Audit: audit, Hooks: metricsHooks(m), EarlyVerifier: c.early,
	})
	if err != nil {
		return badInput(err)
	}
	c.ready = readiness(certs, collReady)
	c.reloader = &reloader{flags: f, log: log, metrics: m, policy: atomicPol, secrets: c.secrets, certs: certs, cfg: cfg, specs: specs}
	if err := c.listen(cfg); err != nil {
		return badInput(err)
	}
	return nil
}

// verifier builds the trust root, the collateral source and the quote verifier over them.
func (c *components) verifier(cfg *config.Config, s *streams, log *slog.Logger, m *obs.Metrics) (*verify.Verifier, obs.ReadyFunc, error) {
	root, err := trustRoot(cfg, s, log)
	if err != nil {
		return nil, nil, err
	}
	src, ready, err := collateralFor(cfg, root, log, m)
	if err != nil {
		return nil, nil, err
	}
	if cache, ok := src.(*collateral.Cache); ok {
		c.collateralRun, ready = prefetchThenRun(cache, cfg.Verifier.Prefetch, log)
		if cfg.Verifier.EarlyWarning {
			if c.early, err = earlyVerifier(cache, root); err != nil {
				return nil, nil, badInput(fmt.Errorf("verifier: early_warning: %w", err))
			}
		}
	}
	v, err := verify.New(src, verify.WithRoot(root))
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("verifier: %w", err))
	}
	return v, ready, nil
}

// earlyVerifier verifies with Intel's early TCB data from the cache's memory only, so that the
// server's check never waits for the network: a platform whose early collateral is not cached
// gets no early status this time (collateral_unavailable), and the cache's Run fetches it for
// the next provisioning. Expired early collateral still yields a status: the check only warns.
func earlyVerifier(cache *collateral.Cache, root *x509.Certificate) (ratls.QuoteVerifier, error) {
	v, err := verify.New(earlySource{cache}, verify.WithRoot(root), verify.WithExpiredCollateralAllowed())
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return v, nil
}

// earlySource is the early verifier's collateral source (collateral.Cache.CachedEarlyBundle).
type earlySource struct{ cache *collateral.Cache }

// Collateral returns the cached early bundle of key, or an error at once.
func (s earlySource) Collateral(_ context.Context, key pcs.Key) (*pcs.Bundle, error) {
	return s.cache.CachedEarlyBundle(key)
}

func (c *components) listen(cfg *config.Config) error {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	c.ln = ln
	c.closers = append(c.closers, ln)
	if cfg.AdminListen == "" {
		return nil
	}
	if c.adminLn, err = net.Listen("tcp", cfg.AdminListen); err != nil {
		return fmt.Errorf("admin_listen: %w", err)
	}
	c.closers = append(c.closers, c.adminLn)
	return nil
}

// trustRoot is verifier.trust_root, or Intel's root. Any other root is announced loudly, in the
// log and on standard error: quotes verified against it prove nothing about real hardware.
func trustRoot(cfg *config.Config, s *streams, log *slog.Logger) (*x509.Certificate, error) {
	if cfg.Verifier.TrustRoot == "" {
		return verify.IntelRoot(), nil
	}
	root, err := loadCertificate(cfg.Verifier.TrustRoot)
	if err != nil {
		return nil, badInput(fmt.Errorf("verifier.trust_root: %w", err))
	}
	if !root.Equal(verify.IntelRoot()) {
		warnIfNotIntel(s.err, root)
		log.Warn("TRUST ROOT IS NOT THE INTEL SGX ROOT CA: attestation proves nothing about real SGX/TDX hardware (simulation or testing only)",
			obs.KeySimulatedPKI, true, "trust_root", cfg.Verifier.TrustRoot, "subject", root.Subject.String())
	}
	return root, nil
}

// collateralFor returns the collateral source (the offline file, or a cache over the PCS) and its
// readiness.
func collateralFor(cfg *config.Config, root *x509.Certificate, log *slog.Logger, m *obs.Metrics) (verify.CollateralSource, obs.ReadyFunc, error) {
	vc := cfg.Verifier
	if vc.CollateralFile != "" {
		st, err := collateral.File(vc.CollateralFile)
		if err != nil {
			return nil, nil, badInput(fmt.Errorf("verifier.collateral: %w", err))
		}
		return st, func(context.Context) error { return nil }, nil // parsed: ready
	}
	kind, err := collateral.ParseServiceKind(vc.PCSKind)
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("verifier.pcs_kind: %w", err))
	}
	update, err := collateral.ParseUpdate(vc.Update)
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("verifier.update: %w", err))
	}
	client, err := collateral.NewClient(collateral.ClientConfig{BaseURL: vc.PCSURL, TDXBaseURL: vc.TDXPCSURL, Kind: kind})
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("verifier.pcs_url: %w", err))
	}
	cache, err := collateral.NewCache(collateral.Config{
		Source: client, Root: root, Dir: vc.CacheDir, Update: update, EarlyWarning: vc.EarlyWarning,
		Hooks: collateral.Hooks{
			OnFetch: m.CollateralFetch,
			OnItem:  m.CollateralState,
			OnError: func(err error) { logCollateralError(log, err, vc.EarlyWarning) },
		},
	})
	if err != nil {
		return nil, nil, badInput(fmt.Errorf("verifier: %w", err))
	}
	return cache, func(context.Context) error { return cache.Ready() }, nil
}

// logCollateralError logs an error the collateral cache absorbed. Failures about early TCB data
// kept for warnings only (verifier.early_warning) are logged at debug level: the verdicts do not
// depend on them.
func logCollateralError(log *slog.Logger, err error, earlyWarning bool) {
	if ce, ok := errors.AsType[*collateral.Error](err); ok && earlyWarning && ce.Item.Update == collateral.UpdateEarly {
		log.Debug("collateral (early TCB data, for warnings only)", obs.KeyError, err.Error())
		return
	}
	log.Warn("collateral", obs.KeyError, err.Error())
}

// errPrefetchPending is the readiness error until the first prefetch of collateral ended.
var errPrefetchPending = errors.New("collateral prefetch in progress")

// prefetchThenRun returns the cache's background task — first fetch the collateral of the
// configured platforms, then refresh — and a readiness check that fails until that first fetch
// ended and while any of those platforms lacks collateral.
func prefetchThenRun(cache *collateral.Cache, keys []pcs.Key, log *slog.Logger) (func(context.Context) error, obs.ReadyFunc) {
	var prefetched atomic.Bool
	prefetched.Store(len(keys) == 0)
	run := func(ctx context.Context) error {
		if len(keys) > 0 {
			if err := cache.Prefetch(ctx, keys...); err != nil {
				log.Warn("collateral prefetch failed; retrying in the background", obs.KeyError, err.Error())
			}
			prefetched.Store(true)
		}
		return cache.Run(ctx)
	}
	ready := func(context.Context) error {
		if !prefetched.Load() {
			return errPrefetchPending
		}
		return cache.Ready()
	}
	return run, ready
}

// readiness: the TLS certificate is loaded and valid, and the collateral asked for is cached.
func readiness(certs *server.CertReloader, collateralReady obs.ReadyFunc) obs.ReadyFunc {
	return func(ctx context.Context) error {
		c := certs.Certificate()
		if c == nil || c.Leaf == nil || time.Now().After(c.Leaf.NotAfter) {
			return errors.New("tls certificate not loaded or expired")
		}
		return collateralReady(ctx)
	}
}

// secretSpecs are the secrets of the configuration: every key of secrets_dir, then the secrets
// section (which wins over a key of the same name). Every secret the policy names must be there.
func secretSpecs(cfg *config.Config, pol *policy.Policy) (map[string]secrets.Spec, error) {
	specs := map[string]secrets.Spec{}
	if cfg.SecretsDir != "" {
		ds, err := secrets.DirSpecs(cfg.SecretsDir)
		if err != nil {
			return nil, fmt.Errorf("secrets_dir: %w", err)
		}
		for name, sp := range ds {
			specs[name] = sp
		}
	}
	for name, sc := range cfg.Secrets {
		specs[name] = secrets.Spec{File: sc.File, Env: sc.Env, Value: sc.Value}
	}
	var missing []error
	for _, name := range pol.SecretNames() {
		if _, ok := specs[name]; !ok {
			missing = append(missing, fmt.Errorf("secrets: the policy needs secret %q, defined neither under secrets nor in secrets_dir %s", name, cfg.SecretsDir))
		}
	}
	return specs, errors.Join(missing...)
}

// newSecretsWatcher loads specs; later reloads are logged (names and versions only) and counted.
func newSecretsWatcher(specs map[string]secrets.Spec, maxSize int64, log *slog.Logger, m *obs.Metrics) (*secrets.Watcher, error) {
	onReload := func(_, cur *secrets.Set, err error) {
		if err != nil {
			m.Reload("secrets", "error")
			log.Error("secrets reload failed; keeping the current values", obs.KeyError, err.Error())
			return
		}
		m.Reload("secrets", "ok")
		log.Info("secrets reloaded", obs.KeySecrets, cur.Versions())
	}
	w, err := secrets.NewWatcher(specs, nil, onReload, secrets.WithMaxSize(int(maxSize)))
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	log.Info("secrets loaded", obs.KeySecrets, w.Current().Versions())
	return w, nil
}

// auditSink is audit.path as JSON lines (appended, mode 0600), or the log stream.
func auditSink(cfg *config.Config, log *slog.Logger, c *components) (server.AuditSink, error) {
	if cfg.AuditPath == "" {
		return server.NewSlogAudit(log), nil
	}
	f, err := os.OpenFile(cfg.AuditPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit.path: %w", err)
	}
	c.closers = append(c.closers, f)
	return server.NewJSONAudit(f), nil
}
