package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/secretprov/secretprov/internal/config"
	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
)

// reloader reloads the configuration on SIGHUP and when the configuration file or the TLS
// certificate or key changes. A reload builds everything first (policy, secrets, certificate)
// and swaps it in only if all of it loaded; otherwise the running configuration stays.
// Connections are never dropped: the server reads the swapped values per connection.
//
// Its fields other than the swappable holders are only touched by the run goroutine.
type reloader struct {
	flags   *serverFlags
	log     *slog.Logger
	metrics *obs.Metrics
	policy  *server.AtomicPolicy
	secrets *server.SecretsSwitch
	certs   *server.CertReloader
	cfg     *config.Config          // the configuration in force
	specs   map[string]secrets.Spec // the secret specs in force
}

// run reloads on every signal from hup and whenever the watched files change (polled every
// interval), until ctx is done.
func (r *reloader) run(ctx context.Context, hup <-chan os.Signal, interval time.Duration) error {
	last := r.stamp()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			last = r.reload("SIGHUP")
		case <-t.C:
			if r.stamp() != last {
				last = r.reload("file change")
			}
		}
	}
}

// reload loads and applies the configuration. It returns the stamp of the files taken before
// loading them, so that a change made while loading is seen at the next poll.
func (r *reloader) reload(trigger string) string {
	before := r.stamp()
	if err := r.apply(); err != nil {
		r.metrics.Reload("config", "error")
		r.log.Error("configuration reload failed; keeping the running configuration",
			"trigger", trigger, obs.KeyConfigFile, r.flags.config, "errors", errorLines(err))
		return before
	}
	r.metrics.Reload("config", "ok")
	r.log.Info("configuration reloaded", "trigger", trigger, obs.KeyConfigFile, r.flags.config,
		obs.KeySecrets, r.secrets.Current().Versions())
	return before
}

// apply loads everything the configuration names and swaps it in, or changes nothing.
func (r *reloader) apply() error {
	cfg, pol, err := loadServerConfig(r.flags)
	if err != nil {
		return err
	}
	specs, err := secretSpecs(cfg, pol)
	if err != nil {
		return err
	}
	cert, err := server.LoadKeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return err
	}
	var w *secrets.Watcher
	if !maps.Equal(specs, r.specs) || cfg.Limits.MaxSecretSize != r.cfg.Limits.MaxSecretSize {
		if w, err = newSecretsWatcher(specs, cfg.Limits.MaxSecretSize, r.log, r.metrics); err != nil {
			return err
		}
	} else if err := r.secrets.Watcher().Reload(); err != nil { // SIGHUP also rereads values (env)
		return fmt.Errorf("secrets: %w", err)
	}
	r.policy.Store(pol)
	r.secrets.Swap(w)
	r.certs.Store(cfg.TLS.Cert, cfg.TLS.Key, cert)
	r.warnRestart(cfg)
	r.cfg, r.specs = cfg, specs
	return nil
}

// warnRestart logs the settings that changed but only apply after a restart.
func (r *reloader) warnRestart(cfg *config.Config) {
	var changed []string
	for name, eq := range map[string]bool{
		"listen":       cfg.Listen == r.cfg.Listen,
		"admin_listen": cfg.AdminListen == r.cfg.AdminListen,
		"verifier":     reflect.DeepEqual(cfg.Verifier, r.cfg.Verifier),
		"limits":       cfg.Limits == r.cfg.Limits,
		"log":          cfg.Log == r.cfg.Log,
		"audit":        cfg.AuditPath == r.cfg.AuditPath,
	} {
		if !eq {
			changed = append(changed, name)
		}
	}
	if len(changed) > 0 {
		r.log.Warn("configuration changes that need a restart were not applied", "sections", strings.Join(changed, ","))
	}
}

// stamp identifies the current content of the configuration file and the TLS files: for each,
// the path after symbolic links (Kubernetes swaps a ..data link), size and modification time.
// The ..data link of secrets_dir is included, so that keys added to or removed from a mounted
// Kubernetes Secret are picked up (the secrets watcher itself follows the values of known keys).
func (r *reloader) stamp() string {
	certFile, keyFile := r.certs.Files()
	paths := []string{r.flags.config, certFile, keyFile}
	if r.cfg.SecretsDir != "" {
		paths = append(paths, filepath.Join(r.cfg.SecretsDir, "..data"))
	}
	var b strings.Builder
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			continue
		}
		fi, err := os.Stat(real)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", p, err)
			continue
		}
		fmt.Fprintf(&b, "%s %d %d\n", real, fi.Size(), fi.ModTime().UnixNano())
	}
	return b.String()
}
