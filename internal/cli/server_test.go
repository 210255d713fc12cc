package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/wire"
)

// Secret values of the server tests (never to appear in any output).
const (
	srvSecretA = "server-secret-A-Zq81mWc"
	srvSecretB = "server-secret-B-Lr54pXn"
	srvSecretC = "server-secret-C-Ty27kVd"
)

// srvFixture is a directory with everything "secretprov server" needs: a simulated world (its
// root.pem is the trust root), a TLS certificate and key, a secret file and a configuration.
type srvFixture struct {
	dir   string
	world *sim.World
	roots *x509.CertPool
	cert  *tls.Certificate // the enclave's RA-TLS certificate
}

func newSrvFixture(t *testing.T) *srvFixture {
	t.Helper()
	w, wdir := simtest.WorldIn(t, sim.Options{})
	fx := &srvFixture{dir: t.TempDir(), world: w}
	fx.write(t, "root.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.Root().Raw})))
	if _, err := os.Stat(filepath.Join(wdir, "root.pem")); err != nil {
		t.Fatalf("sim world has no root.pem: %v", err)
	}
	fx.write(t, "collateral.json", string(simtest.BundleJSON(t, w, quote.TEESGX)))
	ca := simtest.TLSAuthority(t)
	certPEM, keyPEM := simtest.ServerCertificatePEM(t, ca, "localhost", "127.0.0.1")
	fx.roots = ca.Pool()
	fx.write(t, "tls.crt", string(certPEM))
	fx.write(t, "tls.key", string(keyPEM))
	fx.write(t, "demo-secret", srvSecretA)
	c, err := ratls.NewCertificate(context.Background(), simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity()))
	if err != nil {
		t.Fatal(err)
	}
	fx.cert = c
	return fx
}

// write replaces a file of the fixture atomically (a poll never sees it half-written).
func (fx *srvFixture) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(fx.dir, name)
	if err := os.WriteFile(p+".tmp", []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// srvSecrets is the usual secrets section of the test configurations.
const srvSecrets = "secrets:\n  demo-secret: {file: demo-secret}\n"

// config writes config.yaml with the given collateral lines, workload secrets mapping and
// secrets section.
func (fx *srvFixture) config(t *testing.T, collateral, secretsMap, secretsSection string) string {
	t.Helper()
	doc := fmt.Sprintf(`listen: 127.0.0.1:0
admin_listen: 127.0.0.1:0
tls: {cert: tls.crt, key: tls.key}
verifier:
  trust_root: root.pem
%s
limits: {handshake_timeout: 5s, idle_timeout: 5s}
log: {level: debug, format: json}
workloads:
  - name: demo
    mrenclave: ["%s"]
    secrets: %s
%s`, collateral, sim.DefaultIdentity().MREnclave, secretsMap, secretsSection)
	return fx.write(t, "config.yaml", doc)
}

// srvProvision runs Gramine's V1 exchange and returns the secret, or the error.
func srvProvision(t *testing.T, addr string, fx *srvFixture) (string, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, ratls.ClientConfig(ratls.StaticCert(fx.cert), fx.roots, ""))
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wire.WriteV1Request(c); err != nil {
		return "", err
	}
	b, err := wire.ReadV1Response(c, 0)
	return string(b), err
}

// srvLog collects a server's output (JSON log lines among others) and finds messages in it.
type srvLog struct{ simtest.LogBuffer }

// wait returns the n-th (1-based) log line whose msg is msg, waiting up to 20 seconds.
func (l *srvLog) wait(t *testing.T, msg string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		seen := 0
		for _, m := range l.Objects() {
			if m["msg"] == msg {
				if seen++; seen == n {
					return m
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line %q (#%d) in:\n%s", msg, n, l.String())
	return nil
}

func (l *srvLog) addrs(t *testing.T) (listen, admin string) {
	t.Helper()
	return l.wait(t, "provisioning listener started", 1)["addr"].(string), l.wait(t, "admin listener started", 1)["addr"].(string)
}

func srvGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func srvNoSecrets(t *testing.T, where, s string) {
	t.Helper()
	for _, v := range []string{srvSecretA, srvSecretB, srvSecretC} {
		if strings.Contains(s, v) {
			t.Errorf("%s shows a secret value", where)
		}
	}
}

func TestServerValidate(t *testing.T) {
	code, out, errOut := run(t, "server", "validate", "--config", "../config/testdata/reference.yaml")
	if code != ExitOK || !strings.HasPrefix(out, "ok: ../config/testdata/reference.yaml: ") || !strings.Contains(out, "3 workload(s)") {
		t.Errorf("reference config: exit %d\n%s%s", code, out, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	doc := "listen: nowhere\ntls: {cert: a.crt}\nworkloads:\n  - name: w\n    mrenclave: [abcd]\n    secrets: {default: s}\n"
	if err := os.WriteFile(bad, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = run(t, "server", "validate", "--config", bad)
	if code != ExitBadInput || out != "" {
		t.Fatalf("bad config: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{bad + ":1: listen:", bad + ":2: tls.key:", bad + ":5: workloads[0].mrenclave[0]:", bad + ":6: workloads[0].secrets:"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if !regexp.MustCompile(`(?m)^secretprov: .*bad\.yaml: \d+ problem\(s\)$`).MatchString(errOut) {
		t.Errorf("no summary line:\n%s", errOut)
	}
}

func TestServerValidateGramineEnv(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "g.yaml")
	if err := os.WriteFile(cfg, []byte("tls: {cert: a.crt, key: a.key}\nsecrets:\n  default: {value: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run(t, "server", "validate", "--config", cfg); code != ExitBadInput || !strings.Contains(errOut, "workloads") {
		t.Errorf("without --gramine-env: exit %d %s", code, errOut)
	}
	if code, _, errOut := run(t, "server", "validate", "--config", cfg, "--gramine-env"); code != ExitBadInput {
		t.Errorf("--gramine-env with no RA_TLS_* set: exit %d %s", code, errOut)
	}
	t.Setenv("RA_TLS_MRENCLAVE", sim.DefaultIdentity().MREnclave.String())
	t.Setenv("RA_TLS_MRSIGNER", "any")
	t.Setenv("RA_TLS_ISV_PROD_ID", "any")
	t.Setenv("RA_TLS_ISV_SVN", "any")
	if code, out, errOut := run(t, "server", "validate", "--config", cfg, "--gramine-env"); code != ExitOK || !strings.Contains(out, "[gramine]") {
		t.Errorf("--gramine-env: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := run(t, "server", "validate", "--config", cfg, "--gramine-env", "--gramine-secret", "nope"); code != ExitBadInput || !strings.Contains(errOut, `"nope"`) {
		t.Errorf("--gramine-secret undefined: exit %d %s", code, errOut)
	}
}

func TestServerBadStart(t *testing.T) {
	fx := newSrvFixture(t)
	cfg := fx.config(t, "  collateral: collateral.json", "{default: demo-secret}", srvSecrets)
	if err := os.Remove(filepath.Join(fx.dir, "tls.key")); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "server", "--config", cfg)
	if code != ExitBadInput || !strings.Contains(errOut, "tls.key") {
		t.Errorf("missing key: exit %d %s", code, errOut)
	}
}
