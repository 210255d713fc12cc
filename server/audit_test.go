package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func sampleRecord() *AuditRecord {
	prod, svn, debug := uint16(0), uint16(3), false
	return &AuditRecord{
		Time: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), Conn: 7, Peer: "10.0.0.5:41000",
		Decision: DecisionGranted, Workload: "demo", Protocol: ProtocolNamed,
		Secrets: []SecretRecord{
			{Name: "db", Source: "db-password", Version: "0123456789abcdef", Status: SecretReleased},
			{Name: "admin", Status: SecretNotGranted},
		},
		TEE: "sgx", MREnclave: "aa", MRSigner: "bb", ISVProdID: &prod, ISVSVN: &svn, Debug: &debug,
		TCBStatus: "SWHardeningNeeded", AdvisoryIDs: []string{"INTEL-SA-00615"}, FMSPC: "00A051A10000",
		Binding: "tcg", Accepted: []string{"tcb_status=SWHardeningNeeded"}, TLSVersion: "TLS 1.3", DurationMS: 4,
	}
}

func TestJSONAudit(t *testing.T) {
	var buf bytes.Buffer
	a := NewJSONAudit(&buf)
	if err := a.Audit(context.Background(), sampleRecord()); err != nil {
		t.Fatal(err)
	}
	if err := a.Audit(context.Background(), &AuditRecord{Decision: DecisionRefused, Reason: "identity_mismatch"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"audit":true,"time":"2026-05-01T12:00:00Z","conn":7,`) {
		t.Fatalf("output:\n%s", buf.String())
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"decision": "granted", "workload": "demo", "protocol": "named", "tcb_status": "SWHardeningNeeded",
		"fmspc": "00A051A10000", "isv_prod_id": 0.0, "isv_svn": 3.0, "collateral_expired": false, "binding": "tcg",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if s := m["secrets"].([]any)[0].(map[string]any); s["version"] != "0123456789abcdef" || s["status"] != "released" {
		t.Errorf("secrets[0] = %v", s)
	}
	if !strings.Contains(lines[1], `"reason":"identity_mismatch"`) {
		t.Errorf("refusal line %s", lines[1])
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestJSONAuditWriteError(t *testing.T) {
	if err := NewJSONAudit(failWriter{}).Audit(context.Background(), sampleRecord()); err == nil {
		t.Error("write error not reported")
	}
}

func TestSlogAudit(t *testing.T) {
	var buf bytes.Buffer
	a := NewSlogAudit(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := a.Audit(context.Background(), sampleRecord()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	if m["audit"] != true || m["msg"] != "audit" || m["decision"] != "granted" || m["mrenclave"] != "aa" || m["isv_svn"] != 3.0 {
		t.Errorf("slog record: %s", buf.String())
	}
	if strings.Count(buf.String(), `"time"`) != 1 {
		t.Errorf("duplicate time key: %s", buf.String())
	}
	if err := NewSlogAudit(nil).Audit(context.Background(), sampleRecord()); err != nil {
		t.Error(err)
	}
}
