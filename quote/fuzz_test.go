package quote

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
)

// addVectorSeeds adds every vector quote (binary, hex vectors decoded) to the corpus.
func addVectorSeeds(f *testing.F) {
	for _, vc := range vectorCases {
		f.Add(vectorBytes(f, vc))
	}
}

// FuzzParse: Parse never panics, and whatever it accepts Marshal reproduces byte for byte (up to
// the declared end) and parses again to an equal value.
func FuzzParse(f *testing.F) {
	addVectorSeeds(f)
	f.Add([]byte{})
	f.Add(testvectors.Read(f, vecSGX)[:1020])
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := Parse(b)
		if err != nil {
			if q != nil || !(isMalformed(err) || isUnsupported(err)) {
				t.Fatalf("err = %v (quote %v): not a classified *FormatError", err, q != nil)
			}
			return
		}
		m := q.Marshal()
		if len(m) > len(b) || !bytes.Equal(m, b[:len(m)]) {
			t.Fatalf("Marshal is not a prefix of the input (len %d of %d)", len(m), len(b))
		}
		again, err := Parse(m)
		if err != nil {
			t.Fatalf("Parse(Marshal(q)): %v", err)
		}
		if !reflect.DeepEqual(q, again) { // cmp is far too slow to run on every input
			t.Fatalf("round trip (-first +second):\n%s", cmp.Diff(q, again))
		}
	})
}

// FuzzParseText: ParseText never panics, and hex text of any bytes parses exactly like the bytes.
func FuzzParseText(f *testing.F) {
	for _, vc := range vectorCases {
		if vc.text {
			f.Add(testvectors.Read(f, vc.name))
		}
	}
	addVectorSeeds(f)
	f.Add([]byte("0x"))
	f.Add([]byte(" 0X0300\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := ParseText(b); err != nil && (q != nil || !(isMalformed(err) || isUnsupported(err))) {
			t.Fatalf("ParseText(b) err = %v: not a classified *FormatError", err)
		}
		want, wantErr := Parse(b)
		got, gotErr := ParseText([]byte("0x" + hex.EncodeToString(b) + "\n"))
		if (wantErr == nil) != (gotErr == nil) || !reflect.DeepEqual(want, got) {
			t.Fatalf("ParseText(hex(b)) = %v, %v; Parse(b) = %v, %v", got != nil, gotErr, want != nil, wantErr)
		}
	})
}
