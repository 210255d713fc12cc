package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// TestServerReload runs "secretprov server" in-process with offline collateral: a changed secret
// file is picked up without a restart, a broken configuration is reported with its line and the
// running one kept, a good one replaces it; cancelling the context stops with status 0.
func TestServerReload(t *testing.T) {
	fx := newSrvFixture(t)
	const coll = "  collateral: collateral.json"
	cfg := fx.config(t, coll, "{default: demo-secret}", srvSecrets)
	var out srvLog
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"server", "--config", cfg, "--poll-interval", "50ms"}, strings.NewReader(""), &out, &out)
	}()
	addr, admin := out.addrs(t)

	if code, body := srvGet(t, "http://"+admin+"/readyz"); code != 200 {
		t.Errorf("/readyz: %d %s", code, body)
	}
	srvExpect(t, addr, fx, srvSecretA)
	fx.write(t, "demo-secret", srvSecretB)
	srvEventually(t, addr, fx, srvSecretB)

	fx.write(t, "config.yaml", "listen: 127.0.0.1:0\nworkloads:\n  - name: demo\n    mrenclave: [abc]\n")
	failed := out.wait(t, "configuration reload failed; keeping the running configuration", 1)
	if errs := failed["errors"].([]any); !strings.Contains(errs[0].(string), cfg+":") {
		t.Errorf("reload errors without file:line: %v", errs)
	}
	srvExpect(t, addr, fx, srvSecretB)

	fx.write(t, "other", srvSecretC)
	fx.config(t, coll, "{default: other-secret}", srvSecrets+"  other-secret: {file: other}\n")
	out.wait(t, "configuration reloaded", 1)
	srvExpect(t, addr, fx, srvSecretC)

	_, metrics := srvGet(t, "http://"+admin+"/metrics")
	for _, want := range []string{
		`secretprov_reloads_total{outcome="error",what="config"} 1`,
		`secretprov_reloads_total{outcome="ok",what="config"} 1`,
		`secretprov_provisions_total{reason="",result="granted",workload="demo"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("exit %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
	logs := out.String()
	if !strings.Contains(logs, `"audit":true`) || !strings.Contains(logs, `"decision":"granted"`) {
		t.Errorf("no audit record on the log stream")
	}
	srvNoSecrets(t, "the server's output", logs)
	srvNoSecrets(t, "/metrics", metrics)
}

func srvExpect(t *testing.T, addr string, fx *srvFixture, want string) {
	t.Helper()
	got, err := srvProvision(t, addr, fx)
	if err != nil || got != want {
		t.Errorf("provisioned %q, %v; want the secret %q", "(value hidden)", err, want[:16])
	}
}

func srvEventually(t *testing.T, addr string, fx *srvFixture, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if got, err := srvProvision(t, addr, fx); err == nil && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("never received the new secret %q...", want[:16])
}

// TestServerSecretsDir: secrets from a mounted Kubernetes Secret (kubelet's ..data layout);
// an update of the volume reaches the next client.
func TestServerSecretsDir(t *testing.T) {
	fx := newSrvFixture(t)
	vol := filepath.Join(fx.dir, "vol")
	kubeVolume(t, vol, "..2026_01_01", srvSecretA)
	cfg := fx.config(t, "  collateral: collateral.json", "{default: demo-secret}", "secrets_dir: vol\n")
	var out srvLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"server", "--config", cfg, "--poll-interval", "50ms"}, strings.NewReader(""), &out, &out)
	}()
	addr, _ := out.addrs(t)
	srvExpect(t, addr, fx, srvSecretA)
	kubeVolume(t, vol, "..2026_01_02", srvSecretB)
	srvEventually(t, addr, fx, srvSecretB)
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d", code)
	}
	srvNoSecrets(t, "the server's output", out.String())
}

// TestServerGramineEnv: the drop-in mode, policy from Gramine's RA_TLS_* variables.
func TestServerGramineEnv(t *testing.T) {
	fx := newSrvFixture(t)
	doc := "listen: 127.0.0.1:0\nadmin_listen: \"-\"\ntls: {cert: tls.crt, key: tls.key}\n" +
		"verifier: {trust_root: root.pem, collateral: collateral.json}\nlog: {level: debug}\n" +
		"secrets:\n  default: {file: demo-secret}\n"
	cfg := fx.write(t, "config.yaml", doc)
	t.Setenv("RA_TLS_MRENCLAVE", sim.DefaultIdentity().MREnclave.String())
	t.Setenv("RA_TLS_MRSIGNER", "any")
	t.Setenv("RA_TLS_ISV_PROD_ID", "any")
	t.Setenv("RA_TLS_ISV_SVN", "any")
	var out srvLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, []string{"server", "--config", cfg, "--gramine-env"}, strings.NewReader(""), &out, &out)
	}()
	addr := out.wait(t, "provisioning listener started", 1)["addr"].(string)
	srvExpect(t, addr, fx, srvSecretA)
	if rec := out.wait(t, "audit", 1); rec["workload"] != "gramine" || rec["decision"] != "granted" {
		t.Errorf("audit record %v", rec)
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Errorf("exit %d", code)
	}
}

// kubeVolume writes the key demo-secret into a new version directory of a Kubernetes-style
// volume and swaps ..data to it atomically, as kubelet does.
func kubeVolume(t *testing.T, vol, version, value string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(vol, version), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(vol, version, "demo-secret"), []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(vol, "..data_tmp")
	if err := os.Symlink(version, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(vol, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join("..data", "demo-secret"), filepath.Join(vol, "demo-secret")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
}

// secretprovBinary builds cmd/secretprov into the test's temporary directory (once per run:
// only TestServerProcess runs the binary).
func secretprovBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "secretprov")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/secretprov/secretprov/cmd/secretprov").CombinedOutput()
	if err != nil {
		t.Fatalf("building secretprov: %v\n%s", err, out)
	}
	return bin
}

// TestServerProcess runs the real binary against a simulated PCS served in-process: it
// provisions, reloads a secret on SIGHUP, and exits 0 on SIGTERM after draining.
func TestServerProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := secretprovBinary(t)
	fx := newSrvFixture(t)
	pcsSrv := simtest.PCS(t, fx.world)
	key := simtest.Platform(t, fx.world, quote.TEESGX, pcs.StatusUpToDate).Key()
	cfg := fx.config(t, "  pcs_url: "+pcsSrv.URL+sim.SGXBasePath+"\n  pcs_kind: pccs\n  cache_dir: cache\n  prefetch: ["+key.String()+"]", "{default: demo-secret}", srvSecrets)

	var out srvLog
	cmd := exec.Command(bin, "server", "--config", cfg, "--poll-interval", "1h") // reloads only on SIGHUP
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	addr, admin := out.addrs(t)

	waitReady(t, "http://"+admin+"/readyz") // the prefetched platform's collateral is cached
	srvExpect(t, addr, fx, srvSecretA)
	fx.write(t, "demo-secret", srvSecretB)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	out.wait(t, "configuration reloaded", 1)
	srvExpect(t, addr, fx, srvSecretB)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	out.wait(t, "secretprov server stopped", 1)
	srvNoSecrets(t, "the server process's output", out.String())
	if !strings.Contains(out.String(), `"simulated_pki":true`) {
		t.Error("no loud warning about the simulated trust root")
	}
}

// waitReady polls a readiness endpoint until it answers 200, for at most 20 seconds.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := srvGet(t, url)
		if code == 200 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %s", url, code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
