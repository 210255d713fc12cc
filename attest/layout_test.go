package attest

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
)

// TestQuoteShapeVectors pins the report-data offsets to real quotes whose report data is known
// from the vectors README.
func TestQuoteShapeVectors(t *testing.T) {
	tests := []struct {
		vector  string
		offset  int
		prefix  []byte // known start of REPORTDATA, or nil
		version uint16
	}{
		{vector: "phala-dcap-qvl/sgx_quote", offset: 368, prefix: []byte("Hello, world!\x00"), version: 3},
		{vector: "phala-dcap-qvl/tdx_quote", offset: 568, prefix: mustHex(t, "9a9d48e7f679"), version: 4},
		{vector: "go-tdx-guest/tdx_prod_quote_SPR_E4.dat", offset: 568, version: 4},
		{vector: "phala-dcap-qvl/tdx_quote_outdated", offset: 574, version: 5},
		{vector: "go-tdx-guest/quote_v5_sample.dat", offset: 574, version: 5},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			q := testvectors.Read(t, tc.vector)
			if v := binary.LittleEndian.Uint16(q); v != tc.version {
				t.Fatalf("vector is version %d, want %d", v, tc.version)
			}
			s, err := quoteShape(q)
			if err != nil {
				t.Fatal(err)
			}
			if s.reportData != tc.offset {
				t.Fatalf("report data at %d, want %d", s.reportData, tc.offset)
			}
			if !bytes.HasPrefix(q[s.reportData:], tc.prefix) {
				t.Errorf("report data %x does not start with %x", q[s.reportData:s.reportData+16], tc.prefix)
			}
			var rd [ReportDataSize]byte
			copy(rd[:], q[s.reportData:])
			if err := checkQuote(q, rd); err != nil {
				t.Errorf("checkQuote on a real quote: %v", err)
			}
		})
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// synthQuote builds a quote with the given header and (for v5) body type, rd at rdOff, the
// signature length field at sigOff declaring sigLen bytes, and have bytes of signature data.
func synthQuote(version uint16, tee uint32, bodyType uint16, rdOff, sigOff int, rd [ReportDataSize]byte, sigLen uint32, have int) []byte {
	q := make([]byte, sigOff+4+have)
	binary.LittleEndian.PutUint16(q, version)
	binary.LittleEndian.PutUint16(q[2:], 2)
	binary.LittleEndian.PutUint32(q[4:], tee)
	if version == 5 {
		binary.LittleEndian.PutUint16(q[48:], bodyType)
		binary.LittleEndian.PutUint32(q[50:], uint32(sigOff-54))
	}
	copy(q[rdOff:], rd[:])
	binary.LittleEndian.PutUint32(q[sigOff:], sigLen)
	return q
}

func TestCheckQuote(t *testing.T) {
	rd := reportData(4, 2)
	tests := []struct {
		name    string
		q       []byte
		wantErr error
	}{
		{name: "v3 sgx", q: synthQuote(3, 0, 0, 368, 432, rd, 10, 10)},
		{name: "v4 sgx", q: synthQuote(4, 0, 0, 368, 432, rd, 0, 0)},
		{name: "v4 tdx", q: synthQuote(4, 0x81, 0, 568, 632, rd, 5, 70)},
		{name: "v5 sgx body", q: synthQuote(5, 0, 1, 374, 438, rd, 1, 1)},
		{name: "v5 td 1.0 body", q: synthQuote(5, 0x81, 2, 574, 638, rd, 1, 1)},
		{name: "v5 td 1.5 body", q: synthQuote(5, 0x81, 3, 574, 702, rd, 1, 1)},
		{name: "empty", q: nil, wantErr: ErrBadQuote},
		{name: "47 bytes", q: make([]byte, 47), wantErr: ErrBadQuote},
		{name: "v5 without descriptor", q: synthQuote(5, 0x81, 3, 574, 702, rd, 1, 1)[:50], wantErr: ErrBadQuote},
		{name: "v3 body cut", q: synthQuote(3, 0, 0, 368, 432, rd, 0, 0)[:435], wantErr: ErrBadQuote},
		{name: "v4 tdx body cut", q: synthQuote(4, 0x81, 0, 568, 632, rd, 0, 0)[:635], wantErr: ErrBadQuote},
		{name: "signature data cut", q: synthQuote(4, 0x81, 0, 568, 632, rd, 71, 70), wantErr: ErrBadQuote},
		{name: "signature length huge", q: synthQuote(3, 0, 0, 368, 432, rd, 0xffffffff, 8), wantErr: ErrBadQuote},
		{name: "EPID v1", q: synthQuote(1, 0, 0, 368, 432, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "EPID v2", q: synthQuote(2, 0, 0, 368, 432, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "v3 with TDX TEE", q: synthQuote(3, 0x81, 0, 568, 632, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "v4 unknown TEE", q: synthQuote(4, 0x22, 0, 568, 632, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "v5 body type 4", q: synthQuote(5, 0x81, 4, 574, 702, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "v6", q: synthQuote(6, 0x81, 0, 568, 632, rd, 0, 0), wantErr: ErrUnsupported},
		{name: "report data elsewhere", q: synthQuote(4, 0x81, 0, 368, 632, rd, 0, 0), wantErr: ErrInterleaved},
		{name: "v5 report data at the v4 offset", q: synthQuote(5, 0x81, 2, 568, 638, rd, 0, 0), wantErr: ErrInterleaved},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkQuote(tc.q, rd)
			if tc.wantErr == nil && err != nil {
				t.Fatalf("checkQuote: %v", err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("checkQuote = %v; want error matching %v", err, tc.wantErr)
			}
		})
	}
}

// FuzzCheckQuote: any bytes from the device give no panic and either nil (the quote is long
// enough for its layout and carries the report data) or one of the package's quote errors.
func FuzzCheckQuote(f *testing.F) {
	for _, v := range []string{"phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_outdated"} {
		q := testvectors.Read(f, v)
		f.Add(q, q[368:432])
		f.Add(q, q[568:632])
		f.Add(q, q[574:638])
	}
	f.Add([]byte{5, 0, 2, 0, 0x81}, []byte{})
	f.Fuzz(func(t *testing.T, q, rdb []byte) {
		var rd [ReportDataSize]byte
		copy(rd[:], rdb)
		err := checkQuote(q, rd)
		if err == nil {
			if !bytes.Contains(q, rd[:]) {
				t.Fatal("accepted a quote without the report data")
			}
			return
		}
		if !errors.Is(err, ErrBadQuote) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrInterleaved) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
