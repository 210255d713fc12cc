package policy

import (
	"fmt"
	"testing"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// BenchmarkAuthorize measures one policy decision per provisioning, as the server makes it
// after verification, on a policy of 16 workloads (15 that do not match first, which is what a
// shared server holding many workloads looks like):
//
//   - grant-last: the matching workload is the last one (MRSIGNER + ISVPRODID, SWHardeningNeeded
//     with an accepted advisory): every workload is compared.
//   - grant-first: the first workload matches (MRENCLAVE, UpToDate).
//   - refuse: nothing matches (identity_mismatch, with the identity written into the error).
//   - tdx: an MRTD workload with an RTMR condition.
func BenchmarkAuthorize(b *testing.B) {
	var filler []Workload
	for i := range 15 {
		filler = append(filler, Workload{Name: fmt.Sprintf("other-%d", i),
			MREnclave: []quote.Measurement{{byte(i + 1), 0xf0}}, Secrets: defSecret})
	}
	bySigner := Workload{Name: "by-signer", MRSigner: &signer, ISVProdID: &prodID1, MinISVSVN: 5,
		TCBStatuses: []pcs.TCBStatus{pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded},
		AdvisoryIDs: []string{"INTEL-SA-00615"}, Secrets: map[string]string{DefaultSecret: "s", "db": "db-password"}}
	byEnclave := Workload{Name: "by-enclave", MREnclave: []quote.Measurement{mrA}, Secrets: defSecret}
	td := Workload{Name: "td", MRTD: []quote.TDMeasurement{mrtdA}, RTMRs: map[int]quote.TDMeasurement{2: {0x22}}, Secrets: defSecret}

	swHardening := sgxResult(func(r *verify.Result) {
		r.TCBStatus = pcs.StatusSWHardeningNeeded
		r.AdvisoryIDs = []string{"INTEL-SA-00615"}
	})
	unknown := sgxResult(func(r *verify.Result) { r.SGX.MREnclave = mrB; r.SGX.MRSigner = mrB })
	for _, tc := range []struct {
		name      string
		workloads []Workload
		res       *verify.Result
		grant     bool
	}{
		{"grant-last", append(filler[:15:15], bySigner), swHardening, true},
		{"grant-first", append([]Workload{byEnclave}, filler...), sgxResult(), true},
		{"refuse", append(filler[:15:15], byEnclave), unknown, false},
		{"tdx", append(filler[:15:15], td), tdxResult(), true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p, err := New(tc.workloads)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				g, err := p.Authorize(tc.res, nil, at)
				if (err == nil) != tc.grant || (g != nil) != tc.grant {
					b.Fatalf("grant %v, err %v; want grant=%v", g, err, tc.grant)
				}
			}
		})
	}
}
