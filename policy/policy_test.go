package policy

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

var (
	at        = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	mrA       = quote.Measurement{0xaa}
	mrB       = quote.Measurement{0xbb}
	signer    = quote.Measurement{0x5e}
	mrtdA     = quote.TDMeasurement{0x7d}
	prodID1   = uint16(1)
	prodID2   = uint16(2)
	defSecret = map[string]string{DefaultSecret: "s"}
)

// sgxResult is a verified SGX result: production enclave (INIT|MODE64BIT) on an UpToDate platform.
func sgxResult(mods ...func(*verify.Result)) *verify.Result {
	r := &verify.Result{TEE: "sgx", TCBStatus: pcs.StatusUpToDate, AdvisoryIDs: []string{},
		SGX: &quote.EnclaveReport{MREnclave: mrA, MRSigner: signer, ISVProdID: 1, ISVSVN: 5}}
	r.SGX.Attributes[0] = flagInit | flagMode64
	for _, m := range mods {
		m(r)
	}
	return r
}

func tdxResult(mods ...func(*verify.Result)) *verify.Result {
	r := &verify.Result{TEE: "tdx", TCBStatus: pcs.StatusUpToDate, AdvisoryIDs: []string{},
		TDX: &quote.TDReport{MRTD: mrtdA}}
	r.TDX.RTMRs[2] = quote.TDMeasurement{0x22}
	for _, m := range mods {
		m(r)
	}
	return r
}

