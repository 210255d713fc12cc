package cli_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
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
	"github.com/secretprov/secretprov/sim"
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
		{"pcs unknown dialect", []string{"sim", "pcs", "--dir", dir, "--listen", "127.0.0.1:0", "--dialect", "intel,gcp"}},
		{"pcs empty dialect", []string{"sim", "pcs", "--dir", dir, "--listen", "127.0.0.1:0", "--dialect", ""}},
		{"collateral unknown update", []string{"sim", "collateral", "--dir", dir, "--out", q, "--update", "late"}},
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

// simPCS runs "sim pcs --dir DIR --listen 127.0.0.1:0" with extra flags until stop, which
// checks that it exits cleanly; it returns the printed base URL.
func simPCS(t *testing.T, dir string, extra ...string) (base string, stderr *simtest.LogBuffer, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout simtest.LogBuffer
	stderr = &simtest.LogBuffer{}
	done := make(chan int, 1)
	args := append([]string{"sim", "pcs", "--dir", dir, "--listen", "127.0.0.1:0"}, extra...)
	go func() { done <- cli.Main(ctx, args, strings.NewReader(""), &stdout, stderr) }()
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if line, ok := strings.CutSuffix(stdout.String(), "\n"); ok {
			base = line
		}
	}
	stop = func() {
		t.Helper()
		cancel()
		select {
		case code := <-done:
			if code != cli.ExitOK {
				t.Errorf("sim pcs: exit %d after cancel; stderr %q", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("sim pcs did not stop after cancel")
		}
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/sgx/certification/v4") {
		stop()
		t.Fatalf("base URL %q (stderr %q)", base, stderr.String())
	}
	return base, stderr, stop
}

// simGet fetches url and returns the status, headers and body.
func simGet(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

func TestSimPCSServesUntilCancelled(t *testing.T) {
	dir := simInitWorld(t)
	base, stderr, stop := simPCS(t, dir)
	for _, url := range []string{base + "/qe/identity", strings.Replace(base, "/sgx/", "/tdx/", 1) + "/qe/identity"} {
		code, _, body := simGet(t, url)
		if _, err := pcs.ParseQEIdentity(body); code != http.StatusOK || err != nil {
			t.Errorf("%s: %d %v", url, code, err)
		}
	}
	stop()
	if !strings.Contains(stderr.String(), "WARNING: SIMULATED") {
		t.Errorf("no warning on stderr: %q", stderr.String())
	}
}

// TestSimPCSDialects: --dialect restricts "sim pcs" to Intel's layout, Azure's global cache or
// Azure's THIM, in any combination; by default it speaks all three.
func TestSimPCSDialects(t *testing.T) {
	dir := simInitWorld(t)
	azure := "clientid=production_client&api-version=" + sim.AzureAPIVersion2020
	tests := []struct {
		name                string
		flags               []string
		intel, global, thim bool // which dialects' probes are answered
	}{
		{"default", nil, true, true, true},
		{"intel", []string{"--dialect", "intel"}, true, false, false},
		{"azure", []string{"--dialect", "azure"}, false, true, false},
		{"azure-thim", []string{"--dialect", "azure-thim"}, false, false, true},
		{"intel and thim", []string{"--dialect", "intel,azure-thim"}, true, false, true},
		{"spaces and repeats", []string{"--dialect", " azure , azure"}, false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base, _, stop := simPCS(t, dir, tc.flags...)
			defer stop()
			// Intel's QE Identity request has no Azure parameters (refused without Intel's dialect).
			code, _, _ := simGet(t, base+"/qe/identity")
			if got := code == http.StatusOK; got != tc.intel {
				t.Errorf("Intel request: %d, want served %v", code, tc.intel)
			}
			// The global cache's CRL by distribution point (refused by THIM and by Intel's layout).
			code, _, _ = simGet(t, base+"/pckcrl?uri="+url.QueryEscape(sim.RootCRLURL)+"&"+azure)
			if got := code == http.StatusOK; got != tc.global {
				t.Errorf("global cache request: %d, want served %v", code, tc.global)
			}
			// THIM's root CA CRL, with Azure's Cache-Control (Intel's PCCS path has none).
			code, h, _ := simGet(t, base+"/rootcacrl?"+azure)
			if got := code == http.StatusOK && h.Get("Cache-Control") == sim.AzureCacheControl; got != tc.thim {
				t.Errorf("THIM request: %d Cache-Control %q, want served by THIM %v", code, h.Get("Cache-Control"), tc.thim)
			}
		})
	}
}

// TestSimEarlyCollateral: "sim collateral --update early" writes the world's early TCB data
// (what "sim pcs" serves for update=early), the standard documents for a TEE without an early
// set; "sim pcs" serves the early set saved in the world directory.
func TestSimEarlyCollateral(t *testing.T) {
	dir := simInitWorld(t)
	w, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	std, err := w.TCBInfo(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEarlyTCBLevels(quote.TEESGX, sim.RecoveryLevels(std.Levels, pcs.StatusOutOfDate, "INTEL-SA-99999")); err != nil {
		t.Fatal(err)
	}
	if err := w.Save(dir); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		want    string // verdict of the UpToDate platform's quote
		wantNum int    // the TCB Info's tcbEvaluationDataNumber
	}{
		{"sgx default", nil, "UpToDate", sim.DefaultTCBEvaluationDataNumber},
		{"sgx standard", []string{"--update", "standard"}, "UpToDate", sim.DefaultTCBEvaluationDataNumber},
		{"sgx early", []string{"--update", "early"}, "OutOfDate", sim.DefaultTCBEvaluationDataNumber + 1},
		{"tdx early without an early set", []string{"--tdx", "--update", "early"}, "UpToDate", sim.DefaultTCBEvaluationDataNumber},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := filepath.Join(out, tc.name+".quote")
			c := filepath.Join(out, tc.name+".json")
			quoteArgs := []string{"sim", "quote", "--dir", dir, "--report-data", "01", "--out", q}
			collArgs := append([]string{"sim", "collateral", "--dir", dir, "--out", c}, tc.args...)
			if slices.Contains(tc.args, "--tdx") {
				quoteArgs = append(quoteArgs, "--tdx")
			}
			for _, args := range [][]string{quoteArgs, collArgs} {
				if code, _, stderr := simRun(t, args...); code != cli.ExitOK {
					t.Fatalf("%s: %d %q", args[1], code, stderr)
				}
			}
			if got := simVerifyFiles(t, q, c, dir); got != tc.want {
				t.Errorf("verified: %s, want %s", got, tc.want)
			}
			cj, err := os.ReadFile(c)
			if err != nil {
				t.Fatal(err)
			}
			b, err := pcs.ParseBundleJSON(cj)
			if err != nil {
				t.Fatal(err)
			}
			if b.TCBInfo.TCBEvaluationDataNumber != tc.wantNum || b.QEIdentity.TCBEvaluationDataNumber != tc.wantNum {
				t.Errorf("tcbEvaluationDataNumber %d / %d, want %d", b.TCBInfo.TCBEvaluationDataNumber, b.QEIdentity.TCBEvaluationDataNumber, tc.wantNum)
			}
		})
	}

	base, _, stop := simPCS(t, dir)
	defer stop()
	for update, want := range map[string]int{"standard": sim.DefaultTCBEvaluationDataNumber, "early": sim.DefaultTCBEvaluationDataNumber + 1} {
		code, _, body := simGet(t, base+"/tcb?fmspc="+std.FMSPC.String()+"&update="+update)
		ti, err := pcs.ParseTCBInfo(body)
		if code != http.StatusOK || err != nil || ti.TCBEvaluationDataNumber != want {
			t.Errorf("sim pcs update=%s: %d %v", update, code, err)
		}
	}
}

