package quote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
)

const (
	vecSGX = "phala-dcap-qvl/sgx_quote"          // v3
	vecTDX = "phala-dcap-qvl/tdx_quote"          // v4, TD report 1.0, 70 zero bytes of padding
	vecV5  = "phala-dcap-qvl/tdx_quote_outdated" // v5, TD report 1.5
)

// Absolute offsets in the vectors above (dcap spec §2.3–§2.5).
const (
	sgxSigLen     = 432  // v3: signature data length
	sgxQEReport   = 564  // 436 + 128
	sgxAuthSize   = 1012 // 436 + 576
	sgxCertType   = 1046 // 436 + 578 + 32
	sgxCertSize   = 1048
	tdxSigLen     = 632
	tdxOuterType  = 764
	tdxOuterSize  = 766
	tdxQEReport   = 770
	tdxAuthSize   = 1218 // 770 + 448
	tdxInnerType  = 1252 // 1218 + 2 + 32
	tdxInnerSize  = 1254
	v5BodyType    = 48
	v5BodySize    = 50
	v5SigLen      = 702 // 54 + 648
	malformedKind = "malformed"
	unsupKind     = "unsupported"
)

func isMalformed(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe) && errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported)
}

func isUnsupported(err error) bool {
	var fe *FormatError
	return errors.As(err, &fe) && errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrMalformed)
}

func put16(off int, v uint16) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint16(b[off:], v) }
}

func put32(off int, v uint32) func([]byte) {
	return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
}

// add32 adds d to the u32 at off.
func add32(off int, d int32) func([]byte) {
	return func(b []byte) {
		binary.LittleEndian.PutUint32(b[off:], uint32(int32(binary.LittleEndian.Uint32(b[off:]))+d))
	}
}

func setByte(off int, v byte) func([]byte) { return func(b []byte) { b[off] = v } }