func mustPolicy(t *testing.T, ws ...Workload) *Policy {
	t.Helper()
	p, err := New(ws)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

func TestAuthorize(t *testing.T) {
	byEnclave := Workload{Name: "by-enclave", MREnclave: []quote.Measurement{mrB, mrA}, Secrets: defSecret}
	bySigner := Workload{Name: "by-signer", MRSigner: &signer, ISVProdID: &prodID1, MinISVSVN: 5,
		TCBStatuses: []pcs.TCBStatus{pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded},
		AdvisoryIDs: []string{"INTEL-SA-00615"}, Secrets: defSecret}
	lenient := Workload{Name: "lenient", MREnclave: []quote.Measurement{mrA}, AllowDebug: true,
		AdvisoryIDs: []string{AnyAdvisory}, CollateralGrace: 24 * time.Hour,
		TCBStatuses: []pcs.TCBStatus{pcs.StatusUpToDate, pcs.StatusOutOfDate}, Secrets: defSecret}
	td := Workload{Name: "td", MRTD: []quote.TDMeasurement{mrtdA}, RTMRs: map[int]quote.TDMeasurement{2: {0x22}}, Secrets: defSecret}

	expired := func(ago time.Duration) func(*verify.Result) {
		return func(r *verify.Result) { r.CollateralExpired = true; r.EarliestExpiry = at.Add(-ago) }
	}
	tests := []struct {
		name         string
		policy       []Workload
		res          *verify.Result
		verr         error
		wantWorkload string
		wantReason   string
	}{
		{"mrenclave in list", []Workload{byEnclave}, sgxResult(), nil, "by-enclave", ""},
		{"mrenclave not in list", []Workload{byEnclave}, sgxResult(func(r *verify.Result) { r.SGX.MREnclave = quote.Measurement{1} }), nil, "", "identity_mismatch"},
		{"mrsigner+prodid+svn", []Workload{bySigner}, sgxResult(), nil, "by-signer", ""},
		{"svn below minimum", []Workload{bySigner}, sgxResult(func(r *verify.Result) { r.SGX.ISVSVN = 4 }), nil, "", "identity_mismatch"},
		{"wrong prodid", []Workload{bySigner}, sgxResult(func(r *verify.Result) { r.SGX.ISVProdID = 2 }), nil, "", "identity_mismatch"},
		{"first matching workload decides", []Workload{bySigner, byEnclave}, sgxResult(), nil, "by-signer", ""},
		{"debug refused", []Workload{byEnclave}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagDebug }), nil, "", "debug_not_allowed"},
		{"debug allowed", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagDebug }), nil, "lenient", ""},
		{"not initialized", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] = flagMode64 }), nil, "", "enclave_attributes_invalid"},
		{"32-bit enclave", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] = flagInit }), nil, "", "enclave_attributes_invalid"},
		{"provision key", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagProvisionKey }), nil, "", "enclave_attributes_invalid"},
		{"default accepts only UpToDate", []Workload{byEnclave}, sgxResult(func(r *verify.Result) { r.TCBStatus = pcs.StatusSWHardeningNeeded }), nil, "", "tcb_status_not_accepted"},
		{"accepted SWHardeningNeeded", []Workload{bySigner}, sgxResult(func(r *verify.Result) {
			r.TCBStatus = pcs.StatusSWHardeningNeeded
			r.AdvisoryIDs = []string{"INTEL-SA-00615"}
		}), nil, "by-signer", ""},
		{"OutOfDate refused", []Workload{bySigner}, sgxResult(func(r *verify.Result) { r.TCBStatus = pcs.StatusOutOfDate }), nil, "", "tcb_status_not_accepted"},
		{"advisory not accepted", []Workload{bySigner}, sgxResult(func(r *verify.Result) {
			r.TCBStatus = pcs.StatusSWHardeningNeeded
			r.AdvisoryIDs = []string{"INTEL-SA-00615", "INTEL-SA-00289"}
		}), nil, "", "advisory_not_accepted"},
		{"any advisory", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.AdvisoryIDs = []string{"INTEL-SA-99999"} }), nil, "lenient", ""},
		{"verify failure passes through", []Workload{byEnclave}, sgxResult(), verify.ErrQuoteSignatureInvalid, "", "quote_signature_invalid"},
		{"verify failure without result", []Workload{byEnclave}, nil, verify.ErrQuoteMalformed, "", "quote_malformed"},
		{"expired, no grace", []Workload{byEnclave}, sgxResult(expired(time.Minute)), verify.ErrCollateralExpired, "", "collateral_expired"},
		{"expired within grace", []Workload{lenient}, sgxResult(expired(time.Hour)), verify.ErrCollateralExpired, "lenient", ""},
		{"expired beyond grace", []Workload{lenient}, sgxResult(expired(25 * time.Hour)), verify.ErrCollateralExpired, "", "collateral_expired"},
		{"collateral from the future is never graced", []Workload{lenient}, sgxResult(func(r *verify.Result) {
			r.CollateralExpired = true
			r.EarliestExpiry = at.Add(30 * 24 * time.Hour)
		}), verify.ErrCollateralExpired, "", "collateral_expired"},
		{"expiry checked after identity", []Workload{byEnclave}, sgxResult(expired(time.Minute), func(r *verify.Result) { r.SGX.MREnclave = mrB }), verify.ErrCollateralExpired, "by-enclave", "collateral_expired"},
		{"revoked never accepted", []Workload{lenient}, sgxResult(func(r *verify.Result) { r.TCBStatus = pcs.StatusRevoked }), nil, "", "tcb_status_not_accepted"},
		{"tdx mrtd and rtmr", []Workload{td}, tdxResult(), nil, "td", ""},
		{"tdx rtmr differs", []Workload{td}, tdxResult(func(r *verify.Result) { r.TDX.RTMRs[2] = quote.TDMeasurement{} }), nil, "", "identity_mismatch"},
		{"tdx debug", []Workload{td}, tdxResult(func(r *verify.Result) { r.TDX.TDAttributes[0] = 1 }), nil, "", "debug_not_allowed"},
		{"sgx workload never matches tdx", []Workload{byEnclave}, tdxResult(), nil, "", "identity_mismatch"},
		{"tdx workload never matches sgx", []Workload{td}, sgxResult(), nil, "", "identity_mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := mustPolicy(t, tc.policy...).Authorize(tc.res, tc.verr, at)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (%v), want %q", got, err, tc.wantReason)
			}
			if tc.wantReason == "" && g.Workload != tc.wantWorkload {
				t.Errorf("workload = %q, want %q", g.Workload, tc.wantWorkload)
			}
			if tc.wantReason != "" && g != nil {
				t.Errorf("refusal returned a grant %+v", g)
			}
			if pe, ok := errors.AsType[*Error](err); ok && tc.wantWorkload != "" && pe.Workload != tc.wantWorkload {
				t.Errorf("refusal names workload %q, want %q", pe.Workload, tc.wantWorkload)
			}
		})
	}
}

