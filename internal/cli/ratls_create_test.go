package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/ratls"
)

// TestRATLSCreateSim: `ratls create --attester sim` writes a certificate whose key, format and
// identity are the requested ones and which verifies against the world's root.
func TestRATLSCreateSim(t *testing.T) {
	dir := simWorldDir(t)
	tests := []struct {
		name, keyType, format, wantBinding, wantExts string
	}{
		{"default", "", "", "tcg", "legacy, tcg"},
		{"p256-legacy", "p256", "legacy", "legacy", "legacy"},
		{"rsa3072-tcg", "rsa3072", "tcg", "tcg", "tcg"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPath, keyPath := filepath.Join(dir, tc.name+".pem"), filepath.Join(dir, tc.name+".key")
			args := []string{"ratls", "create", "--attester", "sim", "--sim-dir", dir, "--cert", certPath, "--key", keyPath,
				"--mrenclave", testMREnclave, "--tcb-status", "ConfigurationNeeded"}
			if tc.keyType != "" {
				args = append(args, "--key-type", tc.keyType)
			}
			if tc.format != "" {
				args = append(args, "--format", tc.format)
			}
			out, stderr := mustRun(t, args...)
			if !strings.Contains(stderr, "WARNING: SIMULATED") || !strings.Contains(out, "wrote RA-TLS certificate") {
				t.Errorf("stdout %q\nstderr %q", out, stderr)
			}
			checkKeyFile(t, certPath, keyPath)
			wantKey := tc.keyType
			if wantKey == "" {
				wantKey = "p384"
			}
			in, inJSON := jsonObject(t, ExitOK, "ratls", "inspect", "--cert", certPath, "--json")
			exts, _ := in["extensions"].([]any)
			var names []string
			for _, e := range exts {
				names = append(names, e.(string))
			}
			if in["key"] != wantKey || in["binding"] != tc.wantBinding || strings.Join(names, ", ") != tc.wantExts ||
				in["mrenclave"] != testMREnclave || in["not_before"] != "2001-01-01T00:00:00Z" || in["not_after"] != "2030-12-31T23:59:59Z" {
				t.Errorf("inspect: %s", inJSON)
			}
			v, vJSON := jsonObject(t, ExitOK, "ratls", "verify", "--cert", certPath, "--collateral", filepath.Join(dir, "sgx.json"),
				"--root", filepath.Join(dir, "root.pem"), "--json")
			if v["tcb_status"] != "ConfigurationNeeded" || v["binding"] != tc.wantBinding {
				t.Errorf("verify: %s", vJSON)
			}
		})
	}
}

// TestRATLSCreateValidityEnv: Gramine's RA_TLS_CERT_TIMESTAMP_* variables set the validity.
func TestRATLSCreateValidityEnv(t *testing.T) {
	dir := simWorldDir(t)
	certPath, keyPath := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")
	t.Setenv(envNotBefore, "20250102030405")
	t.Setenv(envNotAfter, "20260708091011")
	mustRun(t, "ratls", "create", "--attester", "sim", "--sim-dir", dir, "--cert", certPath, "--key", keyPath)
	in, inJSON := jsonObject(t, ExitOK, "ratls", "inspect", "--cert", certPath, "--json")
	if in["not_before"] != "2025-01-02T03:04:05Z" || in["not_after"] != "2026-07-08T09:10:11Z" {
		t.Errorf("inspect: %s", inJSON)
	}
	mustRun(t, "sim", "ratls", "--dir", dir, "--cert", certPath, "--key", keyPath)
	if in, _ = jsonObject(t, ExitOK, "ratls", "inspect", "--cert", certPath, "--json"); in["not_after"] != "2026-07-08T09:10:11Z" {
		t.Errorf("sim ratls ignores %s: %v", envNotAfter, in["not_after"])
	}

	t.Setenv(envNotAfter, "2026-07-08")
	other := filepath.Join(dir, "other.pem")
	code, _, stderr := run(t, "ratls", "create", "--attester", "sim", "--sim-dir", dir, "--cert", other, "--key", filepath.Join(dir, "other.key"))
	if code != ExitBadInput || !strings.Contains(stderr, envNotAfter) {
		t.Errorf("malformed %s: exit %d, stderr %q", envNotAfter, code, stderr)
	}
	if _, err := os.Stat(other); err == nil {
		t.Error("a certificate was written despite the bad variable")
	}
}

