package quote

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Minimum signature data sizes: signature, attestation key, QE report, QE report signature,
// auth data size, certification data type and size, all variable parts empty (dcap spec §2.6).
const (
	minSigDataV3 = 64 + 64 + EnclaveReportSize + 64 + 2 + 2 + 4         // 584
	minSigDataV4 = 64 + 64 + 2 + 4 + EnclaveReportSize + 64 + 2 + 2 + 4 // 590
)

// Parse decodes a binary quote: SGX v3, or v4/v5 with an SGX, TDX 1.0 or TDX 1.5 body
// (dcap spec §2). It is strict in the way Intel's QVL is (§2.6): version 3, 4 or 5; attestation
// key type 2; TEE type SGX or TDX (SGX only in v3); Intel's QE vendor ID; certification data type
// 1..5 in v3, and in v4/v5 a type-6 wrapper holding the QE report, its signature, the QE
// authentication data and inner certification data of type 1..5; in v5 a body type of 1, 2 or 3
// whose declared size matches, and that is 1 exactly when the TEE is SGX. All declared lengths must
// fit, and the signature data must be consumed exactly by its parts. Reserved bytes of the SGX
// reports must be zero, so Marshal can reproduce the input.
//
// Bytes after the declared signature data are ignored, as QVL ignores them (TDX quote buffers are
// often zero-padded). Input longer than MaxSize is refused. The returned Quote does not refer to b.
//
// Errors are *FormatError values wrapping ErrUnsupported (version, attestation key type, TEE type,
// QE vendor, certification data type, body type) or ErrMalformed (everything else). Unsupported
// means a format Intel defines that this package does not handle (EPID versions 1 and 2,
// P-384 attestation keys, ...); a version number Intel never defined is not a quote at all, so
// it is malformed — garbage input almost always lands there.
// Parse does not verify any signature.
func Parse(b []byte) (*Quote, error) {
	if len(b) > MaxSize {
		return nil, malformed("quote size", 0, "<= "+nbytes(MaxSize), nbytes(len(b)))
	}
	c := &cursor{b: b, end: len(b)}
	q := new(Quote)
	var err error
	if q.Header, err = parseHeader(c); err != nil {
		return nil, err
	}
	bodyLen, err := q.parseBodyLayout(c)
	if err != nil {
		return nil, err
	}
	minSig := minSigDataV4
	if q.Header.Version == 3 {
		minSig = minSigDataV3
	}
	if n := c.pos + bodyLen + 4 + minSig; len(b) < n {
		return nil, malformed("quote size", 0, ">= "+nbytes(n), nbytes(len(b)))
	}
	if err := q.parseBody(c, bodyLen); err != nil {
		return nil, err
	}
	if err := q.parseSignatureData(c); err != nil {
		return nil, err
	}
	return q, nil
}

func parseHeader(c *cursor) (Header, error) {
	raw, err := c.take("header", HeaderSize)
	if err != nil {
		return Header{}, err
	}
	f := fieldReader{b: raw}
	h := Header{Version: f.u16(), AttestationKeyType: f.u16(), TEE: TEE(f.u32())}
	h.QESVN = f.u16()
	h.PCESVN = f.u16()
	f.bytes(h.QEVendorID[:])
	f.bytes(h.UserData[:])
	return h, h.validate()
}

// validate applies dcap spec §2.6 rules 1 and 2 (TEE part) to the header.
func (h *Header) validate() error {
	switch {
	case h.Version == 1 || h.Version == 2:
		return unsupported("version", 0, "3, 4 or 5 (DCAP ECDSA)", itoa(uint64(h.Version))+" (EPID)")
	case h.Version < 3 || h.Version > 5:
		return malformed("version", 0, "3, 4 or 5", itoa(uint64(h.Version)))
	case h.AttestationKeyType != AttestationKeyECDSAP256:
		return unsupported("attestation key type", 2, "2 (ECDSA P-256)",
			itoa(uint64(h.AttestationKeyType)))
	case h.TEE != TEESGX && h.TEE != TEETDX:
		return unsupported("tee type", 4, "0x0 (sgx) or 0x81 (tdx)", fmt.Sprintf("%#x", uint32(h.TEE)))
	case h.Version == 3 && h.TEE != TEESGX:
		return unsupported("tee type", 4, "0x0 (sgx) in a version 3 quote",
			fmt.Sprintf("%#x", uint32(h.TEE)))
	case h.QEVendorID != intelQEVendorID:
		return unsupported("QE vendor ID", 12, hex.EncodeToString(intelQEVendorID[:]),
			hex.EncodeToString(h.QEVendorID[:]))
	}
	return nil
}

// parseBodyLayout sets q.BodyType, from the header for v3/v4 or from the v5 body descriptor, and
// returns the body size.
func (q *Quote) parseBodyLayout(c *cursor) (int, error) {
	switch q.Header.Version {
	case 3:
		q.BodyType = BodyTypeSGX
	case 4:
		q.BodyType = BodyTypeSGX
		if q.Header.TEE == TEETDX {
			q.BodyType = BodyTypeTD10
		}
	default:
		return q.parseBodyDescriptor(c)
	}
	return bodySizeOf(q.BodyType), nil
}