func TestParseMutations(t *testing.T) {
	tests := []struct {
		name    string
		vector  string
		mutate  func([]byte)
		kind    string
		wantOff int
	}{
		{"version 6 (not a DCAP version)", vecSGX, put16(0, 6), malformedKind, 0},
		{"version 0", vecSGX, put16(0, 0), malformedKind, 0},
		{"version 2 (EPID)", vecTDX, put16(0, 2), unsupKind, 0},
		{"version 1 (EPID)", vecSGX, put16(0, 1), unsupKind, 0},
		{"att key type 3", vecSGX, put16(2, 3), unsupKind, 2},
		{"tee 0x42", vecTDX, put32(4, 0x42), unsupKind, 4},
		{"v3 with tee tdx", vecSGX, put32(4, 0x81), unsupKind, 4},
		{"QE vendor ID", vecTDX, setByte(27, 0x08), unsupKind, 12},
		{"v3 cert type 6", vecSGX, put16(sgxCertType, 6), unsupKind, sgxCertType},
		{"v3 cert type 0", vecSGX, put16(sgxCertType, 0), unsupKind, sgxCertType},
		{"v4 outer cert type 5", vecTDX, put16(tdxOuterType, 5), unsupKind, tdxOuterType},
		{"v4 inner cert type 6", vecTDX, put16(tdxInnerType, 6), unsupKind, tdxInnerType},
		{"v4 inner cert type 0", vecTDX, put16(tdxInnerType, 0), unsupKind, tdxInnerType},
		{"v5 body type 4", vecV5, put16(v5BodyType, 4), unsupKind, v5BodyType},
		{"v5 body type 0", vecV5, put16(v5BodyType, 0), unsupKind, v5BodyType},
		{"v5 tdx with sgx body type", vecV5, put16(v5BodyType, 1), unsupKind, v5BodyType},
		{"v5 body type 2 with size 648", vecV5, put16(v5BodyType, 2), malformedKind, v5BodySize},
		{"v5 body size 584", vecV5, put32(v5BodySize, 584), malformedKind, v5BodySize},
		{"v5 body size huge", vecV5, put32(v5BodySize, 0xffffffff), malformedKind, v5BodySize},
		{"v5 signature data length +1", vecV5, add32(v5SigLen, 1), malformedKind, v5SigLen},
		{"sig data length 9000", vecSGX, put32(sgxSigLen, 9000), malformedKind, sgxSigLen},
		{"sig data length max", vecSGX, put32(sgxSigLen, 0xffffffff), malformedKind, sgxSigLen},
		{"sig data length -1", vecSGX, add32(sgxSigLen, -1), malformedKind, sgxCertSize},
		{"sig data length 0", vecSGX, put32(sgxSigLen, 0), malformedKind, sgxSigLen + 4},
		{"v4 sig data length +1 into padding", vecTDX, add32(tdxSigLen, 1), malformedKind, tdxOuterSize},
		{"v4 sig data length -1", vecTDX, add32(tdxSigLen, -1), malformedKind, tdxOuterSize},
		{"v3 auth data size max", vecSGX, put16(sgxAuthSize, 0xffff), malformedKind, sgxAuthSize},
		{"v3 cert size +1", vecSGX, add32(sgxCertSize, 1), malformedKind, sgxCertSize},
		{"v3 cert size -1", vecSGX, add32(sgxCertSize, -1), malformedKind, sgxCertSize},
		{"v3 cert size max", vecSGX, put32(sgxCertSize, 0xffffffff), malformedKind, sgxCertSize},
		{"v4 outer size +1", vecTDX, add32(tdxOuterSize, 1), malformedKind, tdxOuterSize},
		{"v4 outer size -1", vecTDX, add32(tdxOuterSize, -1), malformedKind, tdxOuterSize},
		{"v4 auth data size max", vecTDX, put16(tdxAuthSize, 0xffff), malformedKind, tdxAuthSize},
		{"v4 inner size +1", vecTDX, add32(tdxInnerSize, 1), malformedKind, tdxInnerSize},
		{"v4 inner size -1 (type-6 not consumed)", vecTDX, add32(tdxInnerSize, -1), malformedKind, tdxInnerSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(testvectors.Read(t, tc.vector))
			tc.mutate(b)
			q, err := Parse(b)
			checkKind(t, q, err, tc.kind)
			var fe *FormatError
			if errors.As(err, &fe) && fe.Offset != tc.wantOff {
				t.Errorf("Offset = %d, want %d (%v)", fe.Offset, tc.wantOff, err)
			}
		})
	}
}

func checkKind(t *testing.T, q *Quote, err error, kind string) {
	t.Helper()
	if q != nil {
		t.Errorf("Parse returned a quote with error %v", err)
	}
	switch kind {
	case malformedKind:
		if !isMalformed(err) {
			t.Errorf("err = %v, want *FormatError wrapping ErrMalformed only", err)
		}
	case unsupKind:
		if !isUnsupported(err) {
			t.Errorf("err = %v, want *FormatError wrapping ErrUnsupported only", err)
		}
	}
}

func TestSignatureDataLengthError(t *testing.T) {
	b := bytes.Clone(testvectors.Read(t, vecSGX))
	put32(sgxSigLen, 9000)(b)
	_, err := Parse(b)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *FormatError", err)
	}
	want := FormatError{Field: "signature data length", Offset: sgxSigLen, Want: "<= 4164", Got: "9000",
		Err: ErrMalformed}
	if diff := cmp.Diff(want, *fe, cmp.Comparer(func(a, b error) bool { return a == b })); diff != "" {
		t.Errorf("FormatError (-want +got):\n%s", diff)
	}
}

