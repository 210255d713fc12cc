package quote

import (
	"encoding/binary"
	"fmt"
)

// Sizes of the fixed structures (dcap spec §2.1, §2.2, §2.4, §2.5).
const (
	HeaderSize        = 48  // quote header, all versions
	EnclaveReportSize = 384 // SGX report body (ISV enclave report, QE report)
	TDReport10Size    = 584 // TD report, TDX 1.0
	TDReport15Size    = 648 // TD report, TDX 1.5
)

// EnclaveReport is an SGX report body (sgx_report_body_t, dcap spec §2.2): the ISV enclave
// report of an SGX quote, and the QE report of every quote. The reserved ranges are kept as they
// were read, so Marshal reproduces the signed bytes exactly; they are not all unused in practice
// (Gramine reads CET attributes at offset 20, inside Reserved1).
type EnclaveReport struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	ISVExtProdID [16]byte
	Attributes   [16]byte // FLAGS (u64 LE) ‖ XFRM (u64 LE)
	MREnclave    Measurement
	MRSigner     Measurement
	ConfigID     [64]byte
	ISVProdID    uint16
	ISVSVN       uint16
	ConfigSVN    uint16
	ISVFamilyID  [16]byte
	ReportData   [64]byte

	Reserved1 [12]byte // offset 20 (byte 0: CET attributes on CET-capable platforms)
	Reserved2 [32]byte // offset 96
	Reserved3 [32]byte // offset 160
	Reserved4 [42]byte // offset 262
}

// Debug reports whether the enclave was launched in debug mode (ATTRIBUTES.FLAGS bit 1).
func (r *EnclaveReport) Debug() bool { return r.Attributes[0]&0x02 != 0 }

// Marshal returns the 384-byte encoding of r.
func (r *EnclaveReport) Marshal() []byte {
	return r.appendTo(make([]byte, 0, EnclaveReportSize))
}

func (r *EnclaveReport) appendTo(b []byte) []byte {
	b = append(b, r.CPUSVN[:]...)
	b = binary.LittleEndian.AppendUint32(b, r.MiscSelect)
	b = append(b, r.Reserved1[:]...)
	b = append(b, r.ISVExtProdID[:]...)
	b = append(b, r.Attributes[:]...)
	b = append(b, r.MREnclave[:]...)
	b = append(b, r.Reserved2[:]...)
	b = append(b, r.MRSigner[:]...)
	b = append(b, r.Reserved3[:]...)
	b = append(b, r.ConfigID[:]...)
	b = binary.LittleEndian.AppendUint16(b, r.ISVProdID)
	b = binary.LittleEndian.AppendUint16(b, r.ISVSVN)
	b = binary.LittleEndian.AppendUint16(b, r.ConfigSVN)
	b = append(b, r.Reserved4[:]...)
	b = append(b, r.ISVFamilyID[:]...)
	return append(b, r.ReportData[:]...)
}

// ParseEnclaveReport decodes exactly EnclaveReportSize bytes. The result does not refer to b.
func ParseEnclaveReport(b []byte) (*EnclaveReport, error) {
	if len(b) != EnclaveReportSize {
		return nil, malformed("sgx report", 0, nbytes(EnclaveReportSize), nbytes(len(b)))
	}
	return decodeEnclaveReport(b, 0)
}

// decodeEnclaveReport decodes a report of the right size; base is its offset in the input, for
// error offsets.
func decodeEnclaveReport(b []byte, base int) (*EnclaveReport, error) {
	r := new(EnclaveReport)
	f := fieldReader{b: b}
	f.bytes(r.CPUSVN[:])
	r.MiscSelect = f.u32()
	f.bytes(r.Reserved1[:])
	f.bytes(r.ISVExtProdID[:])
	f.bytes(r.Attributes[:])
	f.bytes(r.MREnclave[:])
	f.bytes(r.Reserved2[:])
	f.bytes(r.MRSigner[:])
	f.bytes(r.Reserved3[:])
	f.bytes(r.ConfigID[:])
	r.ISVProdID = f.u16()
	r.ISVSVN = f.u16()
	r.ConfigSVN = f.u16()
	f.bytes(r.Reserved4[:])
	f.bytes(r.ISVFamilyID[:])
	f.bytes(r.ReportData[:])
	return r, nil
}