// parseBodyDescriptor reads the v5 body type and size (dcap spec §2.5, §2.6 rule 4).
func (q *Quote) parseBodyDescriptor(c *cursor) (int, error) {
	typeOff := c.pos
	t, err := c.u16("body type")
	if err != nil {
		return 0, err
	}
	size := bodySizeOf(t)
	if size == 0 {
		return 0, unsupported("body type", typeOff, "1, 2 or 3", itoa(uint64(t)))
	}
	if sgx := q.Header.TEE == TEESGX; sgx != (t == BodyTypeSGX) {
		want := "2 or 3 (tdx)"
		if sgx {
			want = "1 (sgx)"
		}
		return 0, unsupported("body type", typeOff, want, itoa(uint64(t)))
	}
	sizeOff := c.pos
	n, err := c.u32("body size")
	if err != nil {
		return 0, err
	}
	if uint64(n) != uint64(size) {
		return 0, malformed("body size", sizeOff, strconv.Itoa(size), itoa(uint64(n)))
	}
	q.BodyType = t
	return size, nil
}

// bodySizeOf returns the body size of a body type, or 0 for an unknown type.
func bodySizeOf(t uint16) int {
	switch t {
	case BodyTypeSGX:
		return EnclaveReportSize
	case BodyTypeTD10:
		return TDReport10Size
	case BodyTypeTD15:
		return TDReport15Size
	}
	return 0
}

func (q *Quote) parseBody(c *cursor, n int) error {
	off := c.pos
	raw, err := c.take("report body", n)
	if err != nil {
		return err
	}
	if q.BodyType == BodyTypeSGX {
		q.SGX, err = decodeEnclaveReport(raw, off)
		return err
	}
	q.TDX = decodeTDReport(raw)
	return nil
}

// parseSignatureData reads the signature data length and the signature data, which must be
// consumed exactly (dcap spec §2.3, §2.4, §2.6 rules 2, 3, 6). Later bytes are ignored.
func (q *Quote) parseSignatureData(c *cursor) error {
	lenOff := c.pos
	n, err := c.u32("signature data length")
	if err != nil {
		return err
	}
	if rest := c.end - c.pos; uint64(n) > uint64(rest) {
		return malformed("signature data length", lenOff, "<= "+strconv.Itoa(rest), itoa(uint64(n)))
	}
	c.end = c.pos + int(n)
	if err := c.read("quote signature", q.Signature[:]); err != nil {
		return err
	}
	if err := c.read("attestation key", q.AttestationKey[:]); err != nil {
		return err
	}
	if q.Header.Version == 3 {
		return q.parseQEData(c, "certification data")
	}
	typeOff := c.pos
	t, err := c.u16("certification data type")
	if err != nil {
		return err
	}
	if t != CertDataQEReport {
		return unsupported("certification data type", typeOff, "6 (QE report certification data)",
			itoa(uint64(t)))
	}
	if err := c.exactLength("certification data size"); err != nil {
		return err
	}
	return q.parseQEData(c, "inner certification data")
}

// parseQEData reads QE report ‖ QE report signature ‖ QE auth data ‖ certification data up to
// c.end exactly; certField names the certification data in errors.
func (q *Quote) parseQEData(c *cursor, certField string) error {
	off := c.pos
	raw, err := c.take("QE report", EnclaveReportSize)
	if err != nil {
		return err
	}
	rep, err := decodeEnclaveReport(raw, off)
	if err != nil {
		return err
	}
	q.QEReport = *rep
	if err := c.read("QE report signature", q.QEReportSignature[:]); err != nil {
		return err
	}
	if q.QEAuthData, err = c.lengthPrefixed16("QE authentication data size"); err != nil {
		return err
	}
	typeOff := c.pos
	if q.CertDataType, err = c.u16(certField + " type"); err != nil {
		return err
	}
	if q.CertDataType < 1 || q.CertDataType > CertDataPCKChain {
		return unsupported(certField+" type", typeOff, "1..5", itoa(uint64(q.CertDataType)))
	}
	if err := c.exactLength(certField + " size"); err != nil {
		return err
	}
	q.CertData = cloneOrNil(c.b[c.pos:c.end])
	c.pos = c.end
	return nil
}

// cursor reads fields from b[pos:end]; end is the limit of the structure being read.
type cursor struct {
	b        []byte
	pos, end int
}

// take returns the next n bytes (aliasing b).
func (c *cursor) take(field string, n int) ([]byte, error) {
	if rest := c.end - c.pos; n > rest {
		return nil, malformed(field, c.pos, nbytes(n), nbytes(rest))
	}
	s := c.b[c.pos : c.pos+n : c.pos+n]
	c.pos += n
	return s, nil
}

// read fills dst from the next len(dst) bytes.
func (c *cursor) read(field string, dst []byte) error {
	s, err := c.take(field, len(dst))
	copy(dst, s)
	return err
}

func (c *cursor) u16(field string) (uint16, error) {
	s, err := c.take(field, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(s), nil
}

func (c *cursor) u32(field string) (uint32, error) {
	s, err := c.take(field, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

// lengthPrefixed16 reads a u16 length and that many bytes, returned as a copy (nil if empty).
func (c *cursor) lengthPrefixed16(field string) ([]byte, error) {
	off := c.pos
	n, err := c.u16(field)
	if err != nil {
		return nil, err
	}
	if rest := c.end - c.pos; int(n) > rest {
		return nil, malformed(field, off, "<= "+strconv.Itoa(rest), itoa(uint64(n)))
	}
	s, _ := c.take(field, int(n))
	return cloneOrNil(s), nil
}

// exactLength reads a u32 length that must equal the number of bytes left before c.end.
func (c *cursor) exactLength(field string) error {
	off := c.pos
	n, err := c.u32(field)
	if err != nil {
		return err
	}
	if rest := c.end - c.pos; uint64(n) != uint64(rest) {
		return malformed(field, off, strconv.Itoa(rest), itoa(uint64(n)))
	}
	return nil
}

func cloneOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return bytes.Clone(b)
}
