package quote

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
)

// Parse facts from internal/testvectors/testdata/README.md and the spec (§4.2 QE identities).
const (
	sgxQEMRSigner = "8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff"
	tdQEMRSigner  = "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5"
	tdAttrsSEPTVE = "0000001000000000"
	tdxQuoteMRTD  = "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407" +
		"de03ae6dc5f87f27428b2538873118b7"
	sgxMREnclave   = "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"
	sgxMRSigner    = "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6"
	sgxAttributes  = "0500000000000000e700000000000000"
	sgxCPUSVN      = "0b0b1a18ffff04000000000000000000"
	hexSum         = "6af2de9455c6373e" // SHA-256 prefix of the bytes of tdx-quote.hex
	tappdSum       = "219cafdecd8d89d6" // same for quote-from-tappd.hex
	beginCert      = "-----BEGIN CERTIFICATE-----"
	endCertNewline = "-----END CERTIFICATE-----\n"
)

type vectorCase struct {
	name     string // testvectors name
	text     bool   // hex text: decode before Parse, use ParseText
	sum      string // for text vectors: SHA-256 prefix of the decoded bytes
	size     int    // binary size
	declared int    // bytes up to the end of the declared signature data
	version  uint16
	tee      TEE
	bodyType uint16
	bodySize int
	sigLen   uint32 // declared signature data length
	qeSVN    uint16 // QE report ISVSVN
	certLen  int
	certNUL  bool // PEM chain ends with a NUL byte counted in the size
	check    func(t *testing.T, q *Quote)
}

var vectorCases = []vectorCase{
	{name: "phala-dcap-qvl/sgx_quote", size: 4600, declared: 4600, version: 3, tee: TEESGX,
		bodyType: 1, bodySize: 384, sigLen: 4164, qeSVN: 10, certLen: 3548, certNUL: true, check: checkSGXQuote},
	{name: "phala-dcap-qvl/tdx_quote", size: 5006, declared: 4936, version: 4, tee: TEETDX,
		bodyType: 2, bodySize: 584, sigLen: 4300, qeSVN: 6, certLen: 3678, certNUL: true, check: checkTDXQuote},
	{name: "phala-dcap-qvl/tdx_quote_outdated", size: 5006, declared: 5006, version: 5, tee: TEETDX,
		bodyType: 3, bodySize: 648, sigLen: 4300, qeSVN: 7, certLen: 3678, certNUL: true, check: checkOutdated},
	{name: "phala-dcap-qvl/tdx-quote.hex", text: true, sum: hexSum, size: 5006, declared: 4936,
		version: 4, tee: TEETDX, bodyType: 2, bodySize: 584, sigLen: 4300, qeSVN: 6, certLen: 3678,
		certNUL: true, check: checkTCBSVN("05010200000000000000000000000000")},
	{name: "phala-dcap-qvl/quote-from-tappd.hex", text: true, sum: tappdSum, size: 5006, declared: 4936,
		version: 4, tee: TEETDX, bodyType: 2, bodySize: 584, sigLen: 4300, qeSVN: 6, certLen: 3678,
		certNUL: true, check: checkTCBSVN("05010200000000000000000000000000")},
	{name: "go-tdx-guest/tdx_prod_quote_SPR_E4.dat", size: 4974, declared: 4935, version: 4, tee: TEETDX,
		bodyType: 2, bodySize: 584, sigLen: 4299, qeSVN: 4, certLen: 3677, check: checkSPR},
	{name: "go-tdx-guest/quote_v5_sample.dat", size: 5006, declared: 5006, version: 5, tee: TEETDX,
		bodyType: 3, bodySize: 648, sigLen: 4300, qeSVN: 7, certLen: 3678, certNUL: true, check: checkV5Sample},
}

// vectorBytes returns the binary quote of a vector, decoding hex text independently of ParseText.
func vectorBytes(t testing.TB, vc vectorCase) []byte {
	t.Helper()
	b := testvectors.Read(t, vc.name)
	if !vc.text {
		return b
	}
	s := strings.TrimPrefix(strings.TrimSpace(string(b)), "0x")
	raw, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("decoding %s: %v", vc.name, err)
	}
	return raw
}

func TestParseVectors(t *testing.T) {
	for _, vc := range vectorCases {
		t.Run(vc.name, func(t *testing.T) {
			raw := vectorBytes(t, vc)
			if len(raw) != vc.size {
				t.Fatalf("vector size = %d, want %d", len(raw), vc.size)
			}
			if vc.text {
				sum := sha256.Sum256(raw)
				if got := hex.EncodeToString(sum[:]); !strings.HasPrefix(got, vc.sum) {
					t.Fatalf("SHA-256 of decoded bytes = %s, want prefix %s", got, vc.sum)
				}
			}
			parse := Parse
			in := raw
			if vc.text {
				parse, in = ParseText, testvectors.Read(t, vc.name)
			}
			q, err := parse(in)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			checkCommon(t, vc, raw, q)
			vc.check(t, q)
		})
	}
}