// TDReport is a TDX TD report body as carried in a quote: 584 bytes (TDX 1.0, dcap spec §2.4) or,
// when V15 is set, 648 bytes (TDX 1.5, §2.5).
type TDReport struct {
	TEETCBSVN      [16]byte
	MRSEAM         TDMeasurement
	MRSignerSEAM   TDMeasurement
	SEAMAttributes [8]byte
	TDAttributes   [8]byte
	XFAM           [8]byte
	MRTD           TDMeasurement
	MRConfigID     TDMeasurement
	MROwner        TDMeasurement
	MROwnerConfig  TDMeasurement
	RTMRs          [4]TDMeasurement
	ReportData     [64]byte

	V15         bool          // TDX 1.5 layout: the two fields below are present
	TEETCBSVN2  [16]byte      // only when V15
	MRServiceTD TDMeasurement // only when V15
}

// Debug reports whether the TD is a debug TD (TDATTRIBUTES bit 0).
func (r *TDReport) Debug() bool { return r.TDAttributes[0]&0x01 != 0 }

// Size returns TDReport15Size when V15 is set, TDReport10Size otherwise.
func (r *TDReport) Size() int {
	if r.V15 {
		return TDReport15Size
	}
	return TDReport10Size
}

// Marshal returns the 584-byte (or, when V15, 648-byte) encoding of r.
func (r *TDReport) Marshal() []byte { return r.appendTo(make([]byte, 0, r.Size())) }

func (r *TDReport) appendTo(b []byte) []byte {
	b = append(b, r.TEETCBSVN[:]...)
	b = append(b, r.MRSEAM[:]...)
	b = append(b, r.MRSignerSEAM[:]...)
	b = append(b, r.SEAMAttributes[:]...)
	b = append(b, r.TDAttributes[:]...)
	b = append(b, r.XFAM[:]...)
	b = append(b, r.MRTD[:]...)
	b = append(b, r.MRConfigID[:]...)
	b = append(b, r.MROwner[:]...)
	b = append(b, r.MROwnerConfig[:]...)
	for i := range r.RTMRs {
		b = append(b, r.RTMRs[i][:]...)
	}
	b = append(b, r.ReportData[:]...)
	if r.V15 {
		b = append(b, r.TEETCBSVN2[:]...)
		b = append(b, r.MRServiceTD[:]...)
	}
	return b
}

// ParseTDReport decodes a TD report of exactly TDReport10Size or TDReport15Size bytes; the size
// selects the layout. The result does not refer to b.
func ParseTDReport(b []byte) (*TDReport, error) {
	if len(b) != TDReport10Size && len(b) != TDReport15Size {
		return nil, malformed("td report", 0,
			fmt.Sprintf("%d or %d bytes", TDReport10Size, TDReport15Size), nbytes(len(b)))
	}
	return decodeTDReport(b), nil
}

// decodeTDReport decodes a report of one of the two sizes.
func decodeTDReport(b []byte) *TDReport {
	r := &TDReport{V15: len(b) == TDReport15Size}
	f := fieldReader{b: b}
	f.bytes(r.TEETCBSVN[:])
	f.bytes(r.MRSEAM[:])
	f.bytes(r.MRSignerSEAM[:])
	f.bytes(r.SEAMAttributes[:])
	f.bytes(r.TDAttributes[:])
	f.bytes(r.XFAM[:])
	f.bytes(r.MRTD[:])
	f.bytes(r.MRConfigID[:])
	f.bytes(r.MROwner[:])
	f.bytes(r.MROwnerConfig[:])
	for i := range r.RTMRs {
		f.bytes(r.RTMRs[i][:])
	}
	f.bytes(r.ReportData[:])
	if r.V15 {
		f.bytes(r.TEETCBSVN2[:])
		f.bytes(r.MRServiceTD[:])
	}
	return r
}

// fieldReader walks a buffer whose size the caller has already checked.
type fieldReader struct {
	b   []byte
	off int
}

func (f *fieldReader) bytes(dst []byte) { f.off += copy(dst, f.b[f.off:]) }

func (f *fieldReader) skip(n int) { f.off += n }

func (f *fieldReader) u16() uint16 {
	v := binary.LittleEndian.Uint16(f.b[f.off:])
	f.off += 2
	return v
}

func (f *fieldReader) u32() uint32 {
	v := binary.LittleEndian.Uint32(f.b[f.off:])
	f.off += 4
	return v
}
