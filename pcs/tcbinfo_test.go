package pcs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/quote"
)

// collateralStrings returns the string members of a dcap-qvl collateral JSON file.
func collateralStrings(t testing.TB, name string) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(testvectors.Read(t, name), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParseTCBInfoVectors(t *testing.T) {
	date := func(s string) time.Time { return mustTime(t, s) }
	tests := []struct {
		name        string
		parse       func(t *testing.T) (*TCBInfo, error)
		id          string
		fmspc       string
		issue, next time.Time
		levels      int
		modules     []string
	}{
		{"phala sgx", rawTCBInfo(sgxCollateral), "SGX", "00A067110000",
			date("2025-06-19T10:56:11Z"), date("2025-07-19T10:56:11Z"), 11, nil},
		{"phala tdx", rawTCBInfo(tdxCollateral), "TDX", "B0C06F000000",
			date("2025-06-19T10:16:03Z"), date("2025-07-19T10:16:03Z"), 2, []string{"TDX_03", "TDX_01"}},
		{"phala tdx outdated", rawTCBInfo(tdxOutdatedCollateral), "TDX", "90C06F000000",
			date("2026-02-18T10:58:51Z"), date("2026-03-20T10:58:51Z"), 3, []string{"TDX_03", "TDX_01"}},
		{"go-tdx-guest body", bodyTCBInfo("go-tdx-guest/sample_tcbInfo_response"), "TDX", "50806F000000",
			date("2023-06-18T08:42:58Z"), date("2023-07-18T08:42:58Z"), 2, nil},
		{"go-tdx-guest body v5", bodyTCBInfo("go-tdx-guest/sample_tcbinfo_response_v5"), "TDX", "90C06F000000",
			date("2026-02-01T14:49:26Z"), date("2026-03-03T14:49:26Z"), 3, []string{"TDX_03", "TDX_01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti, err := tt.parse(t)
			if err != nil {
				t.Fatal(err)
			}
			if ti.ID != tt.id || ti.Version != 3 || ti.FMSPC.String() != tt.fmspc || ti.PCEID != (PCEID{}) {
				t.Errorf("got id %s version %d fmspc %s pceId %s", ti.ID, ti.Version, ti.FMSPC, ti.PCEID)
			}
			if !ti.IssueDate.Equal(tt.issue) || !ti.NextUpdate.Equal(tt.next) {
				t.Errorf("dates %s..%s, want %s..%s", ti.IssueDate, ti.NextUpdate, tt.issue, tt.next)
			}
			if len(ti.Levels) != tt.levels {
				t.Errorf("%d levels, want %d", len(ti.Levels), tt.levels)
			}
			var modules []string
			for _, m := range ti.TDXModuleIdentities {
				modules = append(modules, m.ID)
			}
			if !cmp.Equal(modules, tt.modules) {
				t.Errorf("module identities %v, want %v", modules, tt.modules)
			}
			if tt.id == "SGX" && ti.TDXModule != nil {
				t.Errorf("SGX TCB Info with a TDX module")
			}
			if tt.id == "TDX" && ti.TDXModule == nil {
				t.Errorf("TDX TCB Info without a TDX module")
			}
		})
	}
}

func rawTCBInfo(name string) func(t *testing.T) (*TCBInfo, error) {
	return func(t *testing.T) (*TCBInfo, error) {
		m := collateralStrings(t, name)
		return ParseTCBInfoRaw([]byte(m["tcb_info"]), m["tcb_info_signature"])
	}
}

func bodyTCBInfo(name string) func(t *testing.T) (*TCBInfo, error) {
	return func(t *testing.T) (*TCBInfo, error) { return ParseTCBInfo(testvectors.Read(t, name)) }
}

// TestTCBInfoLevelsV1 checks the level the vectors README says V1 matches.
func TestTCBInfoLevelsV1(t *testing.T) {
	ti, err := rawTCBInfo(sgxCollateral)(t)
	if err != nil {
		t.Fatal(err)
	}
	l := ti.Levels[1]
	want := TCBLevel{
		SGXComponents: [16]byte{11, 11, 2, 2, 255, 1},
		PCESVN:        13,
		TCBDate:       mustTime(t, "2024-03-13T00:00:00Z"),
		Status:        StatusConfigurationAndSWHardeningNeeded,
		AdvisoryIDs:   []string{"INTEL-SA-00289", "INTEL-SA-00615"},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("level 1 (-want +got):\n%s", diff)
	}
	if ti.TCBEvaluationDataNumber != 17 || ti.TCBType != 0 || ti.TEE() != quote.TEESGX {
		t.Errorf("evaluation data number %d, type %d, TEE %v", ti.TCBEvaluationDataNumber, ti.TCBType, ti.TEE())
	}
}

// TestTCBInfoLevelsV3 checks the levels and module identities of the V3 collateral against
// the vectors README.
func TestTCBInfoLevelsV3(t *testing.T) {
	ti, err := rawTCBInfo(tdxOutdatedCollateral)(t)
	if err != nil {
		t.Fatal(err)
	}
	type lv struct {
		SGX    [8]byte
		PCESVN uint16
	}
	var got []lv
	for _, l := range ti.Levels {
		got = append(got, lv{[8]byte(l.SGXComponents[:8]), l.PCESVN})
		if [8]byte(l.SGXComponents[8:]) != [8]byte{} {
			t.Errorf("components 9..16 not zero: %v", l.SGXComponents)
		}
	}
	want := []lv{{[8]byte{3, 3, 2, 2, 4, 1, 0, 5}, 13}, {[8]byte{2, 2, 2, 2, 3, 1, 0, 5}, 13}, {[8]byte{2, 2, 2, 2, 3, 1, 0, 5}, 5}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("levels (-want +got):\n%s", diff)
	}
	// V6: the first level has tcbDate 2024-11-13, UpToDate; TDX component 3 is 3 (README: 4 ≥ 3).
	first := ti.Levels[0]
	if !first.TCBDate.Equal(mustTime(t, "2024-11-13T00:00:00Z")) || first.Status != StatusUpToDate || first.TDXComponents[2] != 3 {
		t.Errorf("first level: %+v", first)
	}
	if first.SGXComponentInfo[0] != (ComponentInfo{"BIOS", "Early Microcode Update"}) || first.TDXComponentInfo[0].Type != "TDX Module" {
		t.Errorf("component info not kept: %+v / %+v", first.SGXComponentInfo[0], first.TDXComponentInfo[0])
	}
	if first.SGXComponentInfo[6] != (ComponentInfo{}) {
		t.Errorf("absent component info: %+v", first.SGXComponentInfo[6])
	}
	// V6: module TDX_01, ISV SVN 11 ≥ 6 → UpToDate.
	m := ti.TDXModuleIdentities[1]
	if m.ID != "TDX_01" || m.MajorVersion() != 1 || m.Levels[0].ISVSVN != 6 || m.Levels[0].Status != StatusUpToDate {
		t.Errorf("TDX_01: %+v", m)
	}
	if ti.TDXModule.AttributesMask != [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff} || ti.TDXModule.MRSigner != (quote.TDMeasurement{}) {
		t.Errorf("tdxModule: %+v", ti.TDXModule)
	}
	if ti.TEE() != quote.TEETDX {
		t.Errorf("TEE = %v", ti.TEE())
	}
}

func TestTCBInfoSignature(t *testing.T) {
	for _, name := range []string{sgxCollateral, tdxCollateral, tdxOutdatedCollateral} {
		t.Run(name, func(t *testing.T) {
			b := loadBundle(t, name)
			signer := b.TCBInfoIssuerChain[0]
			if err := b.TCBInfo.CheckSignature(signer); err != nil {
				t.Fatalf("genuine TCB Info: %v", err)
			}
			for i := range []int{0, len(b.TCBInfo.Raw) / 2, len(b.TCBInfo.Raw) - 1} {
				flipped := *b.TCBInfo
				flipped.Raw = bytes.Clone(flipped.Raw)
				flipped.Raw[i] ^= 0x01
				wantErr(t, flipped.CheckSignature(signer), KindSignature, DocTCBInfo)
			}
			upgraded := *b.TCBInfo
			upgraded.Raw = []byte(strings.Replace(string(upgraded.Raw), `"tcbStatus":"OutOfDate"`, `"tcbStatus":"UpToDate"`, 1))
			if bytes.Equal(upgraded.Raw, b.TCBInfo.Raw) {
				t.Fatal("mutation did not apply")
			}
			wantErr(t, upgraded.CheckSignature(signer), KindSignature, DocTCBInfo)
			badSig := *b.TCBInfo
			badSig.Signature[63] ^= 1
			wantErr(t, badSig.CheckSignature(signer), KindSignature, DocTCBInfo)
			wantErr(t, b.TCBInfo.CheckSignature(b.PCKCRLIssuerChain[0]), KindSignature, DocTCBInfo)
			wantErr(t, b.TCBInfo.CheckSignature(nil), KindSignature, DocTCBInfo)
		})
	}
	// The go-tdx-guest PCS bodies verify with the 2018 TCB Signing issuance.
	chain, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"go-tdx-guest/sample_tcbInfo_response", "go-tdx-guest/sample_tcbinfo_response_v5"} {
		ti, err := ParseTCBInfo(testvectors.Read(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := ti.CheckSignature(chain[0]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTCBInfoCheckFor(t *testing.T) {
	ti, err := rawTCBInfo(sgxCollateral)(t)
	if err != nil {
		t.Fatal(err)
	}
	fmspc, _ := ParseFMSPC("00a067110000")
	if err := ti.CheckFor(quote.TEESGX, fmspc, PCEID{}); err != nil {
		t.Errorf("matching platform: %v", err)
	}
	wantErr(t, ti.CheckFor(quote.TEETDX, fmspc, PCEID{}), KindMismatch, DocTCBInfo)
	wantErr(t, ti.CheckFor(quote.TEESGX, FMSPC{1}, PCEID{}), KindMismatch, DocTCBInfo)
	wantErr(t, ti.CheckFor(quote.TEESGX, fmspc, PCEID{0, 1}), KindMismatch, DocTCBInfo)
}

// A level of the SGX vector, for building mutations.
const sgxLevel0 = `{"tcb":{"sgxtcbcomponents":[{"svn":11},{"svn":11},{"svn":2},{"svn":2},{"svn":255},{"svn":1},{"svn":12},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0}],"pcesvn":13},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"SWHardeningNeeded","advisoryIDs":["INTEL-SA-00615"]}`

func TestParseTCBInfoRejects(t *testing.T) {
	sgx := collateralStrings(t, sgxCollateral)["tcb_info"]
	tdx := collateralStrings(t, tdxCollateral)["tcb_info"]
	if !strings.Contains(sgx, sgxLevel0) {
		t.Fatal("sgxLevel0 is not in the vector")
	}
	levelsOnly := `"tcbLevels":[` + sgxLevel0 + `]}`
	sgxHeader := sgx[:strings.Index(sgx, `"tcbLevels"`)]
	oneLevel := sgxHeader + levelsOnly
	if _, err := ParseTCBInfoRaw([]byte(oneLevel), strings.Repeat("00", 64)); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	tdxHeader := tdx[:strings.Index(tdx, `],"tcbLevels":[`)+2]
	tdxLevels := tdx[strings.Index(tdx, `],"tcbLevels":[`)+len(`],"tcbLevels":[`):]
	tdxLevel := tdxLevels[:strings.Index(tdxLevels, `,{"tcb"`)]
	r := func(s, old, new string) string {
		t.Helper()
		if !strings.Contains(s, old) {
			t.Fatalf("%q not found", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	tests := []struct {
		name string
		raw  string
	}{
		{"not JSON", "{"},
		{"not an object", "[]"},
		{"trailing value", oneLevel + "{}"},
		{"trailing comma", strings.TrimSuffix(oneLevel, "}") + ",}"},
		{"duplicate key", r(oneLevel, `"pceId":"0000"`, `"pceId":"0000","pceId":"0000"`)},
		{"duplicate key escaped", r(oneLevel, `"pceId":"0000"`, `"pceId":"0000","pce\u0049d":"0000"`)},
		{"duplicate nested key", r(oneLevel, `"pcesvn":13`, `"pcesvn":13,"pcesvn":13`)},
		{"duplicate key other case", r(oneLevel, `"pceId":"0000"`, `"pceId":"0000","PCEID":"0001"`)},
		{"invalid UTF-8", r(oneLevel, `"INTEL-SA-00615"`, "\"INTEL-SA-\xff\"")},
		{"version 4", r(oneLevel, `"version":3`, `"version":4`)},
		{"version 1", r(oneLevel, `"version":3`, `"version":1`)},
		{"version string", r(oneLevel, `"version":3`, `"version":"3"`)},
		{"version missing", r(oneLevel, `"version":3,`, ``)},
		{"id missing", r(oneLevel, `"id":"SGX",`, ``)},
		{"id unknown", r(oneLevel, `"id":"SGX"`, `"id":"SEV"`)},
		{"id lower case", r(oneLevel, `"id":"SGX"`, `"id":"sgx"`)},
		{"fmspc short", r(oneLevel, `"fmspc":"00A067110000"`, `"fmspc":"00A0671100"`)},
		{"fmspc not hex", r(oneLevel, `"fmspc":"00A067110000"`, `"fmspc":"00A06711000G"`)},
		{"fmspc missing", r(oneLevel, `"fmspc":"00A067110000",`, ``)},
		{"pceId long", r(oneLevel, `"pceId":"0000"`, `"pceId":"000000"`)},
		{"issueDate offset", r(oneLevel, `"issueDate":"2025-06-19T10:56:11Z"`, `"issueDate":"2025-06-19T10:56:11+00:00"`)},
		{"issueDate no zone", r(oneLevel, `"issueDate":"2025-06-19T10:56:11Z"`, `"issueDate":"2025-06-19T10:56:11"`)},
		{"issueDate date only", r(oneLevel, `"issueDate":"2025-06-19T10:56:11Z"`, `"issueDate":"2025-06-19Z"`)},
		{"issueDate null", r(oneLevel, `"issueDate":"2025-06-19T10:56:11Z"`, `"issueDate":null`)},
		{"nextUpdate missing", r(oneLevel, `"nextUpdate":"2025-07-19T10:56:11Z",`, ``)},
		{"nextUpdate before issueDate", r(oneLevel, `"nextUpdate":"2025-07-19T10:56:11Z"`, `"nextUpdate":"2025-05-19T10:56:11Z"`)},
		{"tcbType 1", r(oneLevel, `"tcbType":0`, `"tcbType":1`)},
		{"tcbType missing", r(oneLevel, `"tcbType":0,`, ``)},
		{"evaluation number missing", r(oneLevel, `"tcbEvaluationDataNumber":17,`, ``)},
		{"evaluation number negative", r(oneLevel, `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":-1`)},
		{"evaluation number fraction", r(oneLevel, `"tcbEvaluationDataNumber":17`, `"tcbEvaluationDataNumber":17.5`)},
		{"levels empty", sgxHeader + `"tcbLevels":[]}`},
		{"levels missing", strings.TrimSuffix(sgxHeader, ",") + `}`},
		{"levels null", sgxHeader + `"tcbLevels":null}`},
		{"duplicate level", sgxHeader + `"tcbLevels":[` + sgxLevel0 + `,` + sgxLevel0 + `]}`},
		{"duplicate level other status", sgxHeader + `"tcbLevels":[` + sgxLevel0 + `,` + r(sgxLevel0, `SWHardeningNeeded`, `OutOfDate`) + `]}`},
		{"unknown status", r(oneLevel, `"tcbStatus":"SWHardeningNeeded"`, `"tcbStatus":"Bogus"`)},
		{"status wrong case", r(oneLevel, `"tcbStatus":"SWHardeningNeeded"`, `"tcbStatus":"swhardeningneeded"`)},
		{"status missing", r(oneLevel, `"tcbStatus":"SWHardeningNeeded",`, ``)},
		{"tcbDate bad", r(oneLevel, `"tcbDate":"2024-03-13T00:00:00Z"`, `"tcbDate":"2024-13-13T00:00:00Z"`)},
		{"tcb missing", r(oneLevel, `"tcb":{`, `"tcbx":{`)},
		{"tcb null", sgxHeader + `"tcbLevels":[{"tcb":null,"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]}`},
		{"15 components", r(oneLevel, `{"svn":12},`, ``)},
		{"17 components", r(oneLevel, `{"svn":12},`, `{"svn":12},{"svn":12},`)},
		{"svn 256", r(oneLevel, `{"svn":12}`, `{"svn":256}`)},
		{"svn negative", r(oneLevel, `{"svn":12}`, `{"svn":-1}`)},
		{"svn fraction", r(oneLevel, `{"svn":12}`, `{"svn":1.5}`)},
		{"svn missing", r(oneLevel, `{"svn":12}`, `{"sv":12}`)},
		{"pcesvn missing", r(oneLevel, `,"pcesvn":13`, ``)},
		{"pcesvn 65536", r(oneLevel, `"pcesvn":13`, `"pcesvn":65536`)},
		{"advisory empty", r(oneLevel, `"INTEL-SA-00615"`, `""`)},
		{"advisory not string", r(oneLevel, `"INTEL-SA-00615"`, `5`)},
		{"SGX with tdxModule", r(oneLevel, `"tcbLevels"`, `"tdxModule":{"mrsigner":"`+strings.Repeat("00", 48)+`","attributes":"0000000000000000","attributesMask":"FFFFFFFFFFFFFFFF"},"tcbLevels"`)},
		{"SGX with tdxModuleIdentities", r(oneLevel, `"tcbLevels"`, `"tdxModuleIdentities":[],"tcbLevels"`)},
		{"SGX with tdxtcbcomponents", r(oneLevel, `,"pcesvn":13`, `,"pcesvn":13,"tdxtcbcomponents":[]`)},
		{"deep nesting", r(oneLevel, `"tcbType":0`, `"x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`,"tcbType":0`)},
		{"TDX without tdxModule", tdx[:strings.Index(tdx, `"tdxModule"`)] + tdx[strings.Index(tdx, `"tdxModuleIdentities"`):]},
		{"TDX mrsigner 47 bytes", r(tdx, `"tdxModule":{"mrsigner":"`+strings.Repeat("00", 48), `"tdxModule":{"mrsigner":"`+strings.Repeat("00", 47))},
		{"TDX attributes short", r(tdx, `"attributes":"0000000000000000"`, `"attributes":"00000000000000"`)},
		{"TDX mask missing", r(tdx, `,"attributesMask":"FFFFFFFFFFFFFFFF"}`, `}`)},
		{"TDX module id", r(tdx, `"id":"TDX_03"`, `"id":"TDX_3"`)},
		{"TDX module id not hex", r(tdx, `"id":"TDX_03"`, `"id":"TDX_0Z"`)},
		{"TDX module id missing", r(tdx, `"id":"TDX_03",`, ``)},
		{"TDX module duplicate id", r(tdx, `"id":"TDX_03"`, `"id":"TDX_01"`)},
		{"TDX module level status", r(tdx, `{"isvsvn":3},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"`, `{"isvsvn":3},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"SWHardeningNeeded"`)},
		{"TDX module level duplicate", r(tdx, `{"isvsvn":2}`, `{"isvsvn":4}`)},
		{"TDX module isvsvn 256", r(tdx, `{"isvsvn":2}`, `{"isvsvn":256}`)},
		{"TDX module isvsvn missing", r(tdx, `{"isvsvn":2}`, `{}`)},
		{"TDX module levels empty", r(tdx, `"tcbLevels":[{"tcb":{"isvsvn":3},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]`, `"tcbLevels":[]`)},
		{"TDX without tdxtcbcomponents", tdxHeader + `"tcbLevels":[` + tdxLevel[:strings.Index(tdxLevel, `,"tdxtcbcomponents"`)] + `},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]}`},
		{"TDX 15 tdx components", r(tdx, `"tdxtcbcomponents":[{"svn":5,"category":"OS/VMM","type":"TDX Module"},`, `"tdxtcbcomponents":[`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTCBInfoRaw([]byte(tt.raw), strings.Repeat("00", 64))
			wantErr(t, err, KindFormat, DocTCBInfo)
		})
	}
	t.Run("tdx baseline", func(t *testing.T) {
		if _, err := ParseTCBInfoRaw([]byte(tdxHeader+`"tcbLevels":[`+tdxLevel+`]}`), strings.Repeat("00", 64)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := r(oneLevel, `"tcbType":0`, `"pad":"`+strings.Repeat("a", MaxDocumentSize)+`","tcbType":0`)
		_, err := ParseTCBInfoRaw([]byte(big), strings.Repeat("00", 64))
		wantErr(t, err, KindFormat, DocTCBInfo)
	})
	t.Run("too many levels", func(t *testing.T) {
		var levels []string
		for i := range MaxTCBLevels + 1 {
			levels = append(levels, r(sgxLevel0, `"pcesvn":13`, fmt.Sprintf(`"pcesvn":%d`, i)))
		}
		_, err := ParseTCBInfoRaw([]byte(sgxHeader+`"tcbLevels":[`+strings.Join(levels, ",")+`]}`), strings.Repeat("00", 64))
		wantErr(t, err, KindFormat, DocTCBInfo)
	})
}

func TestParseTCBInfoBodyRejects(t *testing.T) {
	body := strings.TrimSpace(string(testvectors.Read(t, "go-tdx-guest/sample_tcbInfo_response")))
	sig := body[strings.Index(body, `"signature":"`)+len(`"signature":"`) : len(body)-2]
	if len(sig) != 128 {
		t.Fatalf("signature %q", sig)
	}
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"no tcbInfo", `{"signature":"` + sig + `"}`},
		{"tcbInfo null", `{"tcbInfo":null,"signature":"` + sig + `"}`},
		{"tcbInfo array", `{"tcbInfo":[],"signature":"` + sig + `"}`},
		{"no signature", strings.Replace(body, `,"signature":"`+sig+`"`, ``, 1)},
		{"signature short", strings.Replace(body, sig, sig[:126], 1)},
		{"signature long", strings.Replace(body, sig, sig+"00", 1)},
		{"signature not hex", strings.Replace(body, sig, "zz"+sig[2:], 1)},
		{"signature number", strings.Replace(body, `"`+sig+`"`, `5`, 1)},
		{"signature twice, folded key", strings.Replace(body, `"signature"`, `"\u017Fignature":"`+sig+`","signature"`, 1)},
		{"two signatures", strings.Replace(body, `"signature"`, `"signature":"`+sig+`","signature"`, 1)},
		{"trailing garbage", body + "x"},
		{"enclave identity body", string(testvectors.Read(t, "go-tdx-guest/sample_qeIdentity_response"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTCBInfo([]byte(tt.body))
			wantErr(t, err, KindFormat, DocTCBInfo)
		})
	}
	// The raw bytes are kept exactly, including upper/lower case hex of the signature.
	ti, err := ParseTCBInfo([]byte(strings.Replace(body, sig, strings.ToUpper(sig), 1)))
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(body, `{"id"`)
	if want := body[start:strings.Index(body, `,"signature"`)]; string(ti.Raw) != want {
		t.Errorf("Raw is not the exact tcbInfo text")
	}
}

// TCB Info version 2 (PCS API v3): no vector exists, so the document is written here from
// the field list of dcap spec §4.1.
func TestParseTCBInfoV2(t *testing.T) {
	var comps []string
	for i := 1; i <= 16; i++ {
		comps = append(comps, fmt.Sprintf(`"sgxtcbcomp%02dsvn":%d`, i, i))
	}
	tcb := `{` + strings.Join(comps, ",") + `,"pcesvn":10}`
	doc := `{"version":2,"issueDate":"2020-01-01T00:00:00Z","nextUpdate":"2020-02-01T00:00:00Z",` +
		`"fmspc":"00906ea10000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":5,"tcbLevels":[` +
		`{"tcb":` + tcb + `,"tcbDate":"2019-11-13T00:00:00Z","tcbStatus":"UpToDate"}]}`
	ti, err := ParseTCBInfoRaw([]byte(doc), strings.Repeat("ab", 64))
	if err != nil {
		t.Fatal(err)
	}
	want := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if ti.ID != TCBInfoIDSGX || ti.Version != 2 || ti.Levels[0].SGXComponents != want || ti.Levels[0].PCESVN != 10 {
		t.Errorf("got %+v", ti)
	}
	if ti.FMSPC.String() != "00906EA10000" {
		t.Errorf("FMSPC = %s", ti.FMSPC)
	}
	bad := map[string]string{
		"component missing": strings.Replace(doc, `"sgxtcbcomp07svn":7,`, ``, 1),
		"component 300":     strings.Replace(doc, `"sgxtcbcomp07svn":7`, `"sgxtcbcomp07svn":300`, 1),
		"component null":    strings.Replace(doc, `"sgxtcbcomp07svn":7`, `"sgxtcbcomp07svn":null`, 1),
		"pcesvn missing":    strings.Replace(doc, `,"pcesvn":10`, ``, 1),
		"pcesvn negative":   strings.Replace(doc, `"pcesvn":10`, `"pcesvn":-10`, 1),
		"tcb not object":    strings.Replace(doc, tcb, `[]`, 1),
		"id TDX":            strings.Replace(doc, `"version":2`, `"id":"TDX","version":2`, 1),
		"tdxModule":         strings.Replace(doc, `"tcbLevels"`, `"tdxModule":{},"tcbLevels"`, 1),
	}
	for name, raw := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTCBInfoRaw([]byte(raw), strings.Repeat("ab", 64))
			wantErr(t, err, KindFormat, DocTCBInfo)
		})
	}
	withID := strings.Replace(doc, `"version":2`, `"id":"SGX","version":2`, 1)
	if _, err := ParseTCBInfoRaw([]byte(withID), strings.Repeat("ab", 64)); err != nil {
		t.Errorf("version 2 with id SGX: %v", err)
	}
}

// TestTCBInfoModuleIDCase: module identity ids are looked up case-insensitively (dcap spec §5.5
// step 6), so any case parses, keeps its spelling and counts for duplicates.
func TestTCBInfoModuleIDCase(t *testing.T) {
	tdx := collateralStrings(t, tdxCollateral)["tcb_info"]
	parse := func(old, new string) (*TCBInfo, error) {
		t.Helper()
		if !strings.Contains(tdx, old) {
			t.Fatalf("%q not found", old)
		}
		return ParseTCBInfoRaw([]byte(strings.Replace(tdx, old, new, 1)), strings.Repeat("00", 64))
	}
	for _, tt := range []struct {
		old, new string
		index    int
		major    uint8
	}{
		{`"id":"TDX_01"`, `"id":"tdx_01"`, 1, 1},
		{`"id":"TDX_01"`, `"id":"Tdx_01"`, 1, 1},
		{`"id":"TDX_03"`, `"id":"tdx_0b"`, 0, 11},
		{`"id":"TDX_03"`, `"id":"TDX_0B"`, 0, 11},
	} {
		ti, err := parse(tt.old, tt.new)
		if err != nil {
			t.Fatalf("%s: %v", tt.new, err)
		}
		m := ti.TDXModuleIdentities[tt.index]
		if want := strings.Trim(tt.new[len(`"id":`):], `"`); m.ID != want || m.MajorVersion() != tt.major {
			t.Errorf("%s: id %q major %d, want %q major %d", tt.new, m.ID, m.MajorVersion(), want, tt.major)
		}
	}
	for _, bad := range []string{`"id":"tdx_01"`, `"id":"tdx-03"`, `"id":"tdx_3"`, `"id":"tdx_003"`, `"id":"tdy_03"`, `"id":"_tdx03"`} {
		_, err := parse(`"id":"TDX_03"`, bad)
		wantErr(t, err, KindFormat, DocTCBInfo) // tdx_01 duplicates TDX_01
	}
}