func checkCommon(t *testing.T, vc vectorCase, raw []byte, q *Quote) {
	t.Helper()
	h := q.Header
	if h.Version != vc.version || h.AttestationKeyType != 2 || h.TEE != vc.tee ||
		h.QEVendorID != IntelQEVendorID() {
		t.Errorf("header = %+v", h)
	}
	if got := sigDataLen(raw, vc); got != vc.sigLen {
		t.Errorf("declared signature data length = %d, want %d", got, vc.sigLen)
	}
	if q.BodyType != vc.bodyType || (q.SGX != nil) == (q.TDX != nil) || (q.SGX != nil) != (vc.bodyType == 1) {
		t.Errorf("body type %d, SGX %v, TDX %v", q.BodyType, q.SGX != nil, q.TDX != nil)
	}
	if q.TDX != nil && q.TDX.Size() != vc.bodySize {
		t.Errorf("TD report size = %d, want %d", q.TDX.Size(), vc.bodySize)
	}
	checkQE(t, vc, q)
	checkCertData(t, vc, q)
	if m := q.Marshal(); !bytes.Equal(m, raw[:vc.declared]) {
		t.Errorf("Marshal differs from the declared prefix (len %d, want %d)", len(m), vc.declared)
	}
	signedLen := HeaderSize + vc.bodySize
	if vc.version == 5 {
		signedLen += 6
	}
	if !bytes.Equal(q.SignedData(), raw[:signedLen]) {
		t.Errorf("SignedData differs from bytes [0, %d)", signedLen)
	}
}

// sigDataLen reads the u32 after the body straight from the bytes.
func sigDataLen(raw []byte, vc vectorCase) uint32 {
	off := HeaderSize + vc.bodySize
	if vc.version == 5 {
		off += 6
	}
	return uint32(raw[off]) | uint32(raw[off+1])<<8 | uint32(raw[off+2])<<16 | uint32(raw[off+3])<<24
}

func checkQE(t *testing.T, vc vectorCase, q *Quote) {
	t.Helper()
	wantSigner, wantProd := tdQEMRSigner, uint16(2)
	if vc.tee == TEESGX {
		wantSigner, wantProd = sgxQEMRSigner, 1
	}
	qe := q.QEReport
	if qe.ISVSVN != vc.qeSVN || qe.ISVProdID != wantProd || qe.MRSigner.String() != wantSigner {
		t.Errorf("QE report isvsvn %d prodid %d mrsigner %s", qe.ISVSVN, qe.ISVProdID, qe.MRSigner)
	}
	if qe.Debug() {
		t.Error("QE report is debug")
	}
	if len(q.QEAuthData) != 32 {
		t.Errorf("QE auth data size = %d, want 32", len(q.QEAuthData))
	}
	qeRaw := q.QEReportBytes()
	if len(qeRaw) != EnclaveReportSize {
		t.Fatalf("QEReportBytes length %d", len(qeRaw))
	}
	if again, err := ParseEnclaveReport(qeRaw); err != nil || *again != qe {
		t.Errorf("QE report bytes do not round-trip: %v", err)
	}
}

func checkCertData(t *testing.T, vc vectorCase, q *Quote) {
	t.Helper()
	if q.CertDataType != CertDataPCKChain || len(q.CertData) != vc.certLen {
		t.Errorf("cert data type %d length %d, want 5 and %d", q.CertDataType, len(q.CertData), vc.certLen)
	}
	if endsNUL := bytes.HasSuffix(q.CertData, []byte{0}); endsNUL != vc.certNUL {
		t.Errorf("cert data ends with NUL = %v, want %v", endsNUL, vc.certNUL)
	}
	pem, err := q.PCKChainPEM()
	if err != nil {
		t.Fatalf("PCKChainPEM: %v", err)
	}
	if n := strings.Count(string(pem), beginCert); n != 3 ||
		!strings.HasPrefix(string(pem), beginCert) || !strings.HasSuffix(string(pem), endCertNewline) {
		t.Errorf("PCK chain: %d certificates, prefix %q, suffix %q", n, pem[:27], pem[len(pem)-26:])
	}
}

func checkSGXQuote(t *testing.T, q *Quote) {
	t.Helper()
	if q.Header.QESVN != 10 || q.Header.PCESVN != 15 {
		t.Errorf("header QE SVN %d PCE SVN %d, want 10 and 15", q.Header.QESVN, q.Header.PCESVN)
	}
	r := q.SGX
	got := []string{r.MREnclave.String(), r.MRSigner.String(), hex.EncodeToString(r.Attributes[:]),
		hex.EncodeToString(r.CPUSVN[:])}
	want := []string{sgxMREnclave, sgxMRSigner, sgxAttributes, sgxCPUSVN}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SGX report (-want +got):\n%s", diff)
	}
	if r.ISVProdID != 0 || r.ISVSVN != 0 || r.MiscSelect != 0 || r.Debug() {
		t.Errorf("isvprodid %d isvsvn %d miscselect %d debug %v", r.ISVProdID, r.ISVSVN, r.MiscSelect, r.Debug())
	}
	var rd [64]byte
	copy(rd[:], "Hello, world!")
	if r.ReportData != rd || q.ReportData() != rd {
		t.Errorf("report data = %q", r.ReportData)
	}
}

