package cli

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// earlyRecoveryBody is a PCS body of w's SGX TCB Info as Intel's early data announces a TCB
// recovery: a new top level is UpToDate and today's UpToDate level becomes OutOfDate. It is
// signed by w's TCB Signing key.
func earlyRecoveryBody(t *testing.T, w *sim.World) []byte {
	t.Helper()
	cur, err := w.TCBInfo(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	ti := *cur
	ti.TCBEvaluationDataNumber++
	ti.Levels = slices.Clone(ti.Levels)
	next := ti.Levels[0]
	next.SGXComponents[0]++
	next.SGXComponents[1]++
	ti.Levels[0].Status = pcs.StatusOutOfDate
	ti.Levels = slices.Insert(ti.Levels, 0, next)
	raw, err := sim.MarshalTCBInfo(&ti)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := w.SignDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := pcs.ParseTCBInfoRaw(raw, hex.EncodeToString(sig[:]))
	if err != nil {
		t.Fatal(err)
	}
	return sim.TCBInfoBody(signed)
}

// earlyPCSServer serves w like sim.PCSHandler, except for update=early TCB Info requests:
// early (nil: the standard document, as the simulator serves it) or, with status set, that
// HTTP status for every update=early request.
func earlyPCSServer(t *testing.T, w *sim.World, early []byte, status int) *httptest.Server {
	t.Helper()
	signer, err := w.Certificate(sim.RoleTCBSigning)
	if err != nil {
		t.Fatal(err)
	}
	chain := sim.IssuerChainHeader([]*x509.Certificate{signer, w.Root()})
	h := sim.PCSHandler(w)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		isEarly := r.URL.Query().Get("update") == "early"
		switch {
		case isEarly && status != 0:
			http.Error(rw, "no early data", status)
		case isEarly && early != nil && strings.HasSuffix(r.URL.Path, "/tcb"):
			rw.Header().Set(sim.HeaderTCBInfoIssuerChain, chain)
			_, _ = rw.Write(early)
		default:
			h.ServeHTTP(rw, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestServerEarlyWarning runs "secretprov server" with verifier.early_warning against a
// simulated PCS. The first provisioning of a platform finds no early TCB data cached and is not
// delayed by it; the server fetches it in the background, and the next provisioning of a
// platform that drops under it is granted, counted and logged as a TCB recovery warning. A
// platform equal under both data sets, or a PCS without early data, gives no warning, and
// readiness never waits for early data.
func TestServerEarlyWarning(t *testing.T) {
	tests := []struct {
		name        string
		early       func(*testing.T, *sim.World) []byte // the early TCB Info body; nil: the standard one
		status      int                                 // HTTP status of update=early answers; 0: served
		fetched     string                              // the outcome of the background fetches of early TCB Info and QE Identity
		wantCheck   string                              // result of the second provisioning's early check
		wantWarning bool
	}{
		{"drops to OutOfDate", earlyRecoveryBody, 0, `outcome="ok"} 2`, "worse", true},
		{"same under both", nil, 0, `outcome="ok"} 2`, "not_worse", false},
		{"early data unavailable", nil, http.StatusNotFound, `outcome="error"} 1`, "unavailable", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newSrvFixture(t)
			var early []byte
			if tc.early != nil {
				early = tc.early(t, fx.world)
			}
			pcsSrv := earlyPCSServer(t, fx.world, early, tc.status)
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
