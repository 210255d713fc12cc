package pcs

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/quote"
)

func TestParseQEIdentityVectors(t *testing.T) {
	sgxSigner := mustHex(t, "8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF")
	tdSigner := mustHex(t, "DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5")
	tests := []struct {
		name     string
		parse    func(t *testing.T) (*QEIdentity, error)
		id       string
		mrsigner []byte
		prodID   uint16
		tee      quote.TEE
		issue    string
		top      QELevel // first level
	}{
		{"phala sgx", rawQEIdentity(sgxCollateral), QEIDQE, sgxSigner, 1, quote.TEESGX, "2025-06-19T10:01:18Z",
			QELevel{ISVSVN: 8, TCBDate: mustTime(t, "2024-03-13T00:00:00Z"), Status: StatusUpToDate}},
		{"phala tdx", rawQEIdentity(tdxCollateral), QEIDTDQE, tdSigner, 2, quote.TEETDX, "2025-06-19T10:32:27Z",
			QELevel{ISVSVN: 4, TCBDate: mustTime(t, "2024-03-13T00:00:00Z"), Status: StatusUpToDate}},
		{"phala tdx outdated", rawQEIdentity(tdxOutdatedCollateral), QEIDTDQE, tdSigner, 2, quote.TEETDX, "2026-02-18T10:42:15Z",
			QELevel{ISVSVN: 4, TCBDate: mustTime(t, "2024-11-13T00:00:00Z"), Status: StatusUpToDate}},
		{"go-tdx-guest body", func(t *testing.T) (*QEIdentity, error) {
			return ParseQEIdentity(testvectors.Read(t, "go-tdx-guest/sample_qeIdentity_response"))
		}, QEIDTDQE, tdSigner, 2, quote.TEETDX, "2023-06-08T07:24:59Z",
			QELevel{ISVSVN: 4, TCBDate: mustTime(t, "2023-02-15T00:00:00Z"), Status: StatusUpToDate}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := tt.parse(t)
			if err != nil {
				t.Fatal(err)
			}
			if q.ID != tt.id || q.Version != 2 || !bytes.Equal(q.MRSigner[:], tt.mrsigner) || q.ISVProdID != tt.prodID || q.TEE() != tt.tee {
				t.Errorf("got id %s version %d mrsigner %x prodid %d", q.ID, q.Version, q.MRSigner, q.ISVProdID)
			}
			if !q.IssueDate.Equal(mustTime(t, tt.issue)) {
				t.Errorf("issueDate %s, want %s", q.IssueDate, tt.issue)
			}
			// dcap spec §4.2 table: masks and attributes of the production identities.
			if q.MiscSelect != [4]byte{} || q.MiscSelectMask != [4]byte{0xff, 0xff, 0xff, 0xff} ||
				!bytes.Equal(q.Attributes[:], mustHex(t, "11000000000000000000000000000000")) ||
				!bytes.Equal(q.AttributesMask[:], mustHex(t, "FBFFFFFFFFFFFFFF0000000000000000")) {
				t.Errorf("misc/attributes: %x %x %x %x", q.MiscSelect, q.MiscSelectMask, q.Attributes, q.AttributesMask)
			}
			if diff := cmp.Diff(tt.top, q.Levels[0]); diff != "" {
				t.Errorf("first level (-want +got):\n%s", diff)
			}
			if err := q.CheckFor(tt.tee); err != nil {
				t.Errorf("CheckFor(%v): %v", tt.tee, err)
			}
			other := quote.TEESGX
			if tt.tee == quote.TEESGX {
				other = quote.TEETDX
			}
			wantErr(t, q.CheckFor(other), KindMismatch, DocQEIdentity)
		})
	}
}

func rawQEIdentity(name string) func(t *testing.T) (*QEIdentity, error) {
	return func(t *testing.T) (*QEIdentity, error) {
		m := collateralStrings(t, name)
		return ParseQEIdentityRaw([]byte(m["qe_identity"]), m["qe_identity_signature"])
	}
}

func TestQEIdentitySignature(t *testing.T) {
	for _, name := range []string{sgxCollateral, tdxCollateral, tdxOutdatedCollateral} {
		t.Run(name, func(t *testing.T) {
			b := loadBundle(t, name)
			signer := b.QEIdentityIssuerChain[0]
			if err := b.QEIdentity.CheckSignature(signer); err != nil {
				t.Fatalf("genuine QE Identity: %v", err)
			}
			flipped := *b.QEIdentity
			flipped.Raw = []byte(strings.Replace(string(flipped.Raw), `"isvprodid":`, `"isvprodid":1`, 1))
			wantErr(t, flipped.CheckSignature(signer), KindSignature, DocQEIdentity)
			badSig := *b.QEIdentity
			badSig.Signature[0] ^= 0x80
			wantErr(t, badSig.CheckSignature(signer), KindSignature, DocQEIdentity)
			wantErr(t, b.QEIdentity.CheckSignature(b.PCKCRLIssuerChain[1]), KindSignature, DocQEIdentity)
		})
	}
	chain, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/qeIdentityIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseQEIdentity(testvectors.Read(t, "go-tdx-guest/sample_qeIdentity_response"))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.CheckSignature(chain[0]); err != nil {
		t.Errorf("go-tdx-guest QE Identity: %v", err)
	}
}

