package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/ratls"
)

const (
	testMREnclave = "1111111111111111111111111111111111111111111111111111111111111111"
	testMRSigner  = "2222222222222222222222222222222222222222222222222222222222222222"
)

// simWorldDir runs `sim init` and writes the SGX and TDX collateral with `sim collateral`
// (DIR/sgx.json, DIR/tdx.json).
func simWorldDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	mustRun(t, "sim", "init", "--dir", dir)
	mustRun(t, "sim", "collateral", "--dir", dir, "--out", filepath.Join(dir, "sgx.json"))
	mustRun(t, "sim", "collateral", "--dir", dir, "--tdx", "--out", filepath.Join(dir, "tdx.json"))
	return dir
}

// mustRun runs the CLI and fails the test unless it exits 0; it returns stdout and stderr.
func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != ExitOK {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

// simRATLS writes DIR/name.pem and DIR/name.key with `sim ratls` and checks the warning and the
// key file's mode.
func simRATLS(t *testing.T, dir, name string, args ...string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	_, stderr := mustRun(t, append([]string{"sim", "ratls", "--dir", dir, "--cert", certPath, "--key", keyPath}, args...)...)
	if !strings.Contains(stderr, "WARNING: SIMULATED") {
		t.Errorf("sim ratls: no simulation warning on stderr: %q", stderr)
	}
	checkKeyFile(t, certPath, keyPath)
	return certPath, keyPath
}

// checkKeyFile checks that the key is private (0600) and belongs to the certificate.
func checkKeyFile(t *testing.T, certPath, keyPath string) {
	t.Helper()
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", keyPath, fi.Mode().Perm())
	}
	if _, err := tls.LoadX509KeyPair(certPath, keyPath); err != nil {
		t.Errorf("certificate and key do not match: %v", err)
	}
}

// writeDER writes the DER of the PEM certificate at pemPath next to it and returns its path.
func writeDER(t *testing.T, pemPath string) string {
	t.Helper()
	b, err := os.ReadFile(pemPath)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s: not a PEM certificate", pemPath)
	}
	path := strings.TrimSuffix(pemPath, ".pem") + ".der"
	if err := os.WriteFile(path, blk.Bytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonObject runs the CLI, checks the exit status and decodes stdout as one JSON object.
func jsonObject(t *testing.T, wantCode int, args ...string) (map[string]any, string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != wantCode {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, wantCode, out, errOut)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	return m, out
}

// varying matches the output that differs from run to run (key-dependent report data, the
// world's dates, its random root key); normalize replaces it for golden files.
var varying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`"report_data":"[0-9a-f]*"`), `"report_data":"<varies>"`},
	{regexp.MustCompile(`"earliest_expiry":"[^"]*"`), `"earliest_expiry":"<varies>"`},
	{regexp.MustCompile(`(report data: +)[0-9a-f]+`), `${1}<varies>`},
	{regexp.MustCompile(`sha256:[0-9a-f]+`), `sha256:<varies>`},
}

