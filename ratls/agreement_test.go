package ratls

import (
	"bytes"
	"crypto/sha512"
	"crypto/x509/pkix"
	"testing"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// agreementPair is the TCG quote of a certificate, parsed and raw, and a legacy quote that
// binds agreementSPKI and differs from it only in the report data, the signature and the QE
// report signature, as a quoting enclave (or the simulator) produces them.
type agreementPair struct {
	name      string
	tcg       *quote.Quote
	tcgRaw    []byte
	legacyRaw []byte
	opaque    [3]int // offsets of the report data, signature, QE report signature (dcap spec §2)
}

// inOpaque reports whether byte i of the pair's quotes is in one of the opaque fields.
func (p agreementPair) inOpaque(i int) bool {
	for _, off := range p.opaque {
		if i >= off && i < off+64 {
			return true
		}
	}
	return false
}

var agreementSPKI = []byte("stand-in for the certificate's SubjectPublicKeyInfo")

// agreementPairs covers every quote layout quote.Parse accepts: SGX v3, v4, v5 and TDX v4
// (TD report 1.0), v5 (1.0 and 1.5), with QE authentication data present.
func agreementPairs(t testing.TB) []agreementPair {
	t.Helper()
	sgx := func(version uint16) *quote.Quote {
		q := testQuoteStruct(testReport(mrEnclaveA), nil)
		q.Header.Version = version
		q.QEAuthData = []byte("qe authentication data")
		return q
	}
	tdx := func(version, bodyType uint16) *quote.Quote {
		q := sgx(version)
		td := &quote.TDReport{MRTD: quote.TDMeasurement{0x7d, 1}, V15: bodyType == quote.BodyTypeTD15}
		td.RTMRs[3][47] = 0x33
		if td.V15 {
			td.TEETCBSVN2[0], td.MRServiceTD[47] = 0x15, 0x51
		}
		q.Header.TEE, q.BodyType, q.SGX, q.TDX = quote.TEETDX, bodyType, nil, td
		return q
	}
	// Offsets: report data in the body; signature after the body and the signature data
	// length; QE report signature after the signature, the attestation key, (v4, v5) the
	// certification data type and size, and the QE report.
	layouts := []struct {
		name   string
		q      *quote.Quote
		opaque [3]int
	}{
		{"sgx v3", sgx(3), [3]int{48 + 320, 48 + 384 + 4, 48 + 384 + 4 + 128 + 384}},
		{"sgx v4", sgx(4), [3]int{48 + 320, 48 + 384 + 4, 48 + 384 + 4 + 128 + 6 + 384}},
		{"sgx v5", func() *quote.Quote { q := sgx(5); q.BodyType = quote.BodyTypeSGX; return q }(), [3]int{54 + 320, 54 + 384 + 4, 54 + 384 + 4 + 128 + 6 + 384}},
		{"tdx v4", tdx(4, quote.BodyTypeTD10), [3]int{48 + 520, 48 + 584 + 4, 48 + 584 + 4 + 128 + 6 + 384}},
		{"tdx v5 1.0", tdx(5, quote.BodyTypeTD10), [3]int{54 + 520, 54 + 584 + 4, 54 + 584 + 4 + 128 + 6 + 384}},
		{"tdx v5 1.5", tdx(5, quote.BodyTypeTD15), [3]int{54 + 520, 54 + 648 + 4, 54 + 648 + 4 + 128 + 6 + 384}},
	}
	pairs := make([]agreementPair, 0, len(layouts))
	for _, l := range layouts {
		withRD := func(rd [64]byte) []byte {
			q := *l.q
			if q.SGX != nil {
				r := *q.SGX
				r.ReportData, q.SGX = rd, &r
			} else {
				r := *q.TDX
				r.ReportData, q.TDX = rd, &r
			}
			q.Signature = fakeSignature(&q)
			q.QEReportSignature = sha512.Sum512(rd[:]) // re-signed for each quote, as sim does
			return q.Marshal()
		}
		tcgRaw := withRD(reportDataFor([]byte("claims")))
		p := agreementPair{name: l.name, tcg: parseQuoteT(t, tcgRaw), tcgRaw: tcgRaw,
			legacyRaw: withRD(reportDataFor(agreementSPKI)), opaque: l.opaque}
		if p.tcg.BodyType != l.q.BodyType || len(p.tcg.SignedData()) != p.opaque[1]-4 {
			t.Fatalf("%s: test bug: body type %d, signed data %d bytes", l.name, p.tcg.BodyType, len(p.tcg.SignedData()))
		}
		if qe := p.opaque[2]; !bytes.Equal(tcgRaw[qe-384:qe], p.tcg.QEReportBytes()) {
			t.Fatalf("%s: test bug: QE report not before offset %d", l.name, qe)
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// fullAgreement is the reference: what checkAgreement did before it compared bytes, and still
// does when they differ outside the windows (parse the legacy quote, bind, compare enclaves).
func fullAgreement(tcg *quote.Quote, ext *pkix.Extension, spki []byte) error {
	legacy, err := parseLegacy(ext, spki)
	if err != nil {
		return err
	}
	if !sameEnclave(tcg, legacy) {
		return refuse(ReasonEvidenceConflict, "legacy extension", "different enclaves")
	}
	return nil
}

// checkAgreementLikeFull runs checkAgreement and the reference on the same legacy bytes and
// fails unless both accept or both refuse with the same reason.
func checkAgreementLikeFull(t *testing.T, p agreementPair, legacy []byte) {
	t.Helper()
	ext := &pkix.Extension{Id: OIDLegacyQuote, Value: legacy}
	got := checkAgreement(p.tcg, p.tcgRaw, ext, agreementSPKI)
	want := fullAgreement(p.tcg, ext, agreementSPKI)
	if (got == nil) != (want == nil) || ReasonOf(got) != ReasonOf(want) {
		t.Fatalf("checkAgreement: %v (reason %q), full path: %v (reason %q)", got, ReasonOf(got), want, ReasonOf(want))
	}
}

// TestCheckAgreementOpaqueFields pins the byte comparison to the quote layouts: the legacy quote
// of a pair takes it, a one-byte change takes it exactly when the byte is in an opaque field, and
// every change (any byte, two bit patterns, one byte more or less) gets the verdict of the full
// path.
func TestCheckAgreementOpaqueFields(t *testing.T) {
	for _, p := range agreementPairs(t) {
		t.Run(p.name, func(t *testing.T) {
			rd, ok := sameOutsideOpaque(p.tcg, p.tcgRaw, p.legacyRaw)
			if want := reportDataFor(agreementSPKI); !ok || !bytes.Equal(rd, want[:]) {
				t.Fatalf("pair not compared by bytes (ok %v), report data %x", ok, rd)
			}
			if err := checkAgreement(p.tcg, p.tcgRaw, &pkix.Extension{Value: p.legacyRaw}, agreementSPKI); err != nil {
				t.Fatalf("pair refused: %v", err)
			}
			// A quote that was not parsed from raw (its fields are not where raw has them) is
			// never compared by bytes.
			if _, ok := sameOutsideOpaque(parseQuoteT(t, p.legacyRaw), p.tcgRaw, p.legacyRaw); ok {
				t.Fatal("compared by bytes against a quote parsed from other bytes")
			}
			for i := range p.legacyRaw {
				for _, mask := range []byte{0x01, 0x80} {
					legacy := bytes.Clone(p.legacyRaw)
					legacy[i] ^= mask
					if _, ok := sameOutsideOpaque(p.tcg, p.tcgRaw, legacy); ok != p.inOpaque(i) {
						t.Fatalf("byte %d ^ %#x: compared by bytes %v, want %v", i, mask, ok, p.inOpaque(i))
					}
					checkAgreementLikeFull(t, p, legacy)
				}
			}
			for _, legacy := range [][]byte{append(bytes.Clone(p.legacyRaw), 0), p.legacyRaw[:len(p.legacyRaw)-1]} {
				if _, ok := sameOutsideOpaque(p.tcg, p.tcgRaw, legacy); ok {
					t.Fatalf("%d bytes compared by bytes with %d", len(legacy), len(p.tcgRaw))
				}
				checkAgreementLikeFull(t, p, legacy)
			}
		})
	}
}

// TestCheckAgreementReasons: the outcomes of the byte comparison and of the full path it falls
// back to, by reason code.
func TestCheckAgreementReasons(t *testing.T) {
	p := agreementPairs(t)[0]
	set := func(off int, v ...byte) []byte {
		b := bytes.Clone(p.legacyRaw)
		copy(b[off:], v)
		return b
	}
	otherPCK := testQuoteStruct(testReport(mrEnclaveA), []byte("another PCK chain"))
	otherPCK.SGX.ReportData = reportDataFor(agreementSPKI)
	tests := []struct {
		name       string
		legacy     []byte
		wantReason Reason // "" = agrees
	}{
		{"same but report data and signatures", p.legacyRaw, ""},
		{"report data binds another key", set(p.opaque[0], 0xff), ReasonBindingInvalid},
		{"report data past the key hash differs", set(p.opaque[0]+32, 0xff), ""},
		{"other signature", set(p.opaque[1], 0xff), ""},
		{"other qe report signature", set(p.opaque[2]+63, 0xff), ""},
		{"attestation key differs", set(p.opaque[1]+64, 0xff), ""},
		{"qe report data differs", set(p.opaque[2]-1, 0xff), ""},
		{"qe auth data size off", set(p.opaque[2]+64, 0xff), Reason(verify.ReasonQuoteMalformed)},
		{"mrenclave one byte off", set(48+64, p.legacyRaw[48+64]^0x01), ReasonEvidenceConflict},
		{"isv svn one bit off", set(48+258, p.legacyRaw[48+258]^0x01), ReasonEvidenceConflict},
		{"qe svn differs (header only)", set(8, 0x09), ""},
		{"other pck chain", otherPCK.Marshal(), ""},
		{"trailing byte", append(bytes.Clone(p.legacyRaw), 0), ""},
		{"signature data length off", set(p.opaque[1]-4, 0xff), Reason(verify.ReasonQuoteMalformed)},
		{"attestation key type unsupported", set(2, 3), Reason(verify.ReasonQuoteUnsupported)},
		{"truncated", p.legacyRaw[:MinQuoteSize+100], Reason(verify.ReasonQuoteMalformed)},
		{"shorter than a quote", p.legacyRaw[:MinQuoteSize-1], ReasonExtensionMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkAgreement(p.tcg, p.tcgRaw, &pkix.Extension{Value: tt.legacy}, agreementSPKI)
			if got := ReasonOf(err); got != tt.wantReason || (err == nil) != (tt.wantReason == "") {
				t.Fatalf("reason %q, want %q: %v", got, tt.wantReason, err)
			}
		})
	}
}
