package ratls

import (
	"bytes"
	"crypto/x509/pkix"

	"github.com/secretprov/secretprov/quote"
)

// opaqueSize is the size of the quote fields the byte comparison of checkAgreement skips.
const opaqueSize = 64

// checkAgreement refuses a legacy quote that does not tell the same story as the TCG one
// (tcg, parsed from tcgRaw): it must parse, bind the key and come from the same enclave.
//
// The two quotes of a certificate come from one quoting enclave moments apart, so they are
// normally the same bytes except in three 64-byte fields: the report data, the quote signature
// and, when the quoting enclave signs its report again for each quote (the simulator does),
// the QE report signature. quote.Parse copies these fields into ReportData, Signature and
// QEReportSignature and checks nothing in them, and sameEnclave does not compare them. So a
// legacy quote that has tcgRaw's bytes outside them parses, field for field, as tcg with other
// values of those three, and describes the same enclave: only its key binding is left to check,
// on its report data bytes, and it is not parsed. Any other legacy quote takes the full path
// (parse, bind, compare the enclaves). Both paths give the same verdicts; TestCheckAgreement*
// and FuzzCheckAgreement compare them.
func checkAgreement(tcg *quote.Quote, tcgRaw []byte, ext *pkix.Extension, spki []byte) error {
	if rd, ok := sameOutsideOpaque(tcg, tcgRaw, ext.Value); ok {
		return checkLegacyBinding(rd, spki)
	}
	legacy, err := parseLegacy(ext, spki)
	if err != nil {
		return err
	}
	if !sameEnclave(tcg, legacy) {
		return refuse(ReasonEvidenceConflict, "legacy extension",
			"legacy and tcg quotes describe different enclaves")
	}
	return nil
}

// sameOutsideOpaque reports whether other has the length of raw (the bytes q was parsed from)
// and the same bytes outside q's opaque fields (opaqueFields), and returns other's report data,
// a read-only subslice of other. ok is false whenever the fields located from q's layout do not
// hold q's values in raw, so that a layout this function gets wrong takes the full path.
func sameOutsideOpaque(q *quote.Quote, raw, other []byte) (reportData []byte, ok bool) {
	offs, ok := opaqueFields(q)
	if !ok || len(other) != len(raw) || len(raw) < offs[2]+opaqueSize {
		return nil, false
	}
	rd := q.ReportData()
	for i, want := range [][]byte{rd[:], q.Signature[:], q.QEReportSignature[:]} {
		if !bytes.Equal(raw[offs[i]:offs[i]+opaqueSize], want) {
			return nil, false
		}
	}
	from := 0
	for _, off := range offs {
		if !bytes.Equal(raw[from:off], other[from:off]) {
			return nil, false
		}
		from = off + opaqueSize
	}
	if !bytes.Equal(raw[from:], other[from:]) {
		return nil, false
	}
	return other[offs[0] : offs[0]+opaqueSize : offs[0]+opaqueSize], true
}

// opaqueFields returns the offsets, in the bytes a quote was parsed from, of its report data,
// quote signature and QE report signature, in that (increasing) order (dcap spec §2): the
// 48-byte header; in v5 the body type and size (6 bytes); the body, whose report data is at 320
// (SGX report) or 520 (TD report 1.0 and 1.5); the 4-byte signature data length; the signature
// and the attestation key (64 bytes each); in v4 and v5 the certification data type and size
// (6 bytes); the 384-byte QE report; the QE report signature.
func opaqueFields(q *quote.Quote) (offs [3]int, ok bool) {
	body, sigData := quote.HeaderSize, 0
	if q.Header.Version == 5 {
		body += 2 + 4
	}
	switch {
	case q.SGX != nil:
		offs[0], sigData = body+quote.EnclaveReportSize-opaqueSize, body+quote.EnclaveReportSize
	case q.TDX != nil:
		offs[0], sigData = body+quote.TDReport10Size-opaqueSize, body+q.TDX.Size()
	default:
		return offs, false
	}
	offs[1] = sigData + 4
	offs[2] = offs[1] + 2*opaqueSize + quote.EnclaveReportSize
	if q.Header.Version != 3 {
		offs[2] += 2 + 4
	}
	return offs, true
}

// sameEnclave reports whether two quotes have the same TEE, body type and report body apart
// from the report data.
func sameEnclave(a, b *quote.Quote) bool {
	if a.Header.TEE != b.Header.TEE || a.BodyType != b.BodyType {
		return false
	}
	switch {
	case a.SGX != nil && b.SGX != nil:
		x, y := *a.SGX, *b.SGX
		x.ReportData, y.ReportData = [64]byte{}, [64]byte{}
		return x == y
	case a.TDX != nil && b.TDX != nil:
		x, y := *a.TDX, *b.TDX
		x.ReportData, y.ReportData = [64]byte{}, [64]byte{}
		return x == y
	}
	return false
}