func normalize(s string) string {
	for _, v := range varying {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// TestRATLSSimFlow is the simulator contract of issue 3 for RA-TLS: sim init → sim ratls →
// ratls inspect (PEM and DER) → ratls verify with the world's root gives the requested TCB
// status, and with the default Intel root pck_chain_invalid.
func TestRATLSSimFlow(t *testing.T) {
	dir := simWorldDir(t)
	root := filepath.Join(dir, "root.pem")
	sgxID := []string{"--mrenclave", testMREnclave, "--mrsigner", testMRSigner, "--isv-prod-id", "7", "--isv-svn", "3"}
	tests := []struct {
		name        string
		args        []string
		tdx         bool
		wantBinding string
		wantKey     string
		wantExts    string
		wantCode    int
		wantStatus  string // tcb_status of the verdict
		wantReason  string
	}{
		{"sgx-uptodate", sgxID, false, "tcg", "p384", "legacy,tcg", ExitOK, "UpToDate", ""},
		{"sgx-swhardening-tcg", append([]string{"--tcb-status", "SWHardeningNeeded", "--format", "tcg"}, sgxID...), false, "tcg", "p384", "tcg", ExitOK, "SWHardeningNeeded", ""},
		{"sgx-outofdate-legacy-p256", append([]string{"--tcb-status", "OutOfDate", "--format", "legacy", "--key-type", "p256"}, sgxID...), false, "legacy", "p256", "legacy", ExitOK, "OutOfDate", ""},
		{"sgx-revoked", append([]string{"--tcb-status", "Revoked"}, sgxID...), false, "tcg", "p384", "legacy,tcg", ExitRefused, "Revoked", "tcb_revoked"},
		{"sgx-pck-revoked", append([]string{"--pck-revoked"}, sgxID...), false, "tcg", "p384", "legacy,tcg", ExitRefused, "", "pck_revoked"},
		{"tdx-uptodate", []string{"--tdx"}, true, "tcg", "p384", "legacy,tcg", ExitOK, "UpToDate", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPath, _ := simRATLS(t, dir, tc.name, tc.args...)
			collateral := filepath.Join(dir, "sgx.json")
			if tc.tdx {
				collateral = filepath.Join(dir, "tdx.json")
			}

			in, inJSON := jsonObject(t, ExitOK, "ratls", "inspect", "--cert", certPath, "--json")
			exts, _ := json.Marshal(in["extensions"])
			if in["binding"] != tc.wantBinding || in["binding_ok"] != true || in["key"] != tc.wantKey ||
				in["quote_verified"] != false || in["reason"] != "" || string(exts) != `["`+strings.ReplaceAll(tc.wantExts, ",", `","`)+`"]` {
				t.Errorf("inspect: %s", inJSON)
			}
			checkIdentity(t, in, tc.tdx)
			if _, derJSON := jsonObject(t, ExitOK, "ratls", "inspect", "--cert", writeDER(t, certPath), "--json"); derJSON != inJSON {
				t.Errorf("inspect DER differs from PEM:\n%s\n%s", derJSON, inJSON)
			}

			args := []string{"ratls", "verify", "--cert", certPath, "--collateral", collateral, "--json"}
			v, vJSON := jsonObject(t, tc.wantCode, append(args, "--root", root)...)
			if v["verified"] != (tc.wantCode == ExitOK) || v["tcb_status"] != tc.wantStatus || v["reason"] != tc.wantReason ||
				v["binding"] != tc.wantBinding || v["binding_ok"] != true {
				t.Errorf("verify --root DIR/root.pem: %s", vJSON)
			}
			checkIdentity(t, v, tc.tdx)
			intel, iJSON := jsonObject(t, ExitRefused, args...)
			if intel["verified"] != false || intel["reason"] != "pck_chain_invalid" || intel["binding_ok"] != true {
				t.Errorf("verify with the Intel root: %s", iJSON)
			}
			if tc.name == "sgx-uptodate" {
				golden(t, "ratls-inspect-sim.json", normalize(inJSON))
				golden(t, "ratls-verify-sim.json", normalize(vJSON))
				golden(t, "ratls-verify-sim-intel-root.json", normalize(iJSON))
				_, human, _ := run(t, "ratls", "inspect", "--cert", certPath)
				golden(t, "ratls-inspect-sim.txt", normalize(human))
				_, human, _ = run(t, "ratls", "verify", "--cert", certPath, "--collateral", collateral, "--root", root)
				golden(t, "ratls-verify-sim.txt", normalize(human))
			}
		})
	}
}

// checkIdentity checks the identity fields of an inspect or verify JSON object.
func checkIdentity(t *testing.T, m map[string]any, tdx bool) {
	t.Helper()
	if tdx {
		rtmrs, _ := m["rtmrs"].([]any)
		if m["tee"] != "tdx" || len(rtmrs) != 4 || len(m["mrtd"].(string)) != 96 || m["mrenclave"] != nil {
			t.Errorf("tdx identity: tee %v mrtd %v rtmrs %v mrenclave %v", m["tee"], m["mrtd"], m["rtmrs"], m["mrenclave"])
		}
		return
	}
	if m["tee"] != "sgx" || m["quote_version"] != 3.0 || m["mrenclave"] != testMREnclave || m["mrsigner"] != testMRSigner ||
		m["isv_prod_id"] != 7.0 || m["isv_svn"] != 3.0 || m["debug"] != false || len(m["report_data"].(string)) != 128 {
		t.Errorf("sgx identity: %v", m)
	}
}

// swapKey writes a certificate that carries the RA-TLS extensions of the certificate at
// certPath but another key: the quotes bind a key the certificate does not have.
func swapKey(t *testing.T, certPath, out string) {
	t.Helper()
	orig, err := loadCertificate(certPath)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), RawSubject: orig.RawSubject,
		NotBefore: orig.NotBefore, NotAfter: orig.NotAfter,
	}
	for _, e := range orig.Extensions {
		if e.Id.Equal(ratls.OIDTaggedEvidence) || e.Id.Equal(ratls.OIDLegacyQuote) {
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: e.Id, Value: e.Value})
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRATLSBindingInvalid: a certificate whose quote binds another key is refused by inspect
// and verify with binding_invalid, binding_ok false, and still shows what the quote claims.
func TestRATLSBindingInvalid(t *testing.T) {
	dir := simWorldDir(t)
	for _, format := range []string{"tcg", "legacy", "both"} {
		t.Run(format, func(t *testing.T) {
			certPath, _ := simRATLS(t, dir, "orig-"+format, "--format", format, "--mrenclave", testMREnclave, "--mrsigner", testMRSigner, "--isv-prod-id", "7", "--isv-svn", "3")
			swapped := filepath.Join(dir, "swapped-"+format+".pem")
			swapKey(t, certPath, swapped)
			wantBinding := "tcg"
			if format == "legacy" {
				wantBinding = "legacy"
			}

			in, inJSON := jsonObject(t, ExitRefused, "ratls", "inspect", "--cert", swapped, "--json")
			if in["reason"] != "binding_invalid" || in["binding"] != wantBinding || in["binding_ok"] != false || in["error"] == "" {
				t.Errorf("inspect: %s", inJSON)
			}
			checkIdentity(t, in, false)

			args := []string{"ratls", "verify", "--cert", swapped, "--collateral", filepath.Join(dir, "sgx.json"), "--root", filepath.Join(dir, "root.pem")}
			v, vJSON := jsonObject(t, ExitRefused, append(args, "--json")...)
			if v["reason"] != "binding_invalid" || v["verified"] != false || v["binding"] != wantBinding || v["binding_ok"] != false {
				t.Errorf("verify: %s", vJSON)
			}
			checkIdentity(t, v, false)
			if format == "tcg" {
				golden(t, "ratls-inspect-binding-invalid.json", normalize(inJSON))
				_, human, _ := run(t, "ratls", "inspect", "--cert", swapped)
				golden(t, "ratls-inspect-binding-invalid.txt", normalize(human))
				_, human, _ = run(t, args...)
				golden(t, "ratls-verify-binding-invalid.txt", normalize(human))
			}
		})
	}
}

