package quote

import (
	"bytes"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
)

func TestParseEnclaveReport(t *testing.T) {
	body := testvectors.Read(t, vecSGX)[48:432]
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
		wantOff int
	}{
		{"vector body", body, false, 0},
		{"short", body[:383], true, 0},
		{"long", append(bytes.Clone(body), 0), true, 0},
		{"reserved1 kept", withByte(body, 31, 1), false, 0},
		{"reserved4 kept", withByte(body, 262, 1), false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseEnclaveReport(tc.in)
			if tc.wantErr {
				if !isMalformed(err) || r != nil {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				if off := err.(*FormatError).Offset; off != tc.wantOff {
					t.Errorf("Offset = %d, want %d", off, tc.wantOff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.MREnclave.String() != sgxMREnclave || r.MRSigner.String() != sgxMRSigner {
				t.Errorf("MRENCLAVE %s MRSIGNER %s", r.MREnclave, r.MRSigner)
			}
			if !bytes.Equal(r.Marshal(), tc.in) {
				t.Error("Marshal does not reproduce the report")
			}
		})
	}
}

// TestEnclaveReportFieldOffsets sets every field to a distinct value and checks where Marshal
// puts it (offsets of dcap spec §2.2).
func TestEnclaveReportFieldOffsets(t *testing.T) {
	r := EnclaveReport{CPUSVN: [16]byte{1}, MiscSelect: 0x02020202, ISVExtProdID: [16]byte{3},
		Attributes: [16]byte{4}, MREnclave: Measurement{5}, MRSigner: Measurement{6}, ConfigID: [64]byte{7},
		ISVProdID: 0x0808, ISVSVN: 0x0909, ConfigSVN: 0x0a0a, ISVFamilyID: [16]byte{11}, ReportData: [64]byte{12}}
	b := r.Marshal()
	want := map[int]byte{0: 1, 16: 2, 17: 2, 18: 2, 19: 2, 32: 3, 48: 4, 64: 5, 128: 6, 192: 7, 256: 8, 257: 8,
		258: 9, 259: 9, 260: 10, 261: 10, 304: 11, 320: 12}
	for i, v := range b {
		if v != want[i] {
			t.Errorf("byte %d = %d, want %d", i, v, want[i])
		}
	}
	if len(b) != EnclaveReportSize {
		t.Errorf("len = %d", len(b))
	}
	back, err := ParseEnclaveReport(b)
	if err != nil || *back != r {
		t.Errorf("round trip: %v", err)
	}
}

func TestTDReportFieldOffsets(t *testing.T) {
	r := TDReport{TEETCBSVN: [16]byte{1}, MRSEAM: TDMeasurement{2}, MRSignerSEAM: TDMeasurement{3},
		SEAMAttributes: [8]byte{4}, TDAttributes: [8]byte{5}, XFAM: [8]byte{6}, MRTD: TDMeasurement{7},
		MRConfigID: TDMeasurement{8}, MROwner: TDMeasurement{9}, MROwnerConfig: TDMeasurement{10},
		RTMRs: [4]TDMeasurement{{11}, {12}, {13}, {14}}, ReportData: [64]byte{15},
		TEETCBSVN2: [16]byte{16}, MRServiceTD: TDMeasurement{17}}
	want := map[int]byte{0: 1, 16: 2, 64: 3, 112: 4, 120: 5, 128: 6, 136: 7, 184: 8, 232: 9, 280: 10,
		328: 11, 376: 12, 424: 13, 472: 14, 520: 15, 584: 16, 600: 17}
	for _, v15 := range []bool{false, true} {
		r.V15 = v15
		b := r.Marshal()
		if len(b) != r.Size() || (v15 && len(b) != 648) || (!v15 && len(b) != 584) {
			t.Fatalf("V15 %v: len = %d", v15, len(b))
		}
		for i, v := range b {
			if v != want[i] {
				t.Errorf("V15 %v: byte %d = %d, want %d", v15, i, v, want[i])
			}
		}
		back, err := ParseTDReport(b)
		exp := r
		if !v15 {
			exp.TEETCBSVN2, exp.MRServiceTD = [16]byte{}, TDMeasurement{}
		}
		if err != nil || *back != exp {
			t.Errorf("V15 %v: round trip: %v", v15, err)
		}
	}
	for _, n := range []int{0, 583, 585, 647, 649} {
		if _, err := ParseTDReport(make([]byte, n)); !isMalformed(err) {
			t.Errorf("ParseTDReport(%d bytes): err = %v, want ErrMalformed", n, err)
		}
	}
}

func TestDebug(t *testing.T) {
	tests := []struct {
		name  string
		debug bool
		got   bool
	}{
		{"sgx flags 0x07", true, (&EnclaveReport{Attributes: [16]byte{0x07}}).Debug()},
		{"sgx flags 0x05", false, (&EnclaveReport{Attributes: [16]byte{0x05}}).Debug()},
		{"sgx xfrm 0x02 only", false, (&EnclaveReport{Attributes: [16]byte{8: 0x02}}).Debug()},
		{"td attributes 0x01", true, (&TDReport{TDAttributes: [8]byte{0x01}}).Debug()},
		{"td attributes SEPT_VE_DISABLE", false, (&TDReport{TDAttributes: [8]byte{3: 0x10}}).Debug()},
	}
	for _, tc := range tests {
		if tc.got != tc.debug {
			t.Errorf("%s: Debug() = %v, want %v", tc.name, tc.got, tc.debug)
		}
	}
}

func withByte(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}
