package e2etest

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/sim"
)

// TestLeakDetector: the search finds the canary in every form it looks for, at every position
// and alignment, so that a clean result means something.
func TestLeakDetector(t *testing.T) {
	for _, pre := range []string{"", "x", "xy", `{"v":"`} {
		v := pre + secretValue("db") + "!"
		forms := map[string]string{
			"raw": v, "hex": hex.EncodeToString([]byte(v)), "HEX": strings.ToUpper(hex.EncodeToString([]byte(v))),
			"base64": base64.StdEncoding.EncodeToString([]byte(v)), "base64url": base64.URLEncoding.EncodeToString([]byte(v)),
			"base64raw": base64.RawStdEncoding.EncodeToString([]byte(v)),
		}
		for name, f := range forms {
			if findLeak("test", "log line: "+f+" end") == "" {
				t.Errorf("prefix %q, %s form: not found", pre, name)
			}
		}
	}
	if findLeak("test", "LEAKCANARY- but not this run's: "+secrets.Version([]byte(secretValue("db")))) != "" {
		t.Error("false positive on a version string")
	}
}

// TestSecretsNeverLeak runs one representative of every scenario of this package with the
// canary secrets — provisioning granted (named, V1, named after V1), denied and refused,
// hostile peers, a collateral outage down to collateral_expired, secret files rotated and
// failing to reload, an unusable cache directory — with every server, client, cache and
// watcher logging at debug level, then searches the logs, the audit records, the metrics (as
// scraped from the admin handler) and every error message returned for the canary, raw, hex and
// base64. (TestMain repeats the search over everything every test of the package produced.)
func TestSecretsNeverLeak(t *testing.T) {
	st := newStack(t, stackOptions{cacheDir: filepath.Join(writeTempFile(t, "x"), "cache")}) // unusable dir
	st.prefetch(t)
	kv := newKubeVolume(t, "default", "db")
	w := leakWatcher(t, kv)
	sv := st.serve(t, serveOptions{secrets: w, policy: rotationPolicy(t), limits: matrixLimits})
	good := raTLS(t, st.enclave(t, pcs.StatusUpToDate))
	ctx := context.Background()

	t.Run("granted", func(t *testing.T) {
		cfg := clientConfig(t, good, sv.addr)
		cfg.Names = []string{"default", "db"}
		res, err := fetch(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Our own code paths that print a Result: every verb, slog, JSON.
		log := logger("test")
		log.Debug("result", "result", res, "secrets", res.Secrets, "first", res.Secrets[0])
		b, _ := json.Marshal(res)
		fmt.Fprintf(&capture.errs, "%v %+v %#v %s %q %x %X %d\n%s\n", res.Secrets, res.Secrets, res.Secrets,
			res.Secrets[0], res.Secrets[0], res.Secrets[0], res.Secrets[0], res.Secrets[0], b)
		cfg.Names, cfg.Protocol = []string{"default"}, client.GramineV1
		if _, err := fetch(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		r := sendThenRead(t, sv.addr, good, 3*time.Second, []byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"), namedRequest(t, "db", "default"))
		if len(r.got) == 0 {
			t.Fatal("no response")
		}
	})
	t.Run("denied and refused", func(t *testing.T) {
		cfg := clientConfig(t, good, sv.addr)
		cfg.Names = []string{"default", "nope"}
		if _, err := fetch(ctx, cfg); err == nil {
			t.Error("a secret not granted was sent")
		}
		bad := raTLS(t, st.enclave(t, pcs.StatusUpToDate).Platform.Enclave(unusedIdentity()))
		if _, err := fetch(ctx, clientConfig(t, bad, sv.addr)); err == nil {
			t.Error("unknown enclave provisioned")
		}
		cfg = clientConfig(t, bad, sv.addr)
		cfg.Protocol, cfg.Timeout = client.GramineV1, 300*time.Millisecond
		if _, err := fetch(ctx, cfg); err == nil {
			t.Error("unknown enclave provisioned (V1)")
		}
	})
	t.Run("hostile peers", func(t *testing.T) {
		sendThenRead(t, sv.addr, good, 3*time.Second, []byte("SECRET_PROVISION_RA_TLS_REQUEST_V2\x00"))
		sendThenRead(t, sv.addr, good, 3*time.Second, []byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"), []byte("garbage follow-up"))
		sendThenRead(t, sv.addr, good, 3*time.Second) // silent: cut at the idle timeout
		plainTCP(t, sv.addr, []byte("GET / HTTP/1.1\r\n\r\n"), 3*time.Second)
	})
	t.Run("secrets rotated, reload failures", func(t *testing.T) {
		kv.update(t)
		must(t, w.Reload())
		// A key replaced by a directory, then by an oversized value: both reloads fail, the
		// current secrets stay.
		broken := filepath.Join(kv.dir, fmt.Sprintf("..v%03d", kv.version), "db")
		must(t, os.Remove(broken))
		must(t, os.Mkdir(broken, 0o700))
		reloadFails(t, w)
		must(t, os.Remove(broken))
		must(t, os.WriteFile(broken, []byte(secretValue(strings.Repeat("z", 2<<20))), 0o600))
		reloadFails(t, w)
		if s, _ := w.Current().Get("db"); string(s.Bytes()) != rotatedValue("db", kv.version) {
			t.Error("a failed reload changed the current secrets")
		}
		kv.update(t)
		must(t, w.Reload())
		if _, err := fetch(ctx, clientConfig(t, good, sv.addr)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("collateral outage", func(t *testing.T) {
		t0 := time.Now().UTC().Truncate(time.Second)
		clk := newClock(t0.Add(time.Hour))
		out := newStack(t, stackOptions{world: sim.Options{Now: t0}, clock: clk, retry: time.Minute})
		out.prefetch(t)
		osv := out.serve(t, serveOptions{})
		cert := raTLS(t, out.enclave(t, pcs.StatusUpToDate))
		out.faults.Set("/", sim.Fault{Body: sim.BodyGarbage})
		clk.Add(sim.DefaultCollateralValidity)
		if _, err := fetch(ctx, clientConfig(t, cert, osv.addr)); err == nil {
			t.Error("provisioned with expired collateral")
		}
	})

	sv.stop()
	if leaks := checkNoLeak(); len(leaks) > 0 {
		t.Fatal(strings.Join(leaks, "; "))
	}
	if !strings.Contains(capture.audit.String(), `"released"`) || capture.delivered.Load() == 0 {
		t.Fatal("nothing was provisioned: the search proves nothing")
	}
}

// leakWatcher is a secrets.Watcher over kv whose reload failures are logged at warning level.
func leakWatcher(t *testing.T, kv *kubeVolume) *secrets.Watcher {
	t.Helper()
	specs, err := secrets.DirSpecs(kv.dir)
	must(t, err)
	log := logger("secrets")
	w, err := secrets.NewWatcher(specs, nil, func(_, _ *secrets.Set, err error) {
		if err != nil {
			log.Warn("secrets reload failed", "error", err.Error())
		}
	})
	must(t, err)
	return w
}

// rotationPolicy is the demo workload with the secrets of a kubeVolume ("default", "db").
func rotationPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.New([]policy.Workload{{
		Name: "demo", MREnclave: []quote.Measurement{sim.DefaultIdentity().MREnclave},
		Secrets: map[string]string{"default": "default", "db": "db"},
	}})
	must(t, err)
	return p
}

func writeTempFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	writeFile(t, p, content)
	return p
}

// reloadFails reloads w, which must fail; the error goes to the capture.
func reloadFails(t *testing.T, w *secrets.Watcher) {
	t.Helper()
	err := w.Reload()
	if err == nil {
		t.Fatal("the reload succeeded")
	}
	noteErr(err)
}
