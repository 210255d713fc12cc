package sim_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// earlyWorld is a fresh world whose SGX TCB Info has an early set announcing a recovery that
// drops today's UpToDate level to OutOfDate with INTEL-SA-99999; TDX has no early set.
func earlyWorld(t *testing.T) *sim.World {
	t.Helper()
	w := newWorld(t, sim.Options{Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	std, err := w.TCBInfo(quote.TEESGX)
	must(t, err)
	must(t, w.SetEarlyTCBLevels(quote.TEESGX, sim.RecoveryLevels(std.Levels, pcs.StatusOutOfDate, "INTEL-SA-99999")))
	return w
}

var _ verify.CollateralSource = sim.EarlySource{}

// TestPCSEarlyDocuments: update=early (and the early tcbEvaluationDataNumber) is answered with
// the early set in every dialect, everything else with the standard documents; a TEE without
// an early set answers update=early with its standard documents.
func TestPCSEarlyDocuments(t *testing.T) {
	w := earlyWorld(t)
	srv, f := newPCS(t, w)
	signer, err := w.Certificate(sim.RoleTCBSigning)
	must(t, err)
	azure := func(extra ...string) string { return azureQuery(sim.AzureAPIVersion2020, extra...)[1:] }
	tests := []struct {
		name      string
		tee       quote.TEE
		query     string // besides fmspc= for tcb
		wantEarly bool   // the early set's documents; else the standard ones
		wantN     int    // their tcbEvaluationDataNumber
	}{
		{"intel default", quote.TEESGX, "", false, 19},
		{"intel standard", quote.TEESGX, "update=standard", false, 19},
		{"intel early", quote.TEESGX, "update=early", true, 20},
		{"intel standard number", quote.TEESGX, "tcbEvaluationDataNumber=19", false, 19},
		{"intel early number", quote.TEESGX, "tcbEvaluationDataNumber=20", true, 20},
		{"azure standard", quote.TEESGX, azure(), false, 19},
		{"azure early", quote.TEESGX, azure("update", "early"), true, 20},
		{"thim tdx early without an early set", quote.TEETDX, azure("update", "early"), false, 19},
		{"intel tdx early without an early set", quote.TEETDX, "update=early", false, 19},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := map[quote.TEE]string{quote.TEESGX: sim.SGXBasePath, quote.TEETDX: sim.TDXBasePath}[tc.tee]
			tcbOf, qeOf := w.TCBInfo, w.QEIdentity
			if tc.wantEarly {
				tcbOf, qeOf = w.EarlyTCBInfo, w.EarlyQEIdentity
			}
			wantTCB, err := tcbOf(tc.tee)
			must(t, err)
			wantQE, err := qeOf(tc.tee)
			must(t, err)
			f.ResetCounters()
			r := get(t, srv, base+"/tcb?fmspc="+wantTCB.FMSPC.String()+"&"+tc.query)
			if r.status != http.StatusOK {
				t.Fatalf("tcb: %d %v", r.status, r.header)
			}
			ti, err := pcs.ParseTCBInfo(r.body)
			if err != nil || ti.CheckSignature(signer) != nil || !bytes.Equal(ti.Raw, wantTCB.Raw) || ti.TCBEvaluationDataNumber != tc.wantN {
				t.Errorf("tcb: %v; number %d, want %d; the expected document: %v", err, ti.TCBEvaluationDataNumber, tc.wantN, bytes.Equal(ti.Raw, wantTCB.Raw))
			}
			if slices.Contains([]string{"tcbEvaluationDataNumber=19", "tcbEvaluationDataNumber=20"}, tc.query) {
				return // qe/identity takes no evaluation data number
			}
			r = get(t, srv, base+"/qe/identity?"+tc.query)
			qe, err := pcs.ParseQEIdentity(r.body)
			if r.status != http.StatusOK || err != nil || qe.CheckSignature(signer) != nil || !bytes.Equal(qe.Raw, wantQE.Raw) || qe.TCBEvaluationDataNumber != tc.wantN {
				t.Errorf("qe/identity: %d %v, number %d, want %d", r.status, err, qe.TCBEvaluationDataNumber, tc.wantN)
			}
			wantEarlyRequests := 0
			if q, _ := url.ParseQuery(tc.query); q.Get("update") == "early" {
				wantEarlyRequests = 1
			}
			if got := f.EarlyRequests(base + "/tcb"); got != wantEarlyRequests {
				t.Errorf("EarlyRequests(tcb) = %d, want %d", got, wantEarlyRequests)
			}
			if got := f.EarlyRequests(base + "/qe/identity"); got != wantEarlyRequests {
				t.Errorf("EarlyRequests(qe/identity) = %d, want %d", got, wantEarlyRequests)
			}
		})
	}
}

