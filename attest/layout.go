package attest

import (
	"bytes"
	"encoding/binary"
)

// Just enough of the DCAP quote layouts (spec/dcap-quote-verification.md §2) to find the report
// data and to notice a truncated quote. Parsing proper is package quote's job.
const (
	headerSize     = 48
	descriptorSize = 6 // v5: body type (u16) + body size (u32)
	sgxBodySize    = 384
	td10BodySize   = 584
	td15BodySize   = 648
	sgxReportData  = 320 // offset of REPORTDATA in an SGX enclave report body
	tdReportData   = 520 // offset of REPORTDATA in a TD report body
	teeSGX         = 0x00000000
	teeTDX         = 0x00000081
)

// shape is where a quote's report data sits and where its signature data length field is.
type shape struct {
	reportData int // offset of the 64 report-data bytes
	sigLen     int // offset of the u32 signature data length
}

// quoteShape finds the report data of a DCAP quote from its header (and, for v5, its body
// descriptor). Version 1 and 2 quotes are EPID.
func quoteShape(q []byte) (shape, error) {
	if len(q) < headerSize {
		return shape{}, errorf(ErrBadQuote, nil, "quote is %d bytes, shorter than the %d-byte header", len(q), headerSize)
	}
	version := binary.LittleEndian.Uint16(q)
	tee := binary.LittleEndian.Uint32(q[4:])
	switch {
	case version == 1 || version == 2:
		return shape{}, errorf(ErrUnsupported, nil, "quote version %d is an EPID quote; secretprov verifies DCAP quotes (versions 3 to 5)", version)
	case version == 3 && tee == teeSGX, version == 4 && tee == teeSGX:
		return shape{reportData: headerSize + sgxReportData, sigLen: headerSize + sgxBodySize}, nil
	case version == 4 && tee == teeTDX:
		return shape{reportData: headerSize + tdReportData, sigLen: headerSize + td10BodySize}, nil
	case version == 5:
		return v5Shape(q)
	case version == 3 || version == 4:
		return shape{}, errorf(ErrUnsupported, nil, "quote version %d has TEE type %#x, want 0 (SGX) or 0x81 (TDX)", version, tee)
	default:
		return shape{}, errorf(ErrUnsupported, nil, "quote version %d, want 3, 4 or 5", version)
	}
}

// v5Shape reads the body descriptor of a version 5 quote.
func v5Shape(q []byte) (shape, error) {
	const body = headerSize + descriptorSize
	if len(q) < body {
		return shape{}, errorf(ErrBadQuote, nil, "version 5 quote is %d bytes, shorter than header and body descriptor (%d)", len(q), body)
	}
	bodyType := binary.LittleEndian.Uint16(q[headerSize:])
	switch bodyType {
	case 1:
		return shape{reportData: body + sgxReportData, sigLen: body + sgxBodySize}, nil
	case 2:
		return shape{reportData: body + tdReportData, sigLen: body + td10BodySize}, nil
	case 3:
		return shape{reportData: body + tdReportData, sigLen: body + td15BodySize}, nil
	default:
		return shape{}, errorf(ErrUnsupported, nil, "version 5 quote has body type %d, want 1 (SGX), 2 or 3 (TDX)", bodyType)
	}
}

// checkQuote makes sure q is long enough for its declared layout and carries reportData.
func checkQuote(q []byte, reportData [ReportDataSize]byte) error {
	if len(q) == 0 {
		return errorf(ErrBadQuote, nil, "the device returned an empty quote")
	}
	s, err := quoteShape(q)
	if err != nil {
		return err
	}
	if len(q) < s.sigLen+4 {
		return errorf(ErrBadQuote, nil, "quote is %d bytes, want at least %d for its version and body", len(q), s.sigLen+4)
	}
	declared := uint64(binary.LittleEndian.Uint32(q[s.sigLen:]))
	if have := uint64(len(q) - s.sigLen - 4); declared > have {
		return errorf(ErrBadQuote, nil, "quote is truncated: it declares %d bytes of signature data, %d follow", declared, have)
	}
	if got := q[s.reportData : s.reportData+ReportDataSize]; !bytes.Equal(got, reportData[:]) {
		return errorf(ErrInterleaved, nil, "quote carries report data %x…, want %x… (the one written): "+
			"another writer used the device between our write and our read", got[:8], reportData[:8])
	}
	return nil
}
