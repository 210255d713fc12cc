package quote

import (
	"encoding/hex"
	"fmt"
	"strconv"
)

// TEE is the TEE type field of a quote header.
type TEE uint32

// TEE types accepted by Parse.
const (
	TEESGX TEE = 0x00000000
	TEETDX TEE = 0x00000081
)

// String returns "sgx", "tdx", or "tee(0x…)" for any other value.
func (t TEE) String() string {
	switch t {
	case TEESGX:
		return "sgx"
	case TEETDX:
		return "tdx"
	}
	return fmt.Sprintf("tee(%#x)", uint32(t))
}

// Measurement is a 32-byte SGX measurement (MRENCLAVE, MRSIGNER). Its text form is 64 hex
// digits; String and MarshalText write lower case, UnmarshalText accepts either case.
type Measurement [32]byte

// ParseMeasurement decodes exactly 64 hex digits (no prefix, no whitespace).
func ParseMeasurement(s string) (Measurement, error) {
	var m Measurement
	err := m.UnmarshalText([]byte(s))
	return m, err
}

// String returns the measurement as 64 lower-case hex digits.
func (m Measurement) String() string { return hex.EncodeToString(m[:]) }

// MarshalText implements encoding.TextMarshaler.
func (m Measurement) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, m[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler. On error m is left unchanged.
func (m *Measurement) UnmarshalText(text []byte) error {
	var tmp Measurement
	if err := decodeFixedHex(tmp[:], text, "measurement"); err != nil {
		return err
	}
	*m = tmp
	return nil
}

// TDMeasurement is a 48-byte TDX measurement (MRTD, RTMRs, MRSEAM, MRCONFIGID, …). Its text
// form is 96 hex digits; String and MarshalText write lower case, UnmarshalText accepts either.
type TDMeasurement [48]byte

// ParseTDMeasurement decodes exactly 96 hex digits (no prefix, no whitespace).
func ParseTDMeasurement(s string) (TDMeasurement, error) {
	var m TDMeasurement
	err := m.UnmarshalText([]byte(s))
	return m, err
}

// String returns the measurement as 96 lower-case hex digits.
func (m TDMeasurement) String() string { return hex.EncodeToString(m[:]) }

// MarshalText implements encoding.TextMarshaler.
func (m TDMeasurement) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, m[:]), nil }

// UnmarshalText implements encoding.TextUnmarshaler. On error m is left unchanged.
func (m *TDMeasurement) UnmarshalText(text []byte) error {
	var tmp TDMeasurement
	if err := decodeFixedHex(tmp[:], text, "td measurement"); err != nil {
		return err
	}
	*m = tmp
	return nil
}

// decodeFixedHex fills dst from exactly 2*len(dst) hex digits of either case.
func decodeFixedHex(dst, text []byte, field string) error {
	if len(text) != 2*len(dst) {
		return malformed(field, -1, strconv.Itoa(2*len(dst))+" hex digits",
			strconv.Itoa(len(text))+" characters")
	}
	for i := range dst {
		hi, ok1 := hexValue(text[2*i])
		lo, ok2 := hexValue(text[2*i+1])
		if !ok1 || !ok2 {
			bad := 2 * i
			if ok1 {
				bad++
			}
			return malformed(field, bad, "hex digit", quoteByte(text[bad]))
		}
		dst[i] = hi<<4 | lo
	}
	return nil
}

// hexValue returns the value of one ASCII hex digit of either case.
func hexValue(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// quoteByte formats one input byte for FormatError.Got, e.g. "g" or "\xff".
func quoteByte(c byte) string { return strconv.Quote(string([]byte{c})) }
