package cli_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/cli"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// simRun executes the command line in-process and returns the exit status and both streams.
func simRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func simInitWorld(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "world")
	code, out, errOut := simRun(t, "sim", "init", "--dir", dir)
	if code != cli.ExitOK {
		t.Fatalf("sim init: %d %s", code, errOut)
	}
	if !strings.Contains(errOut, "WARNING: SIMULATED") || !strings.Contains(out, filepath.Join(dir, "root.pem")) {
		t.Errorf("sim init output: %q / %q", out, errOut)
	}
	return dir
}

// simVerifyFiles verifies a quote file against a collateral file with DIR/root.pem (or the Intel
// root when dir is ""), returning the status or the refusal reason.
func simVerifyFiles(t *testing.T, quoteFile, collFile, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(quoteFile)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := os.ReadFile(collFile)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pcs.ParseBundleJSON(cj)
	if err != nil {
		t.Fatal(err)
	}
	var opts []verify.Option
	if dir != "" {
		rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
		if err != nil {
			t.Fatal(err)
		}
		roots, err := pcs.ParseChainPEM(rootPEM)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, verify.WithRoot(roots[0]))
	}
	res, err := verify.Quote(raw, b, time.Now(), opts...)
	if err != nil {
		return string(verify.ReasonOf(err))
	}
	return string(res.TCBStatus)
}

func TestSimQuoteAndCollateral(t *testing.T) {
	dir := simInitWorld(t)
	out := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"sgx default", nil, "UpToDate"},
		{"sgx out of date", []string{"--tcb-status", "OutOfDate"}, "OutOfDate"},
		{"sgx config+sw", []string{"--tcb-status", "ConfigurationAndSWHardeningNeeded"}, "ConfigurationAndSWHardeningNeeded"},
		{"sgx revoked level", []string{"--tcb-status", "Revoked"}, "tcb_revoked"},
		{"sgx pck revoked", []string{"--pck-revoked"}, "pck_revoked"},
		{"tdx", []string{"--tdx", "--tcb-status", "SWHardeningNeeded"}, "SWHardeningNeeded"},
		{"tdx config", []string{"--tdx", "--tcb-status", "OutOfDateConfigurationNeeded"}, "OutOfDateConfigurationNeeded"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := filepath.Join(out, tc.name+".quote")
			c := filepath.Join(out, tc.name+".json")
			args := append([]string{"sim", "quote", "--dir", dir, "--report-data", hex.EncodeToString([]byte{byte(i), 1, 2}), "--out", q}, tc.args...)
			if code, stdout, stderr := simRun(t, args...); code != cli.ExitOK || !strings.Contains(stdout, q) {
				t.Fatalf("sim quote: %d %q %q", code, stdout, stderr)
			}
			collArgs := []string{"sim", "collateral", "--dir", dir, "--out", c}
			if slices.Contains(tc.args, "--tdx") {
				collArgs = append(collArgs, "--tdx")
			}
			if code, _, stderr := simRun(t, collArgs...); code != cli.ExitOK {
				t.Fatalf("sim collateral: %d %q", code, stderr)
			}
			if got := simVerifyFiles(t, q, c, dir); got != tc.want {
				t.Errorf("verified with DIR/root.pem: %s, want %s", got, tc.want)
			}
			if got := simVerifyFiles(t, q, c, ""); got != string(verify.ReasonPCKChainInvalid) {
				t.Errorf("verified with the Intel root: %s, want pck_chain_invalid", got)
			}
		})
	}
}

