package pcs

import (
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
)

// goTDXGuestBundle assembles V5's collateral from the go-tdx-guest PCS files.
func goTDXGuestBundle(t testing.TB) *Bundle {
	t.Helper()
	read := func(name string) []byte { return testvectors.Read(t, "go-tdx-guest/"+name) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var b Bundle
	var err error
	b.PCKCRLIssuerChain, err = ParseIssuerChainHeader(string(read("pckCrlIssuerChain.urlencoded.txt")))
	must(err)
	b.RootCRL, err = ParseCRL(read("rootcrl.der"))
	must(err)
	b.PCKCRL, err = ParseCRL(read("pckcrl"))
	must(err)
	b.TCBInfoIssuerChain, err = ParseIssuerChainHeader(string(read("tcbInfoIssuerChain.urlencoded.txt")))
	must(err)
	b.TCBInfo, err = ParseTCBInfo(read("sample_tcbInfo_response"))
	must(err)
	b.QEIdentityIssuerChain, err = ParseIssuerChainHeader(string(read("qeIdentityIssuerChain.urlencoded.txt")))
	must(err)
	b.QEIdentity, err = ParseQEIdentity(read("sample_qeIdentity_response"))
	must(err)
	return &b
}

// TestWindowVectors checks the validity windows stated by the vectors README.
func TestWindowVectors(t *testing.T) {
	tests := []struct {
		name      string
		bundle    func(t testing.TB) *Bundle
		quote     string
		from, to  string
		suggested time.Time
	}{
		{"V1", func(t testing.TB) *Bundle { return loadBundle(t, sgxCollateral) }, "phala-dcap-qvl/sgx_quote",
			"2025-06-19T10:56:11Z", "2025-07-19T10:01:18Z", v1Time},
		{"V2", func(t testing.TB) *Bundle { return loadBundle(t, tdxCollateral) }, "phala-dcap-qvl/tdx_quote",
			"2025-06-19T10:32:27Z", "2025-07-19T10:00:35Z", v1Time},
		{"V3", func(t testing.TB) *Bundle { return loadBundle(t, tdxOutdatedCollateral) }, "phala-dcap-qvl/tdx_quote_outdated",
			"2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z", v3Time},
		{"V5", goTDXGuestBundle, "go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
			"2023-06-18T08:42:58Z", "2023-07-08T07:24:59Z", v5Time},
		{"V6", func(t testing.TB) *Bundle { return loadBundle(t, tdxOutdatedCollateral) }, "go-tdx-guest/quote_v5_sample.dat",
			"2026-02-18T10:58:51Z", "2026-03-20T10:41:15Z", v3Time},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := WindowOf(tt.bundle(t).Validities(pckChain(t, tt.quote)...)...)
			from, to := mustTime(t, tt.from), mustTime(t, tt.to)
			if !w.NotBefore.Equal(from) || !w.NotAfter.Equal(to) {
				t.Fatalf("window %s..%s, want %s..%s", w.NotBefore, w.NotAfter, from, to)
			}
			if w.Empty() {
				t.Error("window is empty")
			}
			for _, at := range []time.Time{tt.suggested, from, to} {
				if err := w.Check(at); err != nil {
					t.Errorf("Check(%s): %v", at, err)
				}
			}
			wantErr(t, w.Check(from.Add(-time.Second)), KindExpired, w.LastValid.Doc)
			wantErr(t, w.Check(to.Add(time.Second)), KindExpired, w.FirstEnd.Doc)
			wantErr(t, w.Check(time.Time{}), KindExpired, "")
		})
	}
}

// TestWindowV1Boundaries: the vectors README's boundary checks for V1.
func TestWindowV1Boundaries(t *testing.T) {
	b := loadBundle(t, sgxCollateral)
	w := WindowOf(b.Validities(pckChain(t, "phala-dcap-qvl/sgx_quote")...)...)
	wantErr(t, w.Check(mustTime(t, "2025-07-19T10:01:19Z")), KindExpired, DocQEIdentity)
	wantErr(t, w.Check(mustTime(t, "2025-06-19T10:56:10Z")), KindExpired, DocTCBInfo)
	if err := b.QEIdentity.Validity().Check(mustTime(t, "2025-07-19T10:01:17Z")); err != nil {
		t.Error(err)
	}
	if !b.QEIdentity.Validity().Expired(mustTime(t, "2025-07-19T10:01:19Z")) || b.TCBInfo.Validity().Expired(v1Time) {
		t.Error("Expired is wrong")
	}
	// Items are labelled by role.
	docs := map[Doc]int{}
	for _, v := range b.Validities(pckChain(t, "phala-dcap-qvl/sgx_quote")...) {
		docs[v.Doc]++
	}
	want := map[Doc]int{DocPCKCA: 2, DocRootCA: 4, DocRootCRL: 1, DocPCKCRL: 1, DocTCBSigningCert: 2,
		DocTCBInfo: 1, DocQEIdentity: 1, DocPCKCert: 1}
	for d, n := range want {
		if docs[d] != n {
			t.Errorf("%d items for %s, want %d (%v)", docs[d], d, n, docs)
		}
	}
}

func TestWindowOf(t *testing.T) {
	a := Validity{Doc: DocTCBInfo, NotBefore: fakeEpoch, NotAfter: fakeEpoch.Add(10 * time.Hour)}
	b := Validity{Doc: DocQEIdentity, NotBefore: fakeEpoch.Add(time.Hour), NotAfter: fakeEpoch.Add(5 * time.Hour)}
	c := Validity{Doc: DocRootCRL, NotBefore: fakeEpoch.Add(6 * time.Hour), NotAfter: fakeEpoch.Add(20 * time.Hour)}
	w := WindowOf(a, b)
	if w.LastValid.Doc != DocQEIdentity || w.FirstEnd.Doc != DocQEIdentity || w.Empty() {
		t.Errorf("got %+v", w)
	}
	if w := WindowOf(a, b, c); !w.Empty() {
		t.Errorf("disjoint windows: %+v", w)
	}
	if w := WindowOf(); !w.Empty() || w.Check(fakeEpoch) == nil {
		t.Errorf("no items: %+v", w)
	}
}