// simCollateralFile runs "sim collateral" with args and returns the parsed bundle it wrote.
func simCollateralFile(t *testing.T, file string, args ...string) *pcs.Bundle {
	t.Helper()
	args = append([]string{"sim", "collateral", "--out", file}, args...)
	if code, _, stderr := simRun(t, args...); code != cli.ExitOK {
		t.Fatalf("sim collateral %v: %d %q", args, code, stderr)
	}
	cj, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err := pcs.ParseBundleJSON(cj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSimInitEarlyRecovery: "sim init --early-recovery STATUS" saves early TCB data for SGX and
// TDX in which today's UpToDate level drops to STATUS with INTEL-SA-99999 under the next
// tcbEvaluationDataNumber, below a new UpToDate level; the standard collateral is unchanged,
// so the UpToDate platform's quote verifies UpToDate with it and STATUS with the early data.
// Without the flag (or with it empty) the early collateral is the standard one.
func TestSimInitEarlyRecovery(t *testing.T) {
	tests := []struct {
		name      string
		flags     []string
		tdx       bool
		dropTo    pcs.TCBStatus // "": no early set
		wantEarly string        // verdict of the UpToDate platform's quote with the early data
	}{
		{"sgx OutOfDate", []string{"--early-recovery", "OutOfDate"}, false, pcs.StatusOutOfDate, "OutOfDate"},
		{"tdx OutOfDate", []string{"--early-recovery", "OutOfDate"}, true, pcs.StatusOutOfDate, "OutOfDate"},
		{"sgx SWHardeningNeeded", []string{"--early-recovery", "SWHardeningNeeded"}, false, pcs.StatusSWHardeningNeeded, "SWHardeningNeeded"},
		{"tdx ConfigurationNeeded", []string{"--early-recovery", "ConfigurationNeeded"}, true, pcs.StatusConfigurationNeeded, "ConfigurationNeeded"},
		{"sgx Revoked", []string{"--early-recovery=Revoked"}, false, pcs.StatusRevoked, string(verify.ReasonTCBRevoked)},
		{"no flag", nil, false, "", "UpToDate"},
		{"empty flag", []string{"--early-recovery", ""}, true, "", "UpToDate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := filepath.Join(tmp, "world")
			if code, _, stderr := simRun(t, append([]string{"sim", "init", "--dir", dir}, tc.flags...)...); code != cli.ExitOK {
				t.Fatalf("sim init: %d %q", code, stderr)
			}
			teeArgs := []string{"--dir", dir}
			if tc.tdx {
				teeArgs = append(teeArgs, "--tdx")
			}
			q := filepath.Join(tmp, "quote")
			if code, _, stderr := simRun(t, append([]string{"sim", "quote", "--report-data", "01", "--out", q}, teeArgs...)...); code != cli.ExitOK {
				t.Fatalf("sim quote: %d %q", code, stderr)
			}
			stdFile, earlyFile := filepath.Join(tmp, "standard.json"), filepath.Join(tmp, "early.json")
			std := simCollateralFile(t, stdFile, teeArgs...)
			early := simCollateralFile(t, earlyFile, append(teeArgs, "--update", "early")...)
			if got := simVerifyFiles(t, q, stdFile, dir); got != "UpToDate" {
				t.Errorf("verified with the standard collateral: %s, want UpToDate", got)
			}
			if got := simVerifyFiles(t, q, earlyFile, dir); got != tc.wantEarly {
				t.Errorf("verified with the early collateral: %s, want %s", got, tc.wantEarly)
			}
			if std.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber {
				t.Errorf("standard tcbEvaluationDataNumber %d, want %d", std.TCBInfo.TCBEvaluationDataNumber, sim.DefaultTCBEvaluationDataNumber)
			}
			checkEarlyRecovery(t, std.TCBInfo, early, tc.dropTo)
		})
	}
}

// checkEarlyRecovery checks the early bundle against the standard TCB Info: the same documents
// without dropTo, else the next tcbEvaluationDataNumber (TCB Info and QE Identity), a new
// UpToDate level on top and the standard top level at dropTo with INTEL-SA-99999.
func checkEarlyRecovery(t *testing.T, std *pcs.TCBInfo, early *pcs.Bundle, dropTo pcs.TCBStatus) {
	t.Helper()
	if dropTo == "" {
		if !bytes.Equal(early.TCBInfo.Raw, std.Raw) {
			t.Errorf("early TCB Info differs from the standard one without --early-recovery")
		}
		return
	}
	want := sim.DefaultTCBEvaluationDataNumber + 1
	if early.TCBInfo.TCBEvaluationDataNumber != want || early.QEIdentity.TCBEvaluationDataNumber != want {
		t.Errorf("early tcbEvaluationDataNumber %d / %d, want %d", early.TCBInfo.TCBEvaluationDataNumber, early.QEIdentity.TCBEvaluationDataNumber, want)
	}
	levels := early.TCBInfo.Levels
	if len(levels) != len(std.Levels)+1 {
		t.Fatalf("early TCB Info has %d levels, want %d", len(levels), len(std.Levels)+1)
	}
	if levels[0].Status != pcs.StatusUpToDate || len(levels[0].AdvisoryIDs) != 0 {
		t.Errorf("early top level %s %v, want UpToDate without advisories", levels[0].Status, levels[0].AdvisoryIDs)
	}
	dropped := levels[1]
	if dropped.SGXComponents != std.Levels[0].SGXComponents || dropped.Status != dropTo || !slices.Contains(dropped.AdvisoryIDs, "INTEL-SA-99999") {
		t.Errorf("early second level %x %s %v, want today's top level at %s with INTEL-SA-99999",
			dropped.SGXComponents, dropped.Status, dropped.AdvisoryIDs, dropTo)
	}
}

// TestSimInitEarlyRecoveryBadInput: --early-recovery takes only a status worse than UpToDate;
// anything else exits 2 without creating the world.
func TestSimInitEarlyRecoveryBadInput(t *testing.T) {
	for _, value := range []string{"UpToDate", "Fine", "outofdate", " OutOfDate", "OutOfDate,Revoked"} {
		t.Run(value, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "world")
			code, _, stderr := simRun(t, "sim", "init", "--dir", dir, "--early-recovery", value)
			if code != cli.ExitBadInput || stderr == "" {
				t.Errorf("exit %d (%q), want %d", code, stderr, cli.ExitBadInput)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("world directory created: %v", err)
			}
		})
	}
}

// TestSimInitForceDropsEarlyData: "sim init --force" without --early-recovery replaces a world
// that had early TCB data with one whose early collateral is the standard one again.
func TestSimInitForceDropsEarlyData(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "world")
	for _, args := range [][]string{{"--early-recovery", "OutOfDate"}, {"--force"}} {
		if code, _, stderr := simRun(t, append([]string{"sim", "init", "--dir", dir}, args...)...); code != cli.ExitOK {
			t.Fatalf("sim init %v: %d %q", args, code, stderr)
		}
	}
	for _, tee := range [][]string{nil, {"--tdx"}} {
		args := append([]string{"--dir", dir, "--update", "early"}, tee...)
		b := simCollateralFile(t, filepath.Join(tmp, "early.json"), args...)
		if b.TCBInfo.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber || b.QEIdentity.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber {
			t.Errorf("%v: early tcbEvaluationDataNumber %d / %d after --force, want the standard %d", tee,
				b.TCBInfo.TCBEvaluationDataNumber, b.QEIdentity.TCBEvaluationDataNumber, sim.DefaultTCBEvaluationDataNumber)
		}
	}
}