func checkTDXQuote(t *testing.T, q *Quote) {
	t.Helper()
	r := q.TDX
	if r.MRTD.String() != tdxQuoteMRTD || hex.EncodeToString(r.TDAttributes[:]) != tdAttrsSEPTVE ||
		hex.EncodeToString(r.XFAM[:]) != "e702060000000000" || r.RTMRs[3] != (TDMeasurement{}) {
		t.Errorf("MRTD %s TDATTRIBUTES %x XFAM %x RTMR3 %s", r.MRTD, r.TDAttributes, r.XFAM, r.RTMRs[3])
	}
	if r.MRSignerSEAM != (TDMeasurement{}) || r.SEAMAttributes != [8]byte{} || r.Debug() || r.V15 {
		t.Errorf("MRSIGNERSEAM %s SEAMATTRIBUTES %x debug %v V15 %v",
			r.MRSignerSEAM, r.SEAMAttributes, r.Debug(), r.V15)
	}
	rd := q.ReportData()
	if !strings.HasPrefix(hex.EncodeToString(rd[:]), "9a9d48e7f679") {
		t.Errorf("report data = %x", rd)
	}
	checkTCBSVN("06010300000000000000000000000000")(t, q)
}

func checkOutdated(t *testing.T, q *Quote) {
	t.Helper()
	checkTD15(t, q, "07010300000000000000000000000000", "0d010300000000000000000000000000")
}

func checkV5Sample(t *testing.T, q *Quote) {
	t.Helper()
	checkTD15(t, q, "0b010400000000000000000000000000", "0d010400000000000000000000000000")
}

func checkTD15(t *testing.T, q *Quote, svn, svn2 string) {
	t.Helper()
	r := q.TDX
	if !r.V15 || hex.EncodeToString(r.TEETCBSVN2[:]) != svn2 || r.MRServiceTD != (TDMeasurement{}) ||
		hex.EncodeToString(r.TDAttributes[:]) != tdAttrsSEPTVE {
		t.Errorf("V15 %v TEE_TCB_SVN2 %x MRSERVICETD %s TDATTRIBUTES %x",
			r.V15, r.TEETCBSVN2, r.MRServiceTD, r.TDAttributes)
	}
	checkTCBSVN(svn)(t, q)
}

func checkSPR(t *testing.T, q *Quote) {
	t.Helper()
	r := q.TDX
	if !strings.HasPrefix(r.MRTD.String(), "6363b8043668") ||
		hex.EncodeToString(r.TDAttributes[:]) != "0000004000000000" {
		t.Errorf("MRTD %s TDATTRIBUTES %x", r.MRTD, r.TDAttributes)
	}
	checkTCBSVN("03000400000000000000000000000000")(t, q)
}

func checkTCBSVN(want string) func(*testing.T, *Quote) {
	return func(t *testing.T, q *Quote) {
		t.Helper()
		if got := hex.EncodeToString(q.TDX.TEETCBSVN[:]); got != want {
			t.Errorf("TEE_TCB_SVN = %s, want %s", got, want)
		}
	}
}

// TestVectorRoundTrip checks Parse(Marshal(q)) == q for the vectors and that the Quote does not
// alias its input.
func TestVectorRoundTrip(t *testing.T) {
	for _, vc := range vectorCases {
		t.Run(vc.name, func(t *testing.T) {
			raw := vectorBytes(t, vc)
			q, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(q.Marshal())
			if err != nil {
				t.Fatalf("Parse(Marshal(q)): %v", err)
			}
			if diff := cmp.Diff(q, again); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
			for i := range raw {
				raw[i] ^= 0xff // scribble over the input: q must not change
			}
			if diff := cmp.Diff(again, q); diff != "" {
				t.Errorf("Quote aliases its input (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTruncation: every proper prefix shorter than the declared quote is malformed; longer
// prefixes only lose ignored trailing bytes and parse to the same value.
func TestTruncation(t *testing.T) {
	for _, vc := range vectorCases {
		if vc.text {
			continue
		}
		t.Run(vc.name, func(t *testing.T) {
			raw := vectorBytes(t, vc)
			full, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			for n := range len(raw) {
				q, err := Parse(raw[:n:n])
				switch {
				case n < vc.declared && !isMalformed(err):
					t.Fatalf("prefix %d: err = %v, want ErrMalformed", n, err)
				case n >= vc.declared && err != nil:
					t.Fatalf("prefix %d (only trailing bytes cut): %v", n, err)
				case n >= vc.declared && !reflect.DeepEqual(q, full):
					t.Fatalf("prefix %d parses differently", n)
				}
			}
		})
	}
}
