package quote

import (
	"encoding"
	"encoding/json"
	"strings"
	"testing"
)

var (
	_ encoding.TextMarshaler   = Measurement{}
	_ encoding.TextUnmarshaler = (*Measurement)(nil)
	_ encoding.TextMarshaler   = TDMeasurement{}
	_ encoding.TextUnmarshaler = (*TDMeasurement)(nil)
)

func TestTEEString(t *testing.T) {
	tests := []struct {
		tee  TEE
		want string
	}{
		{TEESGX, "sgx"},
		{TEETDX, "tdx"},
		{0x42, "tee(0x42)"},
		{0xffffffff, "tee(0xffffffff)"},
	}
	for _, tc := range tests {
		if got := tc.tee.String(); got != tc.want {
			t.Errorf("TEE(%#x).String() = %q, want %q", uint32(tc.tee), got, tc.want)
		}
	}
}

func TestMeasurementText(t *testing.T) {
	const lower = sgxMREnclave
	upper := strings.ToUpper(lower)
	tests := []struct {
		name    string
		in      string
		ok      bool
		wantOff int
	}{
		{"lower", lower, true, 0},
		{"upper", upper, true, 0},
		{"mixed", upper[:10] + lower[10:], true, 0},
		{"short", lower[:63], false, -1},
		{"long", lower + "0", false, -1},
		{"empty", "", false, -1},
		{"0x prefix", "0x" + lower[2:], false, 1},
		{"non-hex low nibble", lower[:61] + "g" + lower[62:], false, 61},
		{"non-hex high nibble", lower[:10] + "z" + lower[11:], false, 10},
		{"trailing newline", lower[:63] + "\n", false, 63},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Measurement{0xaa} // must stay unchanged on error
			err := m.UnmarshalText([]byte(tc.in))
			if !tc.ok {
				if !isMalformed(err) || m != (Measurement{0xaa}) {
					t.Fatalf("err = %v, m = %s; want ErrMalformed and m unchanged", err, m)
				}
				if off := err.(*FormatError).Offset; off != tc.wantOff {
					t.Errorf("Offset = %d, want %d", off, tc.wantOff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.String() != lower {
				t.Errorf("String() = %s, want %s", m, lower)
			}
			p, err := ParseMeasurement(tc.in)
			if err != nil || p != m {
				t.Errorf("ParseMeasurement = %s, %v", p, err)
			}
		})
	}
}

func TestTDMeasurementText(t *testing.T) {
	m, err := ParseTDMeasurement(strings.ToUpper(tdxQuoteMRTD))
	if err != nil {
		t.Fatal(err)
	}
	txt, err := m.MarshalText()
	if err != nil || string(txt) != tdxQuoteMRTD || m.String() != tdxQuoteMRTD {
		t.Errorf("MarshalText = %s, %v; String = %s", txt, err, m)
	}
	if _, err := ParseTDMeasurement(sgxMREnclave); !isMalformed(err) {
		t.Errorf("32-byte hex as TDMeasurement: err = %v, want ErrMalformed", err)
	}
	if _, err := ParseMeasurement(tdxQuoteMRTD); !isMalformed(err) {
		t.Errorf("48-byte hex as Measurement: err = %v, want ErrMalformed", err)
	}
}

// TestMeasurementJSON checks the text methods through encoding/json, as policy files use them.
func TestMeasurementJSON(t *testing.T) {
	type doc struct {
		MREnclave Measurement
		MRTD      TDMeasurement
	}
	in := `{"MREnclave":"` + strings.ToUpper(sgxMREnclave) + `","MRTD":"` + tdxQuoteMRTD + `"}`
	var d doc
	if err := json.Unmarshal([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"MREnclave":"` + sgxMREnclave + `","MRTD":"` + tdxQuoteMRTD + `"}`; string(out) != want {
		t.Errorf("json = %s, want %s", out, want)
	}
}
