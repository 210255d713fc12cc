package verify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// verdict is the part of a Result the vectors README states.
type vectorVerdict struct {
	Status     pcs.TCBStatus
	Advisories []string
	Expired    bool
	TEE        string
	Version    int
	FMSPC      string
}

func verdictOf(r *Result) vectorVerdict {
	return vectorVerdict{r.TCBStatus, r.AdvisoryIDs, r.CollateralExpired, r.TEE, r.QuoteVersion, r.FMSPC}
}

// TestVectors reproduces every verdict of the vectors README, through the cold path and a warm
// Verifier, including the boundary times.
func TestVectors(t *testing.T) {
	sgx := func(status pcs.TCBStatus, expired bool) vectorVerdict {
		return vectorVerdict{status, []string{"INTEL-SA-00289", "INTEL-SA-00615"}, expired, "sgx", 3, "00A067110000"}
	}
	none := []string{}
	tests := []struct {
		name, quote, coll, at string
		opts                  []Option
		reason                Reason
		want                  vectorVerdict
	}{
		{"V1 sgx", sgxQuote, sgxCollateral, v1At, nil, "", sgx("ConfigurationAndSWHardeningNeeded", false)},
		{"V1 repo time", sgxQuote, sgxCollateral, "2025-07-19T10:01:17Z", nil, "", sgx("ConfigurationAndSWHardeningNeeded", false)},
		{"V1 window start", sgxQuote, sgxCollateral, "2025-06-19T10:56:11Z", nil, "", sgx("ConfigurationAndSWHardeningNeeded", false)},
		{"V1 window end", sgxQuote, sgxCollateral, "2025-07-19T10:01:18Z", nil, "", sgx("ConfigurationAndSWHardeningNeeded", false)},
		{"V1 qe identity expired", sgxQuote, sgxCollateral, "2025-07-19T10:01:19Z", nil, ReasonCollateralExpired, sgx("ConfigurationAndSWHardeningNeeded", true)},
		{"V1 tcb info not yet issued", sgxQuote, sgxCollateral, "2025-06-19T10:56:10Z", nil, ReasonCollateralExpired, sgx("ConfigurationAndSWHardeningNeeded", true)},
		{"V1 expired allowed", sgxQuote, sgxCollateral, "2025-07-19T10:01:19Z", []Option{WithExpiredCollateralAllowed()}, "", sgx("ConfigurationAndSWHardeningNeeded", true)},
		{"V2 tdx v4", tdxQuote, tdxCollateral, v2At, nil, "", vectorVerdict{"UpToDate", none, false, "tdx", 4, "B0C06F000000"}},
		{"V2 expired", tdxQuote, tdxCollateral, "2025-07-19T10:00:36Z", nil, ReasonCollateralExpired, vectorVerdict{"UpToDate", none, true, "tdx", 4, "B0C06F000000"}},
		{"V3 tdx v5 no level", tdxOutdated, tdxOutdatedColl, v3At, nil, ReasonTCBNotSupported, vectorVerdict{"", none, false, "tdx", 5, "90C06F000000"}},
		{"V4 tdx-quote.hex", tdxHex, tdxCollateral, v2At, nil, ReasonTCBNotSupported, vectorVerdict{"", none, false, "tdx", 4, "B0C06F000000"}},
		{"V4 quote-from-tappd.hex", tappdHex, tdxCollateral, v2At, nil, ReasonTCBNotSupported, vectorVerdict{"", none, false, "tdx", 4, "B0C06F000000"}},
		{"V5 go-tdx-guest", goTDXQuote, goTDXCollateral, v5At, nil, ReasonTCBNotSupported, vectorVerdict{"", none, false, "tdx", 4, "50806F000000"}},
		{"V5 in 2053", goTDXQuote, goTDXCollateral, "2053-07-01T00:00:00Z", nil, ReasonTCBNotSupported, vectorVerdict{"", none, true, "tdx", 4, "50806F000000"}},
		{"V6 tdx v5 cross-source", goTDXQuoteV5, tdxOutdatedColl, v3At, nil, "", vectorVerdict{"UpToDate", none, false, "tdx", 5, "90C06F000000"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, b, at := readQuote(t, tc.quote), loadBundle(t, tc.coll), mustTime(t, tc.at)
			cold, err := Quote(raw, b, at, tc.opts...)
			wantReason(t, err, tc.reason)
			if diff := cmp.Diff(tc.want, verdictOf(cold)); diff != "" {
				t.Errorf("cold verdict (-want +got):\n%s", diff)
			}
			hot, err := warm(t, parseQuote(t, raw), b, at, tc.opts...)
			wantReason(t, err, tc.reason)
			if diff := cmp.Diff(cold, hot); diff != "" {
				t.Errorf("warm result differs from cold (-cold +warm):\n%s", diff)
			}
		})
	}
}