func TestSimQuoteIdentityFlags(t *testing.T) {
	dir := simInitWorld(t)
	q := filepath.Join(t.TempDir(), "q")
	mrenclave := strings.Repeat("ab", 32)
	mrsigner := strings.Repeat("cd", 32)
	code, _, stderr := simRun(t, "sim", "quote", "--dir", dir, "--report-data", "0x"+strings.Repeat("11", 64),
		"--mrenclave", mrenclave, "--mrsigner", mrsigner, "--isv-prod-id", "3", "--isv-svn", "4", "--debug", "--out", q)
	if code != cli.ExitOK {
		t.Fatalf("%d %s", code, stderr)
	}
	raw, err := os.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := parsed.SGX
	if r.MREnclave.String() != mrenclave || r.MRSigner.String() != mrsigner || r.ISVProdID != 3 || r.ISVSVN != 4 || !r.Debug() || r.ReportData[63] != 0x11 {
		t.Errorf("quote body %+v", r)
	}
	mrtd := strings.Repeat("ef", 48)
	if code, _, stderr := simRun(t, "sim", "quote", "--dir", dir, "--tdx", "--mrtd", mrtd, "--report-data", "01", "--out", q); code != cli.ExitOK {
		t.Fatalf("tdx: %d %s", code, stderr)
	}
	raw, _ = os.ReadFile(q)
	if parsed, err = quote.Parse(raw); err != nil || parsed.TDX == nil || parsed.TDX.MRTD.String() != mrtd || parsed.TDX.Debug() {
		t.Errorf("tdx quote: %v", err)
	}
}

func TestSimBadInput(t *testing.T) {
	dir := simInitWorld(t)
	q := filepath.Join(t.TempDir(), "q")
	base := []string{"sim", "quote", "--dir", dir, "--out", q}
	tests := []struct {
		name string
		args []string
	}{
		{"init without dir", []string{"sim", "init"}},
		{"init twice", []string{"sim", "init", "--dir", dir}},
		{"quote without report data", base},
		{"bad report data", append(base, "--report-data", "xyz")},
		{"report data too long", append(base, "--report-data", strings.Repeat("00", 65))},
		{"unknown status", append(base, "--report-data", "00", "--tcb-status", "Fine")},
		{"bad mrenclave", append(base, "--report-data", "00", "--mrenclave", "abcd")},
		{"sgx flag with tdx", append(base, "--report-data", "00", "--tdx", "--mrenclave", strings.Repeat("00", 32))},
		{"mrtd without tdx", append(base, "--report-data", "00", "--mrtd", strings.Repeat("00", 48))},
		{"missing world", []string{"sim", "quote", "--dir", filepath.Join(dir, "nope"), "--report-data", "00", "--out", q}},
		{"collateral without out", []string{"sim", "collateral", "--dir", dir}},
		{"collateral missing world", []string{"sim", "collateral", "--dir", filepath.Join(dir, "nope"), "--out", q}},
		{"pcs missing world", []string{"sim", "pcs", "--dir", filepath.Join(dir, "nope"), "--listen", "127.0.0.1:0"}},
		{"pcs bad address", []string{"sim", "pcs", "--dir", dir, "--listen", "not an address"}},
		{"unknown flag", []string{"sim", "quote", "--frobnicate"}},
	}
	for _, tc := range tests {
		if code, _, stderr := simRun(t, tc.args...); code != cli.ExitBadInput || stderr == "" {
			t.Errorf("%s: exit %d (%q), want %d", tc.name, code, stderr, cli.ExitBadInput)
		}
	}
	if code, _, stderr := simRun(t, "sim", "init", "--dir", dir, "--force"); code != cli.ExitOK {
		t.Errorf("init --force: %d %s", code, stderr)
	}
}

func TestSimPCSServesUntilCancelled(t *testing.T) {
	dir := simInitWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr simtest.LogBuffer
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"sim", "pcs", "--dir", dir, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &stderr)
	}()
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if line, ok := strings.CutSuffix(stdout.String(), "\n"); ok {
			base = line
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/sgx/certification/v4") {
		t.Fatalf("base URL %q (stderr %q)", base, stderr.String())
	}
	for _, url := range []string{base + "/qe/identity", strings.Replace(base, "/sgx/", "/tdx/", 1) + "/qe/identity"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if _, err := pcs.ParseQEIdentity(body); resp.StatusCode != http.StatusOK || err != nil {
			t.Errorf("%s: %d %v", url, resp.StatusCode, err)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != cli.ExitOK {
			t.Errorf("exit %d after cancel; stderr %q", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim pcs did not stop after cancel")
	}
	if !strings.Contains(stderr.String(), "WARNING: SIMULATED") {
		t.Errorf("no warning on stderr: %q", stderr.String())
	}
}
