package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/policy"
)

func TestReferenceConfigLoads(t *testing.T) {
	c, err := Load("testdata/reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "0.0.0.0:4433" || c.AdminListen != "0.0.0.0:9090" {
		t.Errorf("listen = %q, admin = %q", c.Listen, c.AdminListen)
	}
	if got, want := c.TLS.Cert, filepath.Join("testdata", "tls", "server.crt"); got != want {
		t.Errorf("tls.cert = %q, want %q (relative to the file)", got, want)
	}
	if c.Limits.MaxSecretSize != 1<<20 || c.Limits.HandshakeTimeout != 10*time.Second {
		t.Errorf("limits = %+v", c.Limits)
	}
	if len(c.Workloads) != 3 || c.Workloads[1].ISVProdID == nil || *c.Workloads[1].ISVProdID != 0 {
		t.Fatalf("workloads = %+v", c.Workloads)
	}
	if _, err := policy.New(c.Workloads); err != nil {
		t.Errorf("reference workloads do not make a policy: %v", err)
	}
	if c.Secrets["db-password"].Env != "DB_PASSWORD" {
		t.Errorf("secrets = %+v", c.Secrets)
	}
}

// TestEveryErrorHasItsLine checks that all problems are reported at once, each at its line.
func TestEveryErrorHasItsLine(t *testing.T) {
	doc := `listen: nowhere
tls: {cert: a.crt}
verifier:
  pcs_kind: intell
  collateral_grace: soon
limits:
  max_connections: 0
  max_secret_size: 2TB
workloads:
  - name: w
    mrenclave: ["abcd"]
    tcb_statuses: [UpToDate, Fine]
    secrets: {default: missing}
  - name: w2
    mrsigner: "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
    secrets: {default: s}
secrets:
  s: {file: a, env: B}
`
	_, err := Parse("bad.yaml", []byte(doc))
	if err == nil {
		t.Fatal("Parse accepted a bad file")
	}
	want := map[string]int{ // path -> line
		"listen":                       1,
		"tls.key":                      2,
		"verifier.pcs_kind":            4,
		"verifier.collateral_grace":    5,
		"limits.max_connections":       7,
		"limits.max_secret_size":       8,
		"workloads[0].mrenclave[0]":    11,
		"workloads[0].tcb_statuses[1]": 12,
		"workloads[0].secrets":         13,
		"workloads[1]":                 14,
		"secrets.s":                    18,
	}
	got := map[string]int{}
	re := regexp.MustCompile(`^bad\.yaml:(\d+): ([^:]+):`)
	for _, line := range strings.Split(err.Error(), "\n") {
		m := re.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("error without file:line: path: %q", line)
			continue
		}
		n := 0
		for _, c := range m[1] {
			n = n*10 + int(c-'0')
		}
		if _, dup := got[m[2]]; !dup {
			got[m[2]] = n
		}
	}
	for path, line := range want {
		if got[path] != line {
			t.Errorf("%s: reported at line %d, want %d\nall errors:\n%v", path, got[path], line, err)
		}
	}
}