func TestParseQEIdentityRejects(t *testing.T) {
	base := collateralStrings(t, sgxCollateral)["qe_identity"]
	r := func(old, new string) string {
		t.Helper()
		if !strings.Contains(base, old) {
			t.Fatalf("%q not found", old)
		}
		return strings.Replace(base, old, new, 1)
	}
	tests := []struct {
		name string
		raw  string
	}{
		{"not JSON", `{"id":`},
		{"id unknown", r(`"id":"QE"`, `"id":"XE"`)},
		{"id missing", r(`"id":"QE",`, ``)},
		{"version 1", r(`"version":2`, `"version":1`)},
		{"version 3", r(`"version":2`, `"version":3`)},
		{"version missing", r(`"version":2,`, ``)},
		{"issueDate bad", r(`"issueDate":"2025-06-19T10:01:18Z"`, `"issueDate":"2025-06-19 10:01:18Z"`)},
		{"nextUpdate before issue", r(`"nextUpdate":"2025-07-19T10:01:18Z"`, `"nextUpdate":"2024-07-19T10:01:18Z"`)},
		{"evaluation number missing", r(`"tcbEvaluationDataNumber":17,`, ``)},
		{"miscselect short", r(`"miscselect":"00000000"`, `"miscselect":"000000"`)},
		{"miscselectMask missing", r(`"miscselectMask":"FFFFFFFF",`, ``)},
		{"attributes long", r(`"attributes":"11000000000000000000000000000000"`, `"attributes":"1100000000000000000000000000000000"`)},
		{"attributesMask not hex", r(`"attributesMask":"FB`, `"attributesMask":"XB`)},
		{"mrsigner 31 bytes", r(`"mrsigner":"8C`, `"mrsigner":"`)},
		{"mrsigner missing", r(`"mrsigner":"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF",`, ``)},
		{"isvprodid missing", r(`"isvprodid":1,`, ``)},
		{"isvprodid 65536", r(`"isvprodid":1`, `"isvprodid":65536`)},
		{"levels empty", base[:strings.Index(base, `"tcbLevels"`)] + `"tcbLevels":[]}`},
		{"levels missing", base[:strings.Index(base, `,"tcbLevels"`)] + `}`},
		{"duplicate isvsvn", r(`{"isvsvn":6}`, `{"isvsvn":8}`)},
		{"isvsvn missing", r(`{"isvsvn":6}`, `{}`)},
		{"tcb missing", r(`"tcb":{"isvsvn":6},`, ``)},
		{"isvsvn 65536", r(`{"isvsvn":6}`, `{"isvsvn":65536}`)},
		{"status SWHardeningNeeded", r(`"tcbStatus":"UpToDate"`, `"tcbStatus":"SWHardeningNeeded"`)},
		{"status unknown", r(`"tcbStatus":"UpToDate"`, `"tcbStatus":"Fine"`)},
		{"status missing", r(`,"tcbStatus":"UpToDate"`, ``)},
		{"tcbDate missing", r(`"tcbDate":"2024-03-13T00:00:00Z",`, ``)},
		{"advisory empty", r(`"INTEL-SA-00615"]`, `""]`)},
		{"duplicate key", r(`"isvprodid":1`, `"isvprodid":1,"isvprodid":1`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseQEIdentityRaw([]byte(tt.raw), strings.Repeat("00", 64))
			wantErr(t, err, KindFormat, DocQEIdentity)
		})
	}
	// QVL parses the two configuration statuses in enclave identities (dcap spec §4.2).
	for _, s := range []TCBStatus{StatusConfigurationNeeded, StatusOutOfDateConfigurationNeeded, StatusRevoked, StatusOutOfDate} {
		raw := r(`"tcbStatus":"UpToDate"`, `"tcbStatus":"`+string(s)+`"`)
		q, err := ParseQEIdentityRaw([]byte(raw), strings.Repeat("00", 64))
		if err != nil || q.Levels[0].Status != s {
			t.Errorf("status %s: %v", s, err)
		}
	}
	body := `{"enclaveIdentity":` + base + `,"signature":"` + strings.Repeat("00", 64) + `"}`
	if _, err := ParseQEIdentity([]byte(body)); err != nil {
		t.Fatalf("body baseline: %v", err)
	}
	for name, b := range map[string]string{
		"no identity":     `{"signature":"` + strings.Repeat("00", 64) + `"}`,
		"old key":         strings.Replace(body, "enclaveIdentity", "qeIdentity", 1),
		"no signature":    `{"enclaveIdentity":` + base + `}`,
		"short signature": strings.Replace(body, strings.Repeat("00", 64), strings.Repeat("00", 63), 1),
		"tcbInfo body":    string(testvectors.Read(t, "go-tdx-guest/sample_tcbInfo_response")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseQEIdentity([]byte(b))
			wantErr(t, err, KindFormat, DocQEIdentity)
		})
	}
}
