package quote

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
)

func TestParseText(t *testing.T) {
	bin := testvectors.Read(t, vecSGX)
	lower := hex.EncodeToString(bin)
	upper := strings.ToUpper(lower)
	wrapped := wrapLines(lower, 64)
	want, err := Parse(bin)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		kind    string // "" = parses to want
		wantOff int    // for hex errors: offset in the text
	}{
		{"binary", string(bin), "", 0},
		{"lower hex", lower, "", 0},
		{"upper hex with 0X", "0X" + upper, "", 0},
		{"0x and trailing newline", "0x" + lower + "\n", "", 0},
		{"leading white space and CRLF lines", " \t\r\n" + strings.ReplaceAll(wrapped, "\n", "\r\n"), "", 0},
		{"spaces between nibbles", "0" + " " + lower[1:], "", 0},
		{"odd digit count", lower + "0", malformedKind, len(lower) + 1},
		{"non-hex character", lower[:100] + "g" + lower[101:], malformedKind, 100},
		{"0x in the middle", lower[:100] + "0x" + lower[100:], malformedKind, 101},
		{"second 0x prefix", "0x0x" + lower, malformedKind, 3},
		{"0x only", "0x", malformedKind, 0},
		{"white space only", " \n", malformedKind, 0},
		{"too long", strings.Repeat("00", MaxSize+1), malformedKind, 0},
		{"hex of version 6", "0600" + lower[4:], malformedKind, 0},
		{"hex of version 2 (EPID)", "0200" + lower[4:], unsupKind, 0},
		{"binary garbage", "\x00\x01\x02", malformedKind, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q, err := ParseText([]byte(tc.in))
			if tc.kind != "" {
				checkKind(t, q, err, tc.kind)
				var fe *FormatError
				if errors.As(err, &fe) && fe.Offset != tc.wantOff {
					t.Errorf("Offset = %d, want %d (%v)", fe.Offset, tc.wantOff, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, q); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseTextBinaryPrefix checks the detection rule on every byte a binary quote can start with.
func TestParseTextBinaryPrefix(t *testing.T) {
	for _, v := range []byte{3, 4, 5} {
		if isHexDigit(v) || isSpace(v) {
			t.Errorf("version byte %#x would be taken for text", v)
		}
	}
	bin := bytes.Clone(testvectors.Read(t, vecTDX))
	q1, err1 := Parse(bin)
	q2, err2 := ParseText(bin)
	if err1 != nil || err2 != nil || !cmp.Equal(q1, q2) {
		t.Errorf("ParseText(binary) differs from Parse: %v, %v", err1, err2)
	}
}

func wrapLines(s string, n int) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n])
		b.WriteByte('\n')
		s = s[n:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	return b.String()
}
