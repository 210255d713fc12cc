package quote

import (
	"bytes"
	"encoding/binary"
)

// MaxSize is the largest input Parse accepts, trailing bytes included. Real quotes are about
// 5 KiB (the PCK certificate chain is about 3.5 KiB); Gramine caps them at 8 KiB.
const MaxSize = 64 << 10

// Header field values accepted by Parse.
const (
	AttestationKeyECDSAP256 uint16 = 2 // header attestation key type: ECDSA-256-with-P-256
)

// Body types (Quote.BodyType; the v5 body descriptor, dcap spec §2.5).
const (
	BodyTypeSGX  uint16 = 1 // SGX enclave report, 384 bytes
	BodyTypeTD10 uint16 = 2 // TD report, TDX 1.0, 584 bytes
	BodyTypeTD15 uint16 = 3 // TD report, TDX 1.5, 648 bytes
)

// Certification data types (dcap spec §2.3). Types 1 to 4 (PPID variants, PCK leaf) are parsed
// but only CertDataPCKChain is useful for verification.
const (
	CertDataPCKChain uint16 = 5 // PEM chain: PCK leaf ‖ intermediate CA ‖ root CA
	CertDataQEReport uint16 = 6 // v4/v5 wrapper around the QE report and the inner data
)

// intelQEVendorID is QVL's INTEL_QE_VENDOR_ID, 939A7233-F79C-4CA9-940A-0DB3957F0607.
var intelQEVendorID = [16]byte{
	0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
	0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
}

// IntelQEVendorID returns the QE vendor ID of Intel's quoting enclaves, the only one Parse accepts.
func IntelQEVendorID() [16]byte { return intelQEVendorID }

// Header is the 48-byte quote header (dcap spec §2.1). In v4/v5 quotes QESVN and PCESVN hold the
// reserved bytes 8..11 (zero in practice).
type Header struct {
	Version            uint16
	AttestationKeyType uint16
	TEE                TEE
	QESVN              uint16
	PCESVN             uint16
	QEVendorID         [16]byte
	UserData           [20]byte
}

func (h *Header) appendTo(b []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, h.Version)
	b = binary.LittleEndian.AppendUint16(b, h.AttestationKeyType)
	b = binary.LittleEndian.AppendUint32(b, uint32(h.TEE))
	b = binary.LittleEndian.AppendUint16(b, h.QESVN)
	b = binary.LittleEndian.AppendUint16(b, h.PCESVN)
	b = append(b, h.QEVendorID[:]...)
	return append(b, h.UserData[:]...)
}

// Quote is a parsed SGX v3 or TDX v4/v5 quote. Parse returns values that own all their memory;
// nothing refers to the input.
type Quote struct {
	Header Header
	// BodyType is 1 (SGX report), 2 (TD report 1.0) or 3 (TD report 1.5). For v3 it is 1, for v4
	// 1 or 2 according to the TEE type; only v5 encodes it.
	BodyType uint16
	// Exactly one of SGX and TDX is set. Marshal encodes SGX when it is set, TDX otherwise.
	SGX *EnclaveReport
	TDX *TDReport

	Signature         [64]byte // ECDSA r‖s by the attestation key over SignedData()
	AttestationKey    [64]byte // P-256 public key X‖Y
	QEReport          EnclaveReport
	QEReportSignature [64]byte // ECDSA r‖s by the PCK key over QEReportBytes()
	QEAuthData        []byte   // nil when empty
	// CertDataType and CertData are the innermost certification data (inside the type-6
	// wrapper for v4/v5): type 1..5 and the bytes as declared, trailing NULs kept.
	CertDataType uint16
	CertData     []byte
}

// SignedData returns the bytes covered by Signature: header ‖ body for v3 and v4,
// header ‖ body type ‖ body size ‖ body for v5.
func (q *Quote) SignedData() []byte {
	return q.appendSigned(make([]byte, 0, HeaderSize+6+q.bodySize()))
}

// QEReportBytes returns the 384 QE report bytes signed by the PCK key (QEReportSignature).
func (q *Quote) QEReportBytes() []byte { return q.QEReport.Marshal() }

// ReportData returns the REPORTDATA of the SGX or TDX body (zero if neither is set).
func (q *Quote) ReportData() [64]byte {
	switch {
	case q.SGX != nil:
		return q.SGX.ReportData
	case q.TDX != nil:
		return q.TDX.ReportData
	}
	return [64]byte{}
}

// PCKChainPEM returns a copy of CertData with trailing NUL bytes removed, ready for PEM decoding.
// It returns a *FormatError wrapping ErrUnsupported unless CertDataType is CertDataPCKChain.
func (q *Quote) PCKChainPEM() ([]byte, error) {
	if q.CertDataType != CertDataPCKChain {
		return nil, unsupported("certification data type", -1, "5 (PCK certificate chain)",
			itoa(uint64(q.CertDataType)))
	}
	return bytes.Clone(bytes.TrimRight(q.CertData, "\x00")), nil
}

// Marshal encodes q; it is the inverse of Parse: for every q returned by Parse, Parse(Marshal(q))
// returns a value equal to q, and Marshal(q) equals the parsed input up to the end of its declared
// signature data. Marshal does not validate q: for a hand-built value that breaks the rules Parse
// enforces (including QEAuthData longer than 65535 bytes), Parse refuses the result. The
// signature data is framed as in v3 when Header.Version is 3, with the type-6 wrapper otherwise.
func (q *Quote) Marshal() []byte {
	qeLen := EnclaveReportSize + 64 + 2 + len(q.QEAuthData) + 2 + 4 + len(q.CertData)
	sigLen := 2*64 + qeLen
	if q.Header.Version != 3 {
		sigLen += 2 + 4
	}
	b := make([]byte, 0, HeaderSize+6+q.bodySize()+4+sigLen)
	b = q.appendSigned(b)
	b = binary.LittleEndian.AppendUint32(b, uint32(sigLen))
	b = append(b, q.Signature[:]...)
	b = append(b, q.AttestationKey[:]...)
	if q.Header.Version != 3 {
		b = binary.LittleEndian.AppendUint16(b, CertDataQEReport)
		b = binary.LittleEndian.AppendUint32(b, uint32(qeLen))
	}
	return q.appendQEData(b)
}

// appendSigned appends the region covered by Signature.
func (q *Quote) appendSigned(b []byte) []byte {
	b = q.Header.appendTo(b)
	if q.Header.Version == 5 {
		b = binary.LittleEndian.AppendUint16(b, q.BodyType)
		b = binary.LittleEndian.AppendUint32(b, uint32(q.bodySize()))
	}
	switch {
	case q.SGX != nil:
		b = q.SGX.appendTo(b)
	case q.TDX != nil:
		b = q.TDX.appendTo(b)
	}
	return b
}

func (q *Quote) bodySize() int {
	switch {
	case q.SGX != nil:
		return EnclaveReportSize
	case q.TDX != nil:
		return q.TDX.Size()
	}
	return 0
}

// appendQEData appends QE report ‖ QE report signature ‖ auth data size ‖ auth data ‖
// certification data type ‖ size ‖ data: the v3 signature data after the attestation key, and
// the content of the v4/v5 type-6 certification data.
func (q *Quote) appendQEData(b []byte) []byte {
	b = q.QEReport.appendTo(b)
	b = append(b, q.QEReportSignature[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(q.QEAuthData)))
	b = append(b, q.QEAuthData...)
	b = binary.LittleEndian.AppendUint16(b, q.CertDataType)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(q.CertData)))
	return append(b, q.CertData...)
}
