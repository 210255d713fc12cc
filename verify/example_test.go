package verify_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// Verify a real SGX quote from raw bytes and the dcap-qvl collateral JSON (vector V1).
func ExampleQuote() {
	raw, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/sgx_quote"))
	if err != nil {
		panic(err)
	}
	js, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/sgx_quote_collateral.json"))
	if err != nil {
		panic(err)
	}
	bundle, err := pcs.ParseBundleJSON(js)
	if err != nil {
		panic(err)
	}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	res, err := verify.Quote(raw, bundle, at)
	if err != nil {
		fmt.Println("refused:", verify.ReasonOf(err), err)
		return
	}
	fmt.Println(res.TEE, res.TCBStatus, res.AdvisoryIDs)
	fmt.Println("MRENCLAVE", res.MREnclave)

	// One second after the QE Identity's nextUpdate the verdict is the same, but the
	// collateral is expired.
	res, err = verify.Quote(raw, bundle, time.Date(2025, 7, 19, 10, 1, 19, 0, time.UTC))
	fmt.Println(verify.ReasonOf(err), res.TCBStatus, res.CollateralExpired)
	// Output:
	// sgx ConfigurationAndSWHardeningNeeded [INTEL-SA-00289 INTEL-SA-00615]
	// MRENCLAVE 33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb
	// collateral_expired ConfigurationAndSWHardeningNeeded true
}

// A Verifier checks the collateral once and caches verified PCK chains and QE reports, so
// that each further quote costs about one ECDSA verification (vector V2, TDX).
func ExampleVerifier_Verify() {
	js, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/tdx_quote_collateral.json"))
	if err != nil {
		panic(err)
	}
	bundle, err := pcs.ParseBundleJSON(js)
	if err != nil {
		panic(err)
	}
	v, err := verify.New(verify.Static(bundle))
	if err != nil {
		panic(err)
	}
	raw, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/tdx_quote"))
	if err != nil {
		panic(err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		panic(err)
	}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	res, err := v.Verify(context.Background(), q, at)
	if err != nil {
		fmt.Println("refused:", verify.ReasonOf(err), err)
		return
	}
	fmt.Println(res.TEE, res.QuoteVersion, res.TCBStatus, len(res.AdvisoryIDs), res.FMSPC)

	// A forged body: the identity is still reported, with the reason for the refusal.
	q.TDX.MRTD[0] ^= 1
	res, err = v.Verify(context.Background(), q, at)
	fmt.Println(verify.ReasonOf(err), res.MRTD.String()[:8])
	// Output:
	// tdx 4 UpToDate 0 B0C06F000000
	// quote_signature_invalid 90eb2b44
}