func TestGrantRecordsAcceptedConditions(t *testing.T) {
	w := Workload{Name: "w", MREnclave: []quote.Measurement{mrA}, AllowDebug: true, AdvisoryIDs: []string{AnyAdvisory},
		TCBStatuses: []pcs.TCBStatus{pcs.StatusSWHardeningNeeded}, CollateralGrace: time.Hour,
		Secrets: map[string]string{DefaultSecret: "a", "db": "b"}}
	res := sgxResult(func(r *verify.Result) {
		r.SGX.Attributes[0] |= flagDebug
		r.TCBStatus = pcs.StatusSWHardeningNeeded
		r.AdvisoryIDs = []string{"INTEL-SA-00615"}
		r.CollateralExpired = true
		r.EarliestExpiry = at.Add(-time.Minute)
	})
	g, err := mustPolicy(t, w).Authorize(res, verify.ErrCollateralExpired, at)
	if err != nil {
		t.Fatal(err)
	}
	want := "[debug tcb_status=SWHardeningNeeded advisories=INTEL-SA-00615 collateral_expired]"
	if got := fmt.Sprint(g.Accepted); got != want {
		t.Errorf("Accepted = %s, want %s", got, want)
	}
	if src, ok := g.SecretSource("db"); !ok || src != "b" {
		t.Errorf("SecretSource(db) = %q, %v", src, ok)
	}
	if _, ok := g.SecretSource("other"); ok {
		t.Error("SecretSource(other) granted a secret the workload does not have")
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		w    []Workload
	}{
		{"no workloads", nil},
		{"no name", []Workload{{MREnclave: []quote.Measurement{mrA}, Secrets: defSecret}}},
		{"duplicate", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, Secrets: defSecret}, {Name: "a", MREnclave: []quote.Measurement{mrB}, Secrets: defSecret}}},
		{"no identity", []Workload{{Name: "a", Secrets: defSecret}}},
		{"signer without prod id", []Workload{{Name: "a", MRSigner: &signer, Secrets: defSecret}}},
		{"sgx and tdx", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, MRTD: []quote.TDMeasurement{mrtdA}, Secrets: defSecret}}},
		{"rtmr without mrtd", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, RTMRs: map[int]quote.TDMeasurement{0: {}}, Secrets: defSecret}}},
		{"rtmr index", []Workload{{Name: "a", MRTD: []quote.TDMeasurement{mrtdA}, RTMRs: map[int]quote.TDMeasurement{4: {}}, Secrets: defSecret}}},
		{"bad status", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, TCBStatuses: []pcs.TCBStatus{"Fine"}, Secrets: defSecret}}},
		{"revoked accepted", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, TCBStatuses: []pcs.TCBStatus{pcs.StatusRevoked}, Secrets: defSecret}}},
		{"negative grace", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, CollateralGrace: -1, Secrets: defSecret}}},
		{"no secrets", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}}}},
		{"empty secret source", []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, Secrets: map[string]string{"x": ""}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.w); err == nil {
				t.Error("New accepted an invalid policy")
			}
		})
	}
}

func TestPolicyIsImmutable(t *testing.T) {
	ws := []Workload{{Name: "a", MREnclave: []quote.Measurement{mrA}, Secrets: map[string]string{DefaultSecret: "s"}}}
	p := mustPolicy(t, ws...)
	ws[0].MREnclave[0] = mrB
	ws[0].Secrets[DefaultSecret] = "other"
	g, err := p.Authorize(sgxResult(), nil, at)
	if err != nil {
		t.Fatalf("caller's later edit changed the policy: %v", err)
	}
	if g.Secrets[DefaultSecret] != "s" {
		t.Errorf("grant secret = %q, want s", g.Secrets[DefaultSecret])
	}
	if got := p.SecretNames(); fmt.Sprint(got) != "[s]" {
		t.Errorf("SecretNames = %v", got)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    *Error
		want string
	}{
		{&Error{Reason: ReasonIdentityMismatch, Detail: "no workload matches", Got: "mrenclave aa"}, "policy: identity_mismatch: no workload matches: got mrenclave aa"},
		{&Error{Reason: ReasonTCBStatusNotAccepted, Workload: "w", Detail: "platform TCB status", Want: "[UpToDate]", Got: "OutOfDate"}, "policy: workload w: tcb_status_not_accepted: platform TCB status: want [UpToDate], got OutOfDate"},
		{&Error{Reason: ReasonDebugNotAllowed}, "policy: debug_not_allowed"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}