func TestValidityFromEnv(t *testing.T) {
	tests := []struct {
		name                string
		env                 map[string]string
		wantBefore, wantEnd time.Time
		wantErr             bool
	}{
		{"defaults", nil, ratls.DefaultNotBefore, ratls.DefaultNotAfter, false},
		{"not before only", map[string]string{envNotBefore: "20240229235959"},
			time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), ratls.DefaultNotAfter, false},
		{"not after only", map[string]string{envNotAfter: "20991231000000"},
			ratls.DefaultNotBefore, time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC), false},
		{"empty value", map[string]string{envNotBefore: ""}, time.Time{}, time.Time{}, true},
		{"short", map[string]string{envNotBefore: "2024010100000"}, time.Time{}, time.Time{}, true},
		{"long", map[string]string{envNotBefore: "202401010000000"}, time.Time{}, time.Time{}, true},
		{"rfc 3339", map[string]string{envNotAfter: "2030-12-31T23:59:59Z"}, time.Time{}, time.Time{}, true},
		{"month 13", map[string]string{envNotAfter: "20301331235959"}, time.Time{}, time.Time{}, true},
		{"end before start", map[string]string{envNotBefore: "20300101000000", envNotAfter: "20200101000000"}, time.Time{}, time.Time{}, true},
		{"end equals start", map[string]string{envNotBefore: "20300101000000", envNotAfter: "20300101000000"}, time.Time{}, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			nb, na, err := validityFromEnv(lookup)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %t", err, tc.wantErr)
			}
			if !nb.Equal(tc.wantBefore) || !na.Equal(tc.wantEnd) {
				t.Errorf("validity %v to %v, want %v to %v", nb, na, tc.wantBefore, tc.wantEnd)
			}
		})
	}
}

// TestRATLSCreateBadInput: unusable flags exit 2 before any attester is asked; a real attester
// outside its TEE exits 1.
func TestRATLSCreateBadInput(t *testing.T) {
	dir := simWorldDir(t)
	out := []string{"--cert", filepath.Join(dir, "c.pem"), "--key", filepath.Join(dir, "c.key")}
	sim := []string{"--attester", "sim", "--sim-dir", dir}
	tests := []struct {
		name string
		args []string
	}{
		{"no attester", out},
		{"unknown attester", append([]string{"--attester", "epid"}, out...)},
		{"sim without dir", append([]string{"--attester", "sim"}, out...)},
		{"sim dir is no world", append([]string{"--attester", "sim", "--sim-dir", t.TempDir()}, out...)},
		{"bad key type", append(append([]string{"--key-type", "p521"}, sim...), out...)},
		{"bad format", append(append([]string{"--format", "tcg+legacy"}, sim...), out...)},
		{"bad mrenclave", append(append([]string{"--mrenclave", "zz"}, sim...), out...)},
		{"bad tcb status", append(append([]string{"--tcb-status", "Fine"}, sim...), out...)},
		{"mrtd without tdx", append(append([]string{"--mrtd", strings.Repeat("ab", 48)}, sim...), out...)},
		{"identity flag with gramine", append([]string{"--attester", "gramine", "--mrenclave", testMREnclave}, out...)},
		{"sim dir with tdx", append([]string{"--attester", "tdx", "--sim-dir", dir}, out...)},
		{"tcb status with tdx", append([]string{"--attester", "tdx", "--tcb-status", "UpToDate"}, out...)},
		{"same file", append(sim, "--cert", filepath.Join(dir, "x"), "--key", filepath.Join(dir, ".", "x"))},
		{"no key", append(sim, "--cert", filepath.Join(dir, "c.pem"))},
		{"unwritable", append(sim, "--cert", filepath.Join(dir, "no", "c.pem"), "--key", filepath.Join(dir, "no", "c.key"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"ratls", "create"}, tc.args...)...)
			if code != ExitBadInput || stderr == "" {
				t.Errorf("exit %d, want %d\nstdout %q\nstderr %q", code, ExitBadInput, stdout, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "c.pem")); err == nil {
		t.Error("a certificate was written by a refused command")
	}

	for attester, device := range map[string]string{"gramine": "/dev/attestation", "tdx": "/sys/kernel/config/tsm/report"} {
		t.Run(attester+" outside its TEE", func(t *testing.T) {
			if _, err := os.Stat(device); err == nil {
				t.Skipf("%s exists", device)
			}
			code, _, stderr := run(t, append([]string{"ratls", "create", "--attester", attester}, out...)...)
			if code != ExitRefused || !strings.Contains(stderr, "ratls create") {
				t.Errorf("exit %d, want %d; stderr %q", code, ExitRefused, stderr)
			}
		})
	}
}
