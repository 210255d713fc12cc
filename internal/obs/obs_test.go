package obs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestAdminHandler(t *testing.T) {
	var notReady error = errors.New("collateral for sgx/00A067110000 not loaded")
	m := NewMetrics()
	h := AdminHandler(m, func(context.Context) error { return notReady })

	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", code)
	}
	if code, body := get(t, h, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not ready") {
		t.Errorf("/readyz while not ready = %d %q, want 503", code, body)
	}
	notReady = nil
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}

	m.Provision("demo", "refused", "tcb_out_of_date")
	m.Verification(3*time.Millisecond, "sgx", "ok", "UpToDate")
	m.ConnOpened()
	m.CollateralState("tcb_info", "sgx/00A067110000", time.Unix(100, 0), time.Unix(200, 0))
	m.TCBRecoveryWarning("sgx", "UpToDate", "OutOfDate")
	m.EarlyTCBCheck("tdx", "unavailable")
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`secretprov_provisions_total{reason="tcb_out_of_date",result="refused",workload="demo"} 1`,
		`secretprov_tcb_status_total{status="UpToDate",tee="sgx"} 1`,
		`secretprov_open_connections 1`,
		`secretprov_collateral_next_update_timestamp_seconds{item="tcb_info",key="sgx/00A067110000"} 200`,
		`secretprov_verification_duration_seconds_count{result="ok",tee="sgx"} 1`,
		`secretprov_tcb_recovery_warnings_total{early_status="OutOfDate",status="UpToDate",tee="sgx"} 1`,
		`secretprov_tcb_early_checks_total{result="unavailable",tee="tdx"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, h, "/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d, want 404", code)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Provision("w", "granted", "")
	m.Verification(time.Millisecond, "sgx", "ok", "UpToDate")
	m.ConnOpened()
	m.ConnClosed()
	m.ConnRejected("limit")
	m.CollateralFetch("tcb_info", "ok")
	m.CollateralState("tcb_info", "k", time.Now(), time.Now())
	m.Reload("secrets", "ok")
	m.TCBRecoveryWarning("sgx", "UpToDate", "OutOfDate")
	m.EarlyTCBCheck("sgx", "worse")
	if _, body := get(t, AdminHandler(m, nil), "/metrics"); strings.Contains(body, "secretprov_") {
		t.Errorf("nil metrics exported secretprov series: %q", body)
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		level, format string
		wantErr       bool
		wantJSON      bool
	}{
		{"info", "json", false, true},
		{"debug", "text", false, false},
		{"warn", "", false, true},
		{"loud", "json", true, false},
		{"info", "xml", true, false},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		l, err := NewLogger(&buf, tc.level, tc.format)
		if (err != nil) != tc.wantErr {
			t.Errorf("NewLogger(%q, %q) error = %v, wantErr %v", tc.level, tc.format, err, tc.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		l.Warn("hello", KeyWorkload, "demo")
		if got := strings.HasPrefix(buf.String(), "{"); got != tc.wantJSON {
			t.Errorf("NewLogger(%q, %q) wrote %q, want JSON %v", tc.level, tc.format, buf.String(), tc.wantJSON)
		}
	}
}
