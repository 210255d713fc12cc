package policy

import (
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/verify"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// pinned is a complete Gramine ≥ 1.8 environment pinning the test enclave.
func pinned(extra map[string]string) map[string]string {
	m := map[string]string{
		EnvMREnclave: mrA.String(),
		EnvMRSigner:  signer.String(),
		EnvISVProdID: "1",
		EnvISVSVN:    "5",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestGramineStatusTable(t *testing.T) {
	// Gramine spec §1.8 step 3: which flags a status needs.
	table := []struct {
		status pcs.TCBStatus
		needs  []string
	}{
		{pcs.StatusUpToDate, nil},
		{pcs.StatusConfigurationNeeded, []string{EnvAllowHWConfig}},
		{pcs.StatusOutOfDate, []string{EnvAllowOutdated}},
		{pcs.StatusOutOfDateConfigurationNeeded, []string{EnvAllowOutdated, EnvAllowHWConfig}},
		{pcs.StatusSWHardeningNeeded, []string{EnvAllowSWHardening}},
		{pcs.StatusConfigurationAndSWHardeningNeeded, []string{EnvAllowHWConfig, EnvAllowSWHardening}},
		{pcs.StatusRevoked, []string{"never"}},
	}
	flags := []string{EnvAllowOutdated, EnvAllowHWConfig, EnvAllowSWHardening}
	for _, row := range table {
		for mask := 0; mask < 1<<len(flags); mask++ {
			e := pinned(nil)
			set := map[string]bool{}
			for i, f := range flags {
				if mask&(1<<i) != 0 {
					e[f] = "1"
					set[f] = true
				}
			}
			want := true
			for _, n := range row.needs {
				want = want && set[n]
			}
			p, err := FromGramineEnv(env(e), GramineOptions{Secret: "s"})
			if err != nil {
				t.Fatal(err)
			}
			res := sgxResult(func(r *verify.Result) { r.TCBStatus = row.status; r.AdvisoryIDs = []string{"INTEL-SA-00615"} })
			_, err = p.Authorize(res, nil, at)
			if got := err == nil; got != want {
				t.Errorf("status %s with flags %v: accepted = %v, want %v (%v)", row.status, set, got, want, err)
			}
		}
	}
}

func TestGramineEnv(t *testing.T) {
	expired := func(r *verify.Result) { r.CollateralExpired = true; r.EarliestExpiry = at.Add(-48 * time.Hour) }
	tests := []struct {
		name       string
		env        map[string]string
		opts       GramineOptions
		res        *verify.Result
		verr       error
		wantErr    bool // FromGramineEnv refuses the environment
		wantReason string
	}{
		{"pinned match", pinned(nil), GramineOptions{}, sgxResult(), nil, false, ""},
		{"unset variable is an error (Gramine >= 1.8)", map[string]string{EnvMREnclave: "any", EnvMRSigner: "any", EnvISVProdID: "any"}, GramineOptions{}, nil, nil, true, ""},
		{"bad hex", pinned(map[string]string{EnvMREnclave: "xyz"}), GramineOptions{}, nil, nil, true, ""},
		{"bad number", pinned(map[string]string{EnvISVSVN: "-1"}), GramineOptions{}, nil, nil, true, ""},
		{"both any refused", pinned(map[string]string{EnvMREnclave: "any", EnvMRSigner: "any"}), GramineOptions{}, nil, nil, true, ""},
		{"both any with explicit opt-in", pinned(map[string]string{EnvMREnclave: "any", EnvMRSigner: "any"}), GramineOptions{AllowNoMeasurementInsecure: true}, sgxResult(), nil, false, ""},
		{"any prod id under pinned signer", pinned(map[string]string{EnvMREnclave: "any", EnvISVProdID: "any"}), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.ISVProdID = 77 }), nil, false, ""},
		{"isv svn is a minimum", pinned(nil), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.ISVSVN = 9 }), nil, false, ""},
		{"isv svn below", pinned(nil), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.ISVSVN = 4 }), nil, false, "identity_mismatch"},
		{"mrenclave differs", pinned(nil), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.MREnclave = mrB }), nil, false, "identity_mismatch"},
		{"prod id exact", pinned(nil), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.ISVProdID = 2 }), nil, false, "identity_mismatch"},
		{"debug refused", pinned(nil), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagDebug }), nil, false, "debug_not_allowed"},
		{"debug flag must be exactly 1", pinned(map[string]string{EnvAllowDebug: "true"}), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagDebug }), nil, false, "debug_not_allowed"},
		{"debug allowed", pinned(map[string]string{EnvAllowDebug: "1"}), GramineOptions{}, sgxResult(func(r *verify.Result) { r.SGX.Attributes[0] |= flagDebug }), nil, false, ""},
		{"expired collateral refused", pinned(nil), GramineOptions{}, sgxResult(expired), verify.ErrCollateralExpired, false, "collateral_expired"},
		{"expired collateral with outdated flag", pinned(map[string]string{EnvAllowOutdated: "1"}), GramineOptions{}, sgxResult(expired), verify.ErrCollateralExpired, false, ""},
		{"advisories never examined", pinned(map[string]string{EnvAllowSWHardening: "1"}), GramineOptions{}, sgxResult(func(r *verify.Result) {
			r.TCBStatus = pcs.StatusSWHardeningNeeded
			r.AdvisoryIDs = []string{"INTEL-SA-00001"}
		}), nil, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := FromGramineEnv(env(tc.env), tc.opts)
			if (err != nil) != tc.wantErr {
				t.Fatalf("FromGramineEnv error = %v, wantErr %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			g, err := p.Authorize(tc.res, tc.verr, at)
			if got := ReasonOf(err); got != tc.wantReason {
				t.Fatalf("reason = %q (%v), want %q", got, err, tc.wantReason)
			}
			if err == nil && g.Secrets[DefaultSecret] != DefaultSecret {
				t.Errorf("default secret = %q", g.Secrets[DefaultSecret])
			}
		})
	}
}
