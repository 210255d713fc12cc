package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

const (
	stepQEReportSig = "qe report signature"
	stepQEBinding   = "qe report binding"
	stepQEMatch     = "qe identity match"
	stepQuoteSig    = "quote signature"
)

// checkQEReportSignature verifies the QE report signature with the PCK key (dcap spec §5.5
// step 7).
func checkQEReportSignature(q *quote.Quote, c *pckChain) error {
	if !verifyRS(c.key, digest(q.QEReportBytes()), &q.QEReportSignature) {
		return fail(ReasonQEReportSignatureInvalid, stepQEReportSig,
			errors.New("QE report is not signed by the PCK certificate's key"))
	}
	return nil
}

// qeReportKey is the cache key of a verified QE report signature: SHA-256 of the report, its
// signature and the PCK public key that verified it.
func qeReportKey(q *quote.Quote, c *pckChain) [32]byte {
	h := sha256.New()
	h.Write(q.QEReportBytes())
	h.Write(q.QEReportSignature[:])
	h.Write(c.leaf.RawSubjectPublicKeyInfo)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// checkQEBinding checks that the QE report commits to the attestation key (dcap spec §2.7,
// §5.5 step 8): REPORTDATA[0:32] = SHA-256(attestation key ‖ QE authentication data). Like QVL,
// bytes 32..63 are not compared.
func checkQEBinding(q *quote.Quote) error {
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var sum [32]byte
	h.Sum(sum[:0])
	if !bytes.Equal(sum[:], q.QEReport.ReportData[:32]) {
		return mismatch(ReasonQEReportBindingInvalid, stepQEBinding,
			"QE report data does not commit to the attestation key",
			hex.EncodeToString(sum[:]), hex.EncodeToString(q.QEReport.ReportData[:32]))
	}
	return nil
}

// matchQEIdentity compares the QE report with the QE Identity (dcap spec §5.6) and returns the
// first level whose isvsvn the report meets, or nil (carried forward: no level is
// TCB_NOT_SUPPORTED once the signatures have been checked).
func matchQEIdentity(r *quote.EnclaveReport, id *pcs.QEIdentity) (*pcs.QELevel, error) {
	var misc [4]byte
	binary.LittleEndian.PutUint32(misc[:], r.MiscSelect)
	if !maskedEqual(misc[:], id.MiscSelectMask[:], id.MiscSelect[:]) {
		return nil, mismatch(ReasonQEIdentityMismatch, stepQEMatch, "MISCSELECT under mask differs",
			hex.EncodeToString(id.MiscSelect[:]), hex.EncodeToString(misc[:]))
	}
	if !maskedEqual(r.Attributes[:], id.AttributesMask[:], id.Attributes[:]) {
		return nil, mismatch(ReasonQEIdentityMismatch, stepQEMatch, "ATTRIBUTES under mask differ",
			hex.EncodeToString(id.Attributes[:]), hex.EncodeToString(r.Attributes[:]))
	}
	if r.MRSigner != id.MRSigner {
		return nil, mismatch(ReasonQEIdentityMismatch, stepQEMatch, "MRSIGNER differs",
			id.MRSigner.String(), r.MRSigner.String())
	}
	if r.ISVProdID != id.ISVProdID {
		return nil, mismatch(ReasonQEIdentityMismatch, stepQEMatch, "ISVPRODID differs",
			strconv.Itoa(int(id.ISVProdID)), strconv.Itoa(int(r.ISVProdID)))
	}
	for i := range id.Levels {
		if uint32(id.Levels[i].ISVSVN) <= uint32(r.ISVSVN) {
			return &id.Levels[i], nil
		}
	}
	return nil, nil
}

// maskedEqual reports whether v & mask == want, byte by byte (all three have equal length).
func maskedEqual(v, mask, want []byte) bool {
	for i := range v {
		if v[i]&mask[i] != want[i] {
			return false
		}
	}
	return true
}

// checkQuoteSignature verifies the quote signature with the attestation key over the signed
// region (dcap spec §5.5 step 10).
func checkQuoteSignature(q *quote.Quote) error {
	key, err := p256Key(&q.AttestationKey)
	if err != nil {
		return fail(ReasonQuoteSignatureInvalid, stepQuoteSig, errors.New("attestation key is not a P-256 point"))
	}
	if !verifyRS(key, digest(q.SignedData()), &q.Signature) {
		return fail(ReasonQuoteSignatureInvalid, stepQuoteSig, errors.New("quote is not signed by the attestation key"))
	}
	return nil
}
