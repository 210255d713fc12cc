package deploytest

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// docsBlock returns the first bash block of the walkthrough that contains marker.
func docsBlock(t *testing.T, marker string) codeBlock {
	t.Helper()
	blocks, _ := parseMarkdown(readRepoFile(t, docsFile))
	for _, b := range blocks {
		if b.lang == "bash" && strings.Contains(strings.Join(b.lines, "\n"), marker) {
			return b
		}
	}
	t.Fatalf("%s: no bash block with %q", docsFile, marker)
	return codeBlock{}
}

// TestDocsCertificateCommands runs the walkthrough's certificate, demo-secret and signing-key
// commands as written (in a scratch directory) and checks what they make: a server certificate
// that chains to the CA for the Azure DNS name and the in-cluster Service names, the demo secret
// the expected log shows, and a key SGX accepts for signing.
func TestDocsCertificateCommands(t *testing.T) {
	bash := bashPath(t)
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	script.WriteString(strings.Join(docsBlock(t, "export DNS_LABEL=").lines, "\n") + "\n")
	script.WriteString(strings.Join(docsBlock(t, "openssl req -x509").lines, "\n") + "\n")
	for _, l := range docsBlock(t, "openssl genrsa").lines {
		if strings.HasPrefix(l, "openssl genrsa") {
			script.WriteString(l + "\n")
		}
	}
	script.WriteString(`printf '%s\n' "$DNS_LABEL.$LOCATION.cloudapp.azure.com"` + "\n")
	dir := t.TempDir()
	cmd := exec.Command(bash, "-c", script.String())
	cmd.Dir = dir
	// No OpenSSL configuration file: the commands must not depend on the local defaults.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "OPENSSL_CONF=/dev/null"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("walkthrough commands: %v\n%s", err, stderr.String())
	}
	fqdn := strings.TrimSpace(stdout.String())
	certs := filepath.Join(dir, "deploy", "certs")
	ca := readCert(t, filepath.Join(certs, "ca.crt"))
	server := readCert(t, filepath.Join(certs, "server.crt"))
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{fqdn, "secretprov.secretprov.svc", "secretprov.secretprov.svc.cluster.local"} {
		if _, err := server.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	if !ca.IsCA || server.IsCA {
		t.Errorf("CA IsCA=%v, server IsCA=%v", ca.IsCA, server.IsCA)
	}
	secret, err := os.ReadFile(filepath.Join(certs, "demo-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if string(secret) != "A_SIMPLE_SECRET\x00" {
		t.Errorf("demo secret %q, want Gramine's NUL-terminated A_SIMPLE_SECRET", secret)
	}
	keyPEM, err := os.ReadFile(filepath.Join(certs, "enclave-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	checkSigningKey(t, keyPEM)
	checkExpectedLog(t, secret)
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkSigningKey: SGX's SIGSTRUCT needs RSA-3072 with public exponent 3.
func checkSigningKey(t *testing.T, keyPEM []byte) {
	t.Helper()
	blk, _ := pem.Decode(keyPEM)
	if blk == nil {
		t.Fatal("enclave-key.pem: no PEM")
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		key, _ = k.(*rsa.PrivateKey)
	} else if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		key = k
	}
	if key == nil || key.N.BitLen() != 3072 || key.E != 3 {
		t.Errorf("enclave signing key: want RSA-3072 with exponent 3")
	}
}

// checkExpectedLog runs the demo application as the two client images do and compares its
// output with the log the walkthrough promises.
func checkExpectedLog(t *testing.T, secret []byte) {
	t.Helper()
	blocks, _ := parseMarkdown(readRepoFile(t, docsFile))
	var want []string
	for _, b := range blocks {
		if b.lang == "console" && slices.ContainsFunc(b.lines, func(l string) bool { return strings.HasPrefix(l, "--- Received secret") }) {
			want = b.lines
		}
	}
	if want == nil {
		t.Fatalf("%s: no console block with the expected log", docsFile)
	}
	m := loadManifest(t, "deploy/gsc/secretprov-client.manifest")
	print, _ := m.Loader.Env["SECRETPROV_DEMO_PRINT_SECRET"].(string)
	secrets := t.TempDir()
	if err := os.WriteFile(filepath.Join(secrets, "default"), secret, 0o400); err != nil {
		t.Fatal(err)
	}
	run := func(env ...string) []string {
		cmd := exec.Command(bashPath(t), repoPath(t, "deploy/docker/run.sh"))
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "SECRETPROV_DEMO_PRINT_SECRET=" + print}, env...)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("run.sh: %v", err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	if got := run("SECRETS_DIR=" + secrets); !slices.Equal(got, want) {
		t.Errorf("secretprov-client log %q, the walkthrough shows %q", got, want)
	}
	// Gramine's constructor exports the secret up to its NUL.
	value, _, _ := bytes.Cut(secret, []byte{0})
	if got := run("SECRETS_DIR="+filepath.Join(secrets, "none"), "SECRET_PROVISION_SECRET_STRING="+string(value)); got[0] != want[0] {
		t.Errorf("native client log %q, the walkthrough shows %q", got[0], want[0])
	}
	// Without the manifest's demo switch, no value is printed.
	for _, line := range run("SECRETS_DIR="+secrets, "SECRETPROV_DEMO_PRINT_SECRET=0") {
		if strings.Contains(line, string(value)) {
			t.Errorf("run.sh printed the value without SECRETPROV_DEMO_PRINT_SECRET=1: %q", line)
		}
	}
}

// docsValues is the walkthrough's Helm values file, with stand-ins for the shell variables.
func docsValues(t *testing.T) string {
	t.Helper()
	_, heredocs := logicalLines(docsBlock(t, "cat > secretprov-values.yaml"))
	body, ok := heredocs["secretprov-values.yaml"]
	if !ok {
		t.Fatalf("%s: no secretprov-values.yaml heredoc", docsFile)
	}
	vars := map[string]string{
		"REGISTRY": "secretprov12345.azurecr.io", "TAG": "0.1.0", "DNS_LABEL": "secretprov-demo",
		"MRENCLAVE":        "1111111111111111111111111111111111111111111111111111111111111111",
		"MRENCLAVE_NATIVE": "2222222222222222222222222222222222222222222222222222222222222222",
	}
	return varRE.ReplaceAllStringFunc(body, func(v string) string {
		name := strings.Trim(v, "${}")
		val, ok := vars[name]
		if !ok {
			t.Errorf("values heredoc uses $%s", name)
		}
		return val
	})
}