// TestVectorDetails checks the statuses and dates behind two verdicts (vectors README V1, V2).
func TestVectorDetails(t *testing.T) {
	r, err := Quote(readQuote(t, sgxQuote), loadBundle(t, sgxCollateral), mustTime(t, v1At))
	wantReason(t, err, "")
	got := []any{r.PlatformStatus, r.QEStatus, r.ModuleStatus, r.TCBDate, r.EarliestExpiry, r.TCBEvalDataNumber}
	want := []any{pcs.TCBStatus("ConfigurationAndSWHardeningNeeded"), pcs.TCBStatus("UpToDate"), pcs.TCBStatus(""),
		mustTime(t, "2024-03-13T00:00:00Z"), mustTime(t, "2025-07-19T10:01:18Z"), 17}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("V1 details (-want +got):\n%s", diff)
	}
	r, err = Quote(readQuote(t, tdxQuote), loadBundle(t, tdxCollateral), mustTime(t, v2At))
	wantReason(t, err, "")
	got = []any{r.PlatformStatus, r.QEStatus, r.ModuleStatus, r.TCBDate, r.EarliestExpiry, r.TDRelaunchAdvised}
	want = []any{pcs.TCBStatus("UpToDate"), pcs.TCBStatus("UpToDate"), pcs.TCBStatus("UpToDate"),
		mustTime(t, "2024-03-13T00:00:00Z"), mustTime(t, "2025-07-19T10:00:35Z"), false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("V2 details (-want +got):\n%s", diff)
	}
}

// TestResultJSON pins the CLI's JSON contract on V1 and V2: field names and encodings.
func TestResultJSON(t *testing.T) {
	tests := []struct {
		name, quote, coll, at string
		want                  map[string]any
	}{
		{"sgx", sgxQuote, sgxCollateral, v1At, map[string]any{
			"tee": "sgx", "quote_version": 3.0, "tcb_status": "ConfigurationAndSWHardeningNeeded",
			"advisory_ids": []any{"INTEL-SA-00289", "INTEL-SA-00615"}, "collateral_expired": false,
			"fmspc": "00A067110000", "tcb_date": "2024-03-13T00:00:00Z", "earliest_expiry": "2025-07-19T10:01:18Z",
			"tcb_eval_data_number": 17.0,
			"mrenclave":            "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
			"mrsigner":             "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
			"isv_prod_id":          0.0, "isv_svn": 0.0, "debug": false, "attributes": "0500000000000000e700000000000000",
			"report_data":     hex.EncodeToString(append([]byte("Hello, world!"), make([]byte, 51)...)),
			"platform_status": "ConfigurationAndSWHardeningNeeded", "qe_status": "UpToDate",
		}},
		{"tdx", tdxQuote, tdxCollateral, v2At, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Quote(readQuote(t, tc.quote), loadBundle(t, tc.coll), mustTime(t, tc.at))
			wantReason(t, err, "")
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("JSON (-want +got):\n%s", diff)
				}
				return
			}
			if got["mrtd"] != "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7" {
				t.Errorf("mrtd = %v", got["mrtd"])
			}
			rtmrs, _ := got["rtmrs"].([]any)
			if len(rtmrs) != 4 || rtmrs[3] != hex.EncodeToString(make([]byte, 48)) {
				t.Errorf("rtmrs = %v, want 4 entries with RTMR3 zero", got["rtmrs"])
			}
			for _, k := range []string{"mrenclave", "mrsigner", "isv_prod_id", "isv_svn"} {
				if _, ok := got[k]; ok {
					t.Errorf("TDX result has SGX field %q", k)
				}
			}
			if got["td_attributes"] != "0000001000000000" || got["debug"] != false || got["advisory_ids"] == nil {
				t.Errorf("td_attributes/debug/advisory_ids = %v/%v/%v", got["td_attributes"], got["debug"], got["advisory_ids"])
			}
		})
	}
}