func TestParseSizes(t *testing.T) {
	sgx := testvectors.Read(t, vecSGX)
	rng := rand.New(rand.NewPCG(1, 2))
	randomTail := make([]byte, 5000)
	for i := range randomTail {
		randomTail[i] = byte(rng.Uint32())
	}
	tests := []struct {
		name string
		in   []byte
		kind string // "" = parses
	}{
		{"nil", nil, malformedKind},
		{"empty", []byte{}, malformedKind},
		{"one byte", []byte{3}, malformedKind},
		{"47 bytes of header", sgx[:47], malformedKind},
		{"header only", sgx[:48], malformedKind},
		{"v3 header and 971 zero bytes", append(bytes.Clone(sgx[:48]), make([]byte, 971)...), malformedKind},
		{"v3 header and 0xff", append(bytes.Clone(sgx[:48]), bytes.Repeat([]byte{0xff}, 5000)...), malformedKind},
		{"v3 header and random bytes", append(bytes.Clone(sgx[:48]), randomTail...), malformedKind},
		{"short text", []byte("hello, world"), malformedKind},
		// The version decides the layout: "he" is version 0x6568.
		{"long text", bytes.Repeat([]byte("hello, world "), 100), malformedKind},
		{"padded to MaxSize", append(bytes.Clone(sgx), make([]byte, MaxSize-len(sgx))...), ""},
		{"padded to MaxSize+1", append(bytes.Clone(sgx), make([]byte, MaxSize+1-len(sgx))...), malformedKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.in)
			if tc.kind == "" && err != nil {
				t.Fatal(err)
			}
			if tc.kind != "" {
				checkKind(t, q, err, tc.kind)
			}
		})
	}
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// withVersion returns a copy of the 48-byte header of b with another version.
func withVersion(b []byte, v uint16) []byte {
	h := bytes.Clone(b[:HeaderSize])
	binary.LittleEndian.PutUint16(h, v)
	return h
}

// wrapType6 turns v3 signature data into v4/v5 signature data with the type-6 wrapper.
func wrapType6(sig []byte) []byte {
	qe := sig[128:]
	inner := bytes.Join([][]byte{sig[:128], le16(6), le32(uint32(len(qe))), qe}, nil)
	return append(le32(uint32(len(inner))), inner...)
}

// TestOtherLayouts builds, by byte surgery on the vectors, the layouts no vector has: v4 with an
// SGX body, v5 with an SGX body and v5 with a TD 1.0 body.
func TestOtherLayouts(t *testing.T) {
	sgx := testvectors.Read(t, vecSGX)
	tdx := testvectors.Read(t, vecTDX)[:4936]
	sgxBody, sgxSig := sgx[48:432], sgx[436:]
	tests := []struct {
		name     string
		in       []byte
		bodyType uint16
		signed   int
	}{
		{"v4 sgx", bytes.Join([][]byte{withVersion(sgx, 4), sgxBody, wrapType6(sgxSig)}, nil), 1, 432},
		{"v5 sgx", bytes.Join([][]byte{withVersion(sgx, 5), le16(1), le32(384), sgxBody,
			wrapType6(sgxSig)}, nil), 1, 438},
		{"v5 td 1.0", bytes.Join([][]byte{withVersion(tdx, 5), le16(2), le32(584), tdx[48:]}, nil), 2, 638},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if q.BodyType != tc.bodyType || (q.SGX != nil) != (tc.bodyType == 1) || (q.TDX != nil && q.TDX.V15) {
				t.Errorf("body type %d SGX %v TDX %+v", q.BodyType, q.SGX != nil, q.TDX)
			}
			if !bytes.Equal(q.Marshal(), tc.in) {
				t.Error("Marshal does not reproduce the input")
			}
			if !bytes.Equal(q.SignedData(), tc.in[:tc.signed]) {
				t.Errorf("SignedData is not bytes [0, %d)", tc.signed)
			}
			ref, _ := Parse(testvectors.Read(t, vecSGX))
			if q.SGX != nil && (*q.SGX != *ref.SGX || !bytes.Equal(q.CertData, ref.CertData)) {
				t.Error("SGX body or cert data differ from the v3 vector")
			}
		})
	}
}