// TestPCSWithoutEarlyData: a service without early data answers update=early (and the early
// evaluation data number) with 404 in every dialect, and the standard documents as usual.
func TestPCSWithoutEarlyData(t *testing.T) {
	w := earlyWorld(t)
	srv, _ := newPCS(t, w, sim.WithoutEarlyData())
	fmspc := "fmspc=" + sim.DefaultSGXFMSPC.String()
	azure := azureQuery(sim.AzureAPIVersion2018, "update", "early")
	tests := []struct {
		path   string
		status int
	}{
		{sim.SGXBasePath + "/tcb?" + fmspc + "&update=early", http.StatusNotFound},
		{sim.SGXBasePath + "/tcb?" + fmspc + "&tcbEvaluationDataNumber=20", http.StatusNotFound},
		{sim.SGXBasePath + "/qe/identity?update=early", http.StatusNotFound},
		{sim.TDXBasePath + "/qe/identity?update=early", http.StatusNotFound},
		{sim.SGXBasePath + "/tcb" + azure + "&" + fmspc, http.StatusNotFound},
		{sim.SGXBasePath + "/qe/identity" + azure, http.StatusNotFound},
		{sim.SGXBasePath + "/tcb?" + fmspc + "&update=standard", http.StatusOK},
		{sim.SGXBasePath + "/tcb?" + fmspc + "&tcbEvaluationDataNumber=19", http.StatusOK},
		{sim.SGXBasePath + "/qe/identity", http.StatusOK},
	}
	for _, tc := range tests {
		r := get(t, srv, tc.path)
		if r.status != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, r.status, tc.status)
			continue
		}
		if tc.status == http.StatusNotFound && r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeNotFound {
			t.Errorf("%s: Error-Code %q", tc.path, r.header.Get(sim.HeaderErrorCode))
		}
		if tc.status == http.StatusOK && bytes.Contains(r.body, []byte(`"tcbEvaluationDataNumber":20`)) {
			t.Errorf("%s: early document served", tc.path)
		}
	}
}

// TestEarlyVerdicts: under the early bundle a recovery's dropped platform gets the new status
// and advisory, the others keep theirs; the standard bundle is unchanged; EarlySource picks the
// bundle by key and, when unavailable, fails as a source without the data.
func TestEarlyVerdicts(t *testing.T) {
	w := earlyWorld(t)
	tests := []struct {
		status       pcs.TCBStatus // the platform's (standard) status
		wantEarly    string        // verdict under the early data
		wantAdvisory bool          // INTEL-SA-99999 reported
	}{
		{pcs.StatusUpToDate, string(pcs.StatusOutOfDate), true},
		{pcs.StatusSWHardeningNeeded, string(pcs.StatusSWHardeningNeeded), false},
		{pcs.StatusOutOfDate, string(pcs.StatusOutOfDate), false},
		{pcs.StatusRevoked, string(verify.ReasonTCBRevoked), false},
	}
	for _, tc := range tests {
		t.Run(string(tc.status), func(t *testing.T) {
			p := platform(t, w, quote.TEESGX, tc.status)
			raw := quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{1})
			early, err := p.EarlyBundle()
			must(t, err)
			if got := verdict(t, raw, early, w.Root(), at(w)); got != tc.wantEarly {
				t.Errorf("early verdict %s, want %s", got, tc.wantEarly)
			}
			wantStd := string(tc.status)
			if tc.status == pcs.StatusRevoked {
				wantStd = string(verify.ReasonTCBRevoked)
			}
			if got := verdict(t, raw, bundleOf(t, p), w.Root(), at(w)); got != wantStd {
				t.Errorf("standard verdict %s, want %s", got, wantStd)
			}
			v, err := verify.New(sim.EarlySource{World: w}, verify.WithRoot(w.Root()))
			must(t, err)
			q, err := quote.Parse(raw)
			must(t, err)
			res, err := v.Verify(context.Background(), q, at(w))
			if res == nil {
				t.Fatalf("EarlySource verification: no result (%v)", err)
			}
			if got := verdictOf(res, err); got != tc.wantEarly {
				t.Errorf("EarlySource verdict %s, want %s", got, tc.wantEarly)
			}
			if got := slices.Contains(res.AdvisoryIDs, "INTEL-SA-99999"); got != tc.wantAdvisory {
				t.Errorf("advisories %v, want INTEL-SA-99999: %v", res.AdvisoryIDs, tc.wantAdvisory)
			}
			_, err = sim.EarlySource{World: w, Unavailable: true}.Collateral(context.Background(), p.Key())
			if !errors.Is(err, sim.ErrNotFound) {
				t.Errorf("unavailable EarlySource: %v, want ErrNotFound", err)
			}
		})
	}
	other := pcs.Key{TEE: quote.TEESGX, FMSPC: pcs.FMSPC{1, 2, 3, 4, 5, 6}, CA: pcs.CAProcessor}
	if _, err := (sim.EarlySource{World: w}).Collateral(context.Background(), other); !errors.Is(err, sim.ErrNotFound) {
		t.Errorf("EarlySource for an unknown FMSPC: %v, want ErrNotFound", err)
	}
}