// TestRATLSInvalidInput: refusals (exit 1, with a reason on stdout) and unusable input (exit 2).
func TestRATLSInvalidInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	garbage := write("garbage.pem", []byte("not a certificate\n"))
	plain := write("plain.pem", plainCertPEM(t))
	twoCerts := write("two.pem", append(plainCertPEM(t), plainCertPEM(t)...))
	collateral := write("collateral.json", []byte("{}"))

	refusals := []struct {
		name, cert, wantReason string
	}{
		{"garbage", garbage, "certificate_malformed"},
		{"two certificates", twoCerts, "certificate_malformed"},
		{"no RA-TLS extension", plain, "extension_missing"},
	}
	for _, tc := range refusals {
		t.Run("inspect/"+tc.name, func(t *testing.T) {
			in, out := jsonObject(t, ExitRefused, "ratls", "inspect", "--cert", tc.cert, "--json")
			if in["reason"] != tc.wantReason || in["binding_ok"] != false || in["binding"] != "" || in["quote_verified"] != false {
				t.Errorf("%s", out)
			}
		})
		t.Run("verify/"+tc.name, func(t *testing.T) {
			v, out := jsonObject(t, ExitRefused, "ratls", "verify", "--cert", tc.cert, "--collateral", collateral, "--json")
			if v["reason"] != tc.wantReason || v["verified"] != false || v["binding_ok"] != false {
				t.Errorf("%s", out)
			}
		})
	}
	if code, out, _ := run(t, "ratls", "inspect", "--cert", plain); code != ExitRefused || !strings.Contains(out, "key:               p256") {
		t.Errorf("inspect plain certificate: exit %d\n%s", code, out)
	}

	badInput := [][]string{
		{"inspect", "--cert", filepath.Join(dir, "missing.pem")},
		{"inspect"},
		{"verify", "--cert", filepath.Join(dir, "missing.pem"), "--collateral", collateral},
		{"verify", "--cert", plain},
		{"verify", "--cert", plain, "--collateral", collateral, "--pcs-url", "http://127.0.0.1:1"},
		{"verify", "--cert", plain, "--collateral", collateral, "--at", "yesterday"},
		{"verify", "--cert", plain, "--collateral", collateral, "--root", garbage},
	}
	for _, args := range badInput {
		t.Run("bad input/"+strings.Join(args, " "), func(t *testing.T) {
			if code, out, errOut := run(t, append([]string{"ratls"}, args...)...); code != ExitBadInput || errOut == "" {
				t.Errorf("exit %d, want %d\nstdout %q\nstderr %q", code, ExitBadInput, out, errOut)
			}
		})
	}
}

// plainCertPEM returns an ordinary self-signed certificate (no RA-TLS extension).
func plainCertPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "plain"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<31, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