// TestHandBuiltRoundTrip covers what the vectors do not: cert data types 1..4, empty auth and
// cert data, and values that Parse must refuse after Marshal.
func TestHandBuiltRoundTrip(t *testing.T) {
	base, err := Parse(testvectors.Read(t, vecSGX))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(q *Quote)
		kind string // "" = must round-trip
	}{
		{"unchanged", func(*Quote) {}, ""},
		{"cert type 1 (PPID)", func(q *Quote) { q.CertDataType, q.CertData = 1, []byte{1, 2, 3} }, ""},
		{"cert type 4, empty", func(q *Quote) { q.CertDataType, q.CertData = 4, nil }, ""},
		{"no auth data", func(q *Quote) { q.QEAuthData = nil }, ""},
		{"v5 sgx", func(q *Quote) { q.Header.Version = 5 }, ""},
		{"tdx 1.5 body", func(q *Quote) {
			q.Header.Version, q.Header.TEE, q.BodyType = 5, TEETDX, 3
			q.SGX, q.TDX = nil, &TDReport{V15: true, MRTD: TDMeasurement{1}, MRServiceTD: TDMeasurement{2}}
		}, ""},
		{"no body", func(q *Quote) { q.SGX = nil }, malformedKind},
		{"version 7", func(q *Quote) { q.Header.Version = 7 }, malformedKind},
		{"version 2 (EPID)", func(q *Quote) { q.Header.Version = 2 }, unsupKind},
		{"reserved bytes kept", func(q *Quote) {
			q.SGX.Reserved1[0] = 0x01 // CET attributes
			q.SGX.Reserved4[41] = 0x80
			q.QEReport.Reserved2[0] = 1
		}, ""},
		{"cert type 7", func(q *Quote) { q.CertDataType = 7 }, unsupKind},
		{"v5 body type 0", func(q *Quote) { q.Header.Version, q.BodyType = 5, 0 }, unsupKind},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := *base
			tc.edit(&q)
			got, err := Parse(q.Marshal())
			if tc.kind != "" {
				checkKind(t, got, err, tc.kind)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&q, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestZeroQuote(t *testing.T) {
	var q Quote
	if q.ReportData() != [64]byte{} || len(q.SignedData()) != HeaderSize {
		t.Error("zero quote: unexpected ReportData or SignedData")
	}
	if _, err := Parse(q.Marshal()); !isMalformed(err) { // version 0
		t.Errorf("Parse(zero quote) err = %v, want ErrMalformed", err)
	}
	if _, err := q.PCKChainPEM(); !isUnsupported(err) {
		t.Errorf("PCKChainPEM err = %v, want ErrUnsupported", err)
	}
}

func TestPCKChainPEM(t *testing.T) {
	q := &Quote{CertDataType: CertDataPCKChain, CertData: []byte("pem\x00\x00")}
	got, err := q.PCKChainPEM()
	if err != nil || string(got) != "pem" {
		t.Fatalf("PCKChainPEM = %q, %v", got, err)
	}
	got[0] = 'X'
	if string(q.CertData) != "pem\x00\x00" {
		t.Error("PCKChainPEM result aliases CertData")
	}
	q.CertDataType = 4
	if _, err := q.PCKChainPEM(); !isUnsupported(err) {
		t.Errorf("type 4: err = %v, want ErrUnsupported", err)
	}
}

// TestReservedBytesAreSigned checks that non-zero reserved bytes (e.g. Gramine's CET attributes at
// report offset 20) parse, are kept, and stay inside the signed bytes.
func TestReservedBytesAreSigned(t *testing.T) {
	for _, off := range []int{48 + 20, 48 + 96, 48 + 160, 48 + 303} {
		b := bytes.Clone(testvectors.Read(t, vecSGX))
		b[off] = 0x5a
		q, err := Parse(b)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		if !bytes.Equal(q.SignedData(), b[:432]) {
			t.Errorf("offset %d: SignedData differs from the input's signed region", off)
		}
		if !bytes.Equal(q.Marshal(), b[:len(q.Marshal())]) {
			t.Errorf("offset %d: Marshal does not reproduce the input", off)
		}
	}
}