// TestPartialResult checks that a refusal after parsing still reports the quote's identity.
func TestPartialResult(t *testing.T) {
	raw := readQuote(t, sgxQuote)
	r, err := Quote(raw, loadBundle(t, tdxCollateral), mustTime(t, v1At))
	wantReason(t, err, ReasonCollateralMismatch)
	if r == nil || r.MREnclave == nil || r.SGX == nil || r.FMSPC != "00A067110000" || r.TCBStatus != "" {
		t.Fatalf("partial result = %+v", r)
	}
	r, err = Quote(raw[:100], loadBundle(t, sgxCollateral), mustTime(t, v1At))
	wantReason(t, err, ReasonQuoteMalformed)
	if r != nil {
		t.Fatalf("result for an unparsable quote: %+v", r)
	}
}

// TestCallerErrors covers inputs that are mistakes of the caller, not refusals.
func TestCallerErrors(t *testing.T) {
	b := loadBundle(t, sgxCollateral)
	raw := readQuote(t, sgxQuote)
	v, err := New(Static(b))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		run  func() (*Result, error)
	}{
		{"zero time cold", func() (*Result, error) { return Quote(raw, b, time.Time{}) }},
		{"zero time warm", func() (*Result, error) { return v.Verify(context.Background(), parseQuote(t, raw), time.Time{}) }},
		{"nil quote", func() (*Result, error) { return v.Verify(context.Background(), nil, mustTime(t, v1At)) }},
		{"nil root", func() (*Result, error) { return Quote(raw, b, mustTime(t, v1At), WithRoot(nil)) }},
		{"negative cache", func() (*Result, error) { return Quote(raw, b, mustTime(t, v1At), WithCacheSize(-1, 0)) }},
		{"nil option", func() (*Result, error) { return Quote(raw, b, mustTime(t, v1At), nil) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := tc.run()
			if err == nil || r != nil || ReasonOf(err) != "" {
				t.Fatalf("got (%v, %v), want a caller error without reason", r, err)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

// TestCollateralSource covers the source boundary: failures, nil bundles, and *pcs.Bundle as a
// key-checking source.
func TestCollateralSource(t *testing.T) {
	sgxB, tdxB := loadBundle(t, sgxCollateral), loadBundle(t, tdxCollateral)
	q := parseQuote(t, readQuote(t, sgxQuote))
	at := mustTime(t, v1At)
	tests := []struct {
		name   string
		src    CollateralSource
		reason Reason
	}{
		{"bundle serves itself", sgxB, ""},
		{"bundle for another platform", tdxB, ReasonCollateralMismatch},
		{"source error", sourceFunc(func(pcs.Key) (*pcs.Bundle, error) { return nil, errors.New("pcs down") }), ReasonCollateralUnavailable},
		{"nil bundle", sourceFunc(func(pcs.Key) (*pcs.Bundle, error) { return nil, nil }), ReasonCollateralUnavailable},
		{"static nil", Static(nil), ReasonCollateralUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			r, err := v.Verify(context.Background(), q, at)
			wantReason(t, err, tc.reason)
			if r == nil {
				t.Fatal("nil Result")
			}
		})
	}
	var key pcs.Key
	v, _ := New(sourceFunc(func(k pcs.Key) (*pcs.Bundle, error) { key = k; return sgxB, nil }))
	if _, err := v.Verify(context.Background(), q, at); err != nil {
		t.Fatal(err)
	}
	if want := (pcs.Key{TEE: quote.TEESGX, FMSPC: pcs.FMSPC{0x00, 0xA0, 0x67, 0x11, 0, 0}, CA: pcs.CAProcessor}); key != want {
		t.Errorf("source asked for %v, want %v", key, want)
	}
}

type sourceFunc func(pcs.Key) (*pcs.Bundle, error)

func (f sourceFunc) Collateral(_ context.Context, k pcs.Key) (*pcs.Bundle, error) { return f(k) }

var _ CollateralSource = (*pcs.Bundle)(nil)

// TestIntelRoot pins the embedded trust anchor.
func TestIntelRoot(t *testing.T) {
	sum := sha256.Sum256(IntelRoot().Raw)
	if got, want := hex.EncodeToString(sum[:]), "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"; got != want {
		t.Fatalf("IntelRoot SHA-256 = %s, want %s", got, want)
	}
	if IntelRoot() != IntelRoot() {
		t.Error("IntelRoot parsed more than once")
	}
}
