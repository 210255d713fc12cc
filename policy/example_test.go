package policy_test

import (
	"fmt"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// A Gramine deployment's RA_TLS_* variables become a one-workload policy.
func ExampleFromGramineEnv() {
	env := map[string]string{
		"RA_TLS_MRENCLAVE":                 "any",
		"RA_TLS_MRSIGNER":                  "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
		"RA_TLS_ISV_PROD_ID":               "0",
		"RA_TLS_ISV_SVN":                   "0",
		"RA_TLS_ALLOW_HW_CONFIG_NEEDED":    "1",
		"RA_TLS_ALLOW_SW_HARDENING_NEEDED": "1",
	}
	p, err := policy.FromGramineEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		policy.GramineOptions{Secret: "wrap-key"})
	if err != nil {
		panic(err)
	}
	signer, _ := quote.ParseMeasurement(env["RA_TLS_MRSIGNER"])
	res := &verify.Result{TEE: "sgx", TCBStatus: pcs.StatusConfigurationAndSWHardeningNeeded,
		AdvisoryIDs: []string{"INTEL-SA-00289", "INTEL-SA-00615"},
		SGX:         &quote.EnclaveReport{MRSigner: signer, Attributes: [16]byte{0x05}}}

	g, err := p.Authorize(res, nil, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(g.Workload, g.Secrets[policy.DefaultSecret], err)

	res.SGX.Attributes[0] |= 0x02 // a debug enclave
	_, err = p.Authorize(res, nil, time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(policy.ReasonOf(err))
	// Output:
	// gramine wrap-key <nil>
	// debug_not_allowed
}
