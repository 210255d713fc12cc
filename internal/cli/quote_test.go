package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
)

func TestQuoteVerifyVectors(t *testing.T) {
	v := testvectors.Path
	tests := []struct {
		name, quote, collateral, at string
		extra                       []string
		wantCode                    int
		wantStatus, wantReason      string
	}{
		{"v1-sgx", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json", "2025-07-01T00:00:00Z", nil, ExitOK, "ConfigurationAndSWHardeningNeeded", ""},
		{"v2-tdx", "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json", "2025-07-01T00:00:00Z", nil, ExitOK, "UpToDate", ""},
		{"v3-tdx-unsupported", "phala-dcap-qvl/tdx_quote_outdated", "phala-dcap-qvl/tdx_quote_outdated_collateral.json", "2026-03-01T00:00:00Z", nil, ExitRefused, "", "tcb_not_supported"},
		{"v4-hex", "phala-dcap-qvl/tdx-quote.hex", "phala-dcap-qvl/tdx_quote_collateral.json", "2025-07-01T00:00:00Z", nil, ExitRefused, "", "tcb_not_supported"},
		{"v6-tdx15", "go-tdx-guest/quote_v5_sample.dat", "phala-dcap-qvl/tdx_quote_outdated_collateral.json", "2026-03-01T00:00:00Z", nil, ExitOK, "UpToDate", ""},
		{"v1-expired", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json", "2025-07-19T10:01:19Z", nil, ExitRefused, "ConfigurationAndSWHardeningNeeded", "collateral_expired"},
		{"v1-expired-allowed", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json", "2025-07-19T10:01:19Z", []string{"--allow-expired-collateral"}, ExitOK, "ConfigurationAndSWHardeningNeeded", ""},
		{"swapped-collateral", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/tdx_quote_collateral.json", "2025-07-01T00:00:00Z", nil, ExitRefused, "", "collateral_mismatch"},
		{"garbage-quote", "README.md", "phala-dcap-qvl/sgx_quote_collateral.json", "2025-07-01T00:00:00Z", nil, ExitRefused, "", "quote_malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"quote", "verify", "--quote", v(tc.quote), "--collateral", v(tc.collateral), "--at", tc.at, "--json"}, tc.extra...)
			code, out, stderr := run(t, args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
			}
			if got["tcb_status"] != tc.wantStatus || got["reason"] != tc.wantReason || got["verified"] != (tc.wantCode == ExitOK) {
				t.Errorf("tcb_status %v reason %v verified %v; want %q %q %v", got["tcb_status"], got["reason"], got["verified"], tc.wantStatus, tc.wantReason, tc.wantCode == ExitOK)
			}
			for _, key := range []string{"verified", "tee", "quote_version", "tcb_status", "advisory_ids", "collateral_expired", "reason", "error", "fmspc"} {
				if _, ok := got[key]; !ok {
					t.Errorf("JSON lacks %q", key)
				}
			}
			golden(t, "quote-verify-"+tc.name+".json", out)
		})
	}
}

func TestQuoteVerifyHuman(t *testing.T) {
	v := testvectors.Path
	code, out, _ := run(t, "quote", "verify", "--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json"), "--at", "2025-07-01T00:00:00Z")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	golden(t, "quote-verify-v1-sgx.txt", out)
}

func TestQuoteVerifyBadInput(t *testing.T) {
	v := testvectors.Path
	tests := []struct {
		name string
		args []string
	}{
		{"missing quote file", []string{"--quote", "/nonexistent", "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json")}},
		{"no collateral source", []string{"--quote", v("phala-dcap-qvl/sgx_quote")}},
		{"both sources", []string{"--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", "x", "--pcs-url", "http://127.0.0.1:1"}},
		{"bad time", []string{"--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json"), "--at", "yesterday"}},
		{"collateral not json", []string{"--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote")}},
		{"root not a certificate", []string{"--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json"), "--root", v("phala-dcap-qvl/sgx_quote")}},
		{"root is a chain", []string{"--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json"), "--root", v("go-tdx-guest/tcbInfoIssuerChain.pem")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := run(t, append([]string{"quote", "verify"}, tc.args...)...)
			if code != ExitBadInput {
				t.Errorf("exit %d, want %d (stderr %q)", code, ExitBadInput, stderr)
			}
			if !strings.HasPrefix(stderr, "secretprov: ") {
				t.Errorf("stderr %q does not explain", stderr)
			}
		})
	}
}

func TestQuoteVerifyOtherRootWarns(t *testing.T) {
	v := testvectors.Path
	// The Intel root given explicitly: no warning. (A simulated root is covered by the sim tests.)
	_, _, stderr := run(t, "quote", "verify", "--quote", v("phala-dcap-qvl/sgx_quote"), "--collateral", v("phala-dcap-qvl/sgx_quote_collateral.json"),
		"--at", "2025-07-01T00:00:00Z", "--root", v("phala-dcap-qvl/TrustedRootCA.der"))
	if strings.Contains(stderr, "WARNING") {
		t.Errorf("warned for the Intel root: %q", stderr)
	}
}