func TestUnknownKeysRejected(t *testing.T) {
	doc := "listen: 127.0.0.1:4433\nlisten_adress: x\ntls: {cert: a, key: b, pasword: c}\n"
	_, err := Parse("u.yaml", []byte(doc))
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, want := range []string{"u.yaml:2:", "listen_adress", "u.yaml:3:", "pasword"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestEmptyFileNeedsWorkloads(t *testing.T) {
	_, err := Parse("e.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "workloads") {
		t.Errorf("empty file: %v", err)
	}
}

func TestNoWorkloadsOption(t *testing.T) {
	doc := []byte("tls: {cert: a.crt, key: a.key}\nsecrets:\n  default: {value: x}\n")
	if _, err := Parse("n.yaml", doc); err == nil || !strings.Contains(err.Error(), "workloads") {
		t.Errorf("default options: %v, want workloads required", err)
	}
	c, err := ParseWith("n.yaml", doc, Options{NoWorkloads: true})
	if err != nil || len(c.Workloads) != 0 || c.Secrets["default"].Value != "x" {
		t.Errorf("NoWorkloads: %+v, %v", c, err)
	}
	if _, err := ParseWith("n.yaml", []byte("tls: {cert: a.crt}\n"), Options{NoWorkloads: true}); err == nil {
		t.Error("NoWorkloads skipped the other checks")
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "absent.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+10), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil {
		t.Error("oversized file accepted")
	}
}

func TestParseSize(t *testing.T) {
	tests := map[string]int64{"1": 1, "64KiB": 64 << 10, "1MiB": 1 << 20, "2 GiB": 2 << 30, "10KB": 10000, "5B": 5}
	for in, want := range tests {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1TiB", "99999999999999999999GiB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/reference.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("workloads: [{name: a, mrenclave: [x]}]"))
	f.Add([]byte("a: &a [*a]"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("fuzz.yaml", b)
		if err == nil && len(c.Workloads) == 0 {
			t.Fatal("accepted a configuration without workloads")
		}
	})
}

func TestPrefetchKeys(t *testing.T) {
	base := "tls: {cert: a, key: b}\nworkloads: [{name: w, mrenclave: [\"" + strings.Repeat("ab", 32) + "\"], secrets: {default: s}}]\nsecrets: {s: {env: S}}\n"
	c, err := Parse("p.yaml", []byte(base+"verifier: {prefetch: [sgx/00A067110000/processor, tdx/b0c06f000000/platform]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Verifier.Prefetch) != 2 || c.Verifier.Prefetch[0].String() != "sgx/00A067110000/processor" || c.Verifier.Prefetch[1].String() != "tdx/B0C06F000000/platform" {
		t.Errorf("prefetch = %v", c.Verifier.Prefetch)
	}
	for _, bad := range []string{"sgx/00A067110000", "sev/00A067110000/processor", "sgx/00A0671100/processor", "sgx/00A067110000/cpu"} {
		if _, err := Parse("p.yaml", []byte(base+"verifier: {prefetch: ["+bad+"]}\n")); err == nil || !strings.Contains(err.Error(), "p.yaml:4: verifier.prefetch[0]") {
			t.Errorf("prefetch %q: %v", bad, err)
		}
	}
}

// TestEarlyWarning: verifier.early_warning is off by default, needs verdicts on the standard
// data and a PCS, and is a strict boolean; errors name the key's line.
func TestEarlyWarning(t *testing.T) {
	base := "tls: {cert: a, key: b}\nworkloads: [{name: w, mrenclave: [\"" + strings.Repeat("ab", 32) + "\"], secrets: {default: s}}]\nsecrets: {s: {env: S}}\n"
	tests := []struct {
		name     string
		verifier string // the verifier section, at line 4
		want     bool
		wantErr  string // "path:line" of the error; "" = no error
	}{
		{"default", "verifier: {}\n", false, ""},
		{"on", "verifier:\n  early_warning: true\n", true, ""},
		{"off with update early", "verifier:\n  update: early\n  early_warning: false\n", false, ""},
		{"on with update early", "verifier:\n  update: early\n  early_warning: true\n", false, "verifier.early_warning:6"},
		{"on with the offline file", "verifier:\n  collateral: c.json\n  early_warning: true\n", false, "verifier.early_warning:6"},
		{"not a boolean", "verifier:\n  early_warning: sometimes\n", false, ":5:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("e.yaml", []byte(base+tc.verifier))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Verifier.EarlyWarning != tc.want {
					t.Errorf("EarlyWarning = %v, want %v", c.Verifier.EarlyWarning, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			want := "e.yaml" + tc.wantErr
			if path, line, ok := strings.Cut(tc.wantErr, ":"); ok && path != "" {
				want = "e.yaml:" + line + ": " + path + ":"
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %v, want it at %q", err, want)
			}
		})
	}
}
