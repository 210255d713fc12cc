package cli

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// earlyRecovery gives w's SGX platforms early TCB data announcing a TCB recovery: a new top
// level is UpToDate and today's UpToDate level becomes OutOfDate (sim.RecoveryLevels).
func earlyRecovery(t *testing.T, w *sim.World) {
	t.Helper()
	std, err := w.TCBInfo(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.SetEarlyTCBLevels(quote.TEESGX, sim.RecoveryLevels(std.Levels, pcs.StatusOutOfDate)); err != nil {
		t.Fatal(err)
	}
}

// TestServerEarlyWarning runs "secretprov server" with verifier.early_warning against a
// simulated PCS. The first provisioning of a platform finds no early TCB data cached and is not
// delayed by it; the server fetches it in the background, and the next provisioning of a
// platform that drops under it is granted, counted and logged as a TCB recovery warning. A
// platform equal under both data sets, or a PCS without early data, gives no warning, and
// readiness never waits for early data.
func TestServerEarlyWarning(t *testing.T) {
	tests := []struct {
		name         string
		recovery     bool   // the simulated Intel's early data announces a recovery; else it has no early set (update=early serves the standard documents)
		withoutEarly bool   // the PCS has no early data (sim.WithoutEarlyData: 404 for update=early)
		fetched      string // the outcome of the background fetches of early TCB Info and QE Identity
		wantCheck    string // result of the second provisioning's early check
		wantWarning  bool
	}{
		{"drops to OutOfDate", true, false, `outcome="ok"} 2`, "worse", true},
		{"same under both", false, false, `outcome="ok"} 2`, "not_worse", false},
		{"early data unavailable", true, true, `outcome="error"} 1`, "unavailable", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newSrvFixture(t)
			if tc.recovery {
				earlyRecovery(t, fx.world)
			}
			var opts []sim.PCSOption
			if tc.withoutEarly {
				opts = append(opts, sim.WithoutEarlyData())
			}
			pcsSrv := simtest.PCS(t, fx.world, opts...)
			verifier := "  pcs_url: " + pcsSrv.URL + sim.SGXBasePath + "\n  pcs_kind: pccs\n  early_warning: true"
			cfg := fx.config(t, verifier, "{default: demo-secret}", srvSecrets)
			var out srvLog
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int, 1)
			go func() {
				done <- Main(ctx, []string{"server", "--config", cfg}, strings.NewReader(""), &out, &out)
			}()
			addr, admin := out.addrs(t)
			metrics := "http://" + admin + "/metrics"

			srvExpect(t, addr, fx, srvSecretA)
			waitMetric(t, metrics, `secretprov_tcb_early_checks_total{result="unavailable",tee="sgx"} 1`)
			for _, item := range []string{"tcb_info", "qe_identity"} { // the standard one, then the early one
				waitMetric(t, metrics, `secretprov_collateral_fetches_total{item="`+item+`",`+tc.fetched)
			}

			srvExpect(t, addr, fx, srvSecretA)
			want := `secretprov_tcb_early_checks_total{result="` + tc.wantCheck + `",tee="sgx"} 1`
			if tc.wantCheck == "unavailable" {
				want = `secretprov_tcb_early_checks_total{result="unavailable",tee="sgx"} 2`
			}
			_, body := waitMetric(t, metrics, want)
			warningSeries := `secretprov_tcb_recovery_warnings_total{early_status="OutOfDate",status="UpToDate",tee="sgx"} 1`
			if got := strings.Contains(body, warningSeries); got != tc.wantWarning {
				t.Errorf("/metrics has %s: %v, want %v", warningSeries, got, tc.wantWarning)
			}
			if code, body := srvGet(t, "http://"+admin+"/readyz"); code != http.StatusOK {
				t.Errorf("/readyz: %d %s", code, body)
			}
			cancel()
			if code := <-done; code != ExitOK {
				t.Errorf("exit %d", code)
			}
			checkWarningLines(t, &out, fx, tc.wantWarning)
			for _, m := range out.Objects() {
				if m["level"] == "WARN" && m["msg"] == "collateral" {
					t.Errorf("early TCB data failure logged as a warning: %v", m)
				}
			}
			srvNoSecrets(t, "the server's output", out.String())
		})
	}
}

// checkWarningLines checks the server's TCB recovery warnings: one naming the workload,
// platform and both statuses, or none.
func checkWarningLines(t *testing.T, out *srvLog, fx *srvFixture, want bool) {
	t.Helper()
	var warnings []map[string]any
	for _, m := range out.Objects() {
		if _, ok := m["early_tcb_status"]; ok {
			warnings = append(warnings, m)
		}
	}
	if !want {
		if len(warnings) != 0 {
			t.Errorf("warnings %v, want none", warnings)
		}
		return
	}
	if len(warnings) != 1 {
		t.Fatalf("warnings %v, want one", warnings)
	}
	fmspc := simtest.Platform(t, fx.world, quote.TEESGX, pcs.StatusUpToDate).Key().FMSPC.String()
	for k, v := range map[string]string{"level": "WARN", "workload": "demo", "tee": "sgx", "fmspc": fmspc,
		"tcb_status": "UpToDate", "early_tcb_status": "OutOfDate"} {
		if warnings[0][k] != v {
			t.Errorf("warning %s = %v, want %q", k, warnings[0][k], v)
		}
	}
}

// waitMetric polls /metrics until it contains want, for at most 20 seconds, and returns it.
func waitMetric(t *testing.T, url, want string) (int, string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := srvGet(t, url)
		if strings.Contains(body, want) {
			return code, body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics never had %s:\n%s", want, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