// verdictOf is verdict for a Verifier's answer: the refusal's reason, or the status.
func verdictOf(res *verify.Result, err error) string {
	if err != nil {
		return string(verify.ReasonOf(err))
	}
	return string(res.TCBStatus)
}

// TestEarlySetLifecycle: the early set follows Reissue, persists through Save and Open, and
// removing it brings back the standard documents (and removes its files).
func TestEarlySetLifecycle(t *testing.T) {
	dir := t.TempDir()
	w, err := sim.Init(dir, sim.Options{Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
	must(t, err)
	std, err := w.TCBInfo(quote.TEETDX)
	must(t, err)
	levels := sim.RecoveryLevels(std.Levels, pcs.StatusRevoked)
	must(t, w.SetEarlyTCBLevels(quote.TEETDX, levels))
	issued := w.Now().Add(-time.Hour)
	must(t, w.Reissue(issued, 0))
	must(t, w.Save(dir))

	w2, err := sim.Open(dir)
	must(t, err)
	early, err := w2.EarlyTCBInfo(quote.TEETDX)
	must(t, err)
	earlyQE, err := w2.EarlyQEIdentity(quote.TEETDX)
	must(t, err)
	if !early.IssueDate.Equal(issued) || !earlyQE.IssueDate.Equal(issued) || early.TCBEvaluationDataNumber != std.TCBEvaluationDataNumber+1 ||
		earlyQE.TCBEvaluationDataNumber != std.TCBEvaluationDataNumber+1 || len(early.Levels) != len(levels) {
		t.Errorf("reopened early set: issued %v/%v, numbers %d/%d, %d levels", early.IssueDate, earlyQE.IssueDate,
			early.TCBEvaluationDataNumber, earlyQE.TCBEvaluationDataNumber, len(early.Levels))
	}
	if sgx, _ := w2.EarlyTCBInfo(quote.TEESGX); sgx.TCBEvaluationDataNumber != std.TCBEvaluationDataNumber {
		t.Errorf("SGX has an early set after reopening")
	}

	must(t, w2.SetEarlyTCBLevels(quote.TEETDX, nil))
	must(t, w2.Save(dir))
	if _, err := os.Stat(filepath.Join(dir, "collateral", "tcbinfo-tdx-early.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("early file after removing the set: %v", err)
	}
	w3, err := sim.Open(dir)
	must(t, err)
	for _, ww := range []*sim.World{w2, w3} {
		t3, _ := ww.TCBInfo(quote.TEETDX)
		e3, _ := ww.EarlyTCBInfo(quote.TEETDX)
		if e3 != t3 {
			t.Errorf("update=early is not the standard TCB Info after removing the set")
		}
	}
}

func TestSetEarlyTCBLevelsErrors(t *testing.T) {
	w := newWorld(t, sim.Options{})
	tests := []struct {
		name    string
		tee     quote.TEE
		levels  []pcs.TCBLevel
		wantErr error // nil: any error
	}{
		{"unknown TEE", quote.TEE(7), sim.DefaultSGXLevels(), sim.ErrNotFound},
		{"no levels", quote.TEESGX, []pcs.TCBLevel{}, nil},
	}
	for _, tc := range tests {
		err := w.SetEarlyTCBLevels(tc.tee, tc.levels)
		if err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
	}
	if e, _ := w.EarlyTCBInfo(quote.TEESGX); e.TCBEvaluationDataNumber != sim.DefaultTCBEvaluationDataNumber {
		t.Error("a failed SetEarlyTCBLevels left an early set")
	}
}

func TestRecoveryLevels(t *testing.T) {
	tests := []struct {
		name       string
		levels     []pcs.TCBLevel
		dropTo     pcs.TCBStatus
		advisories []string
	}{
		{"sgx to OutOfDate", sim.DefaultSGXLevels(), pcs.StatusOutOfDate, []string{"INTEL-SA-99999"}},
		{"tdx to Revoked", sim.DefaultTDXLevels(), pcs.StatusRevoked, nil},
		{"sgx to SWHardeningNeeded, two advisories", sim.DefaultSGXLevels(), pcs.StatusSWHardeningNeeded, []string{"INTEL-SA-1", "INTEL-SA-2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := fmt.Sprint(tc.levels)
			got := sim.RecoveryLevels(tc.levels, tc.dropTo, tc.advisories...)
			if fmt.Sprint(tc.levels) != before {
				t.Fatal("RecoveryLevels modified its input")
			}
			if len(got) != len(tc.levels)+1 {
				t.Fatalf("%d levels, want %d", len(got), len(tc.levels)+1)
			}
			top, old := got[0], tc.levels[0]
			if top.Status != pcs.StatusUpToDate || len(top.AdvisoryIDs) != 0 || top.SGXComponents[0] != old.SGXComponents[0]+1 ||
				top.SGXComponents[1] != old.SGXComponents[1]+1 || top.PCESVN != old.PCESVN || top.TDXComponents != old.TDXComponents {
				t.Errorf("new top level %+v", top)
			}
			wantIDs := append(slices.Clone(old.AdvisoryIDs), tc.advisories...)
			if got[1].Status != tc.dropTo || got[1].SGXComponents != old.SGXComponents || !slices.Equal(got[1].AdvisoryIDs, wantIDs) {
				t.Errorf("dropped level %+v, want status %s, advisories %v", got[1], tc.dropTo, wantIDs)
			}
			if fmt.Sprint(got[2:]) != fmt.Sprint(tc.levels[1:]) {
				t.Error("the other levels changed")
			}
		})
	}
	if got := sim.RecoveryLevels(nil, pcs.StatusOutOfDate); len(got) != 0 {
		t.Errorf("RecoveryLevels(nil) = %v", got)
	}
}

// The simulated Intel announces a TCB recovery in its early TCB data: the platforms that are
// UpToDate today drop to OutOfDate under it, while the standard data still says UpToDate.
func ExampleWorld_SetEarlyTCBLevels() {
	w, err := sim.New(sim.Options{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	levels := sim.RecoveryLevels(sim.DefaultSGXLevels(), pcs.StatusOutOfDate, "INTEL-SA-99999")
	if err := w.SetEarlyTCBLevels(quote.TEESGX, levels); err != nil {
		panic(err)
	}
	p, err := w.Platform(quote.TEESGX, pcs.StatusUpToDate)
	if err != nil {
		panic(err)
	}
	raw, err := p.Enclave(sim.DefaultIdentity()).Quote(context.Background(), [64]byte{})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, bundle := range []func() (*pcs.Bundle, error){p.Bundle, p.EarlyBundle} {
		b, err := bundle()
		if err != nil {
			panic(err)
		}
		res, err := verify.Quote(raw, b, at, verify.WithRoot(w.Root()))
		fmt.Println(b.TCBInfo.TCBEvaluationDataNumber, res.TCBStatus, res.AdvisoryIDs, err)
	}
	// Output:
	// 19 UpToDate [] <nil>
	// 20 OutOfDate [INTEL-SA-99999] <nil>
}
