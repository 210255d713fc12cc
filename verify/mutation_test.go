package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/secretprov/secretprov/quote"
)

// mutation flips one byte at a named offset of a real quote.
type mutation struct {
	name   string
	off    int
	reason Reason
}

// reasonParse accepts either parse reason: a changed length makes the parser read later fields
// at other offsets, and which check then fails first is the parser's business.
const reasonParse Reason = "quote_malformed|quote_unsupported"

// Offsets in a v3 SGX quote (dcap spec §2.3): signature data at 436.
const (
	v3SigData  = 436
	v3QEReport = v3SigData + 128
	v3QESig    = v3SigData + 512
	v3AuthSize = v3SigData + 576
	v3AuthData = v3SigData + 578
)

// Offsets in a v4 TDX quote (dcap spec §2.4): signature data at 636, QE report certification
// data at 770.
const (
	v4SigData  = 636
	v4QEReport = 770
	v4QESig    = v4QEReport + 384
	v4AuthSize = v4QESig + 64
	v4AuthData = v4AuthSize + 2
)

var sgxMutations = []mutation{
	{"header version", 0, reasonParse},
	{"header attestation key type", 2, ReasonQuoteUnsupported},
	{"header tee type", 4, ReasonQuoteUnsupported},
	{"header qe svn", 8, ReasonQuoteSignatureInvalid},
	{"header pce svn", 10, ReasonQuoteSignatureInvalid},
	{"header qe vendor id", 12, ReasonQuoteUnsupported},
	{"header user data", 28, ReasonQuoteSignatureInvalid},
	{"header user data last", 47, ReasonQuoteSignatureInvalid},
	{"body cpusvn", 48, ReasonQuoteSignatureInvalid},
	{"body miscselect", 64, ReasonQuoteSignatureInvalid},
	{"body reserved1", 68, ReasonQuoteSignatureInvalid},
	{"body reserved4", 310, ReasonQuoteSignatureInvalid},
	{"body attributes debug", 96, ReasonQuoteSignatureInvalid},
	{"body mrenclave", 112, ReasonQuoteSignatureInvalid},
	{"body mrsigner", 176 + 31, ReasonQuoteSignatureInvalid},
	{"body configid", 240, ReasonQuoteSignatureInvalid},
	{"body isvprodid", 304, ReasonQuoteSignatureInvalid},
	{"body isvsvn", 306, ReasonQuoteSignatureInvalid},
	{"body report data", 368, ReasonQuoteSignatureInvalid},
	{"body report data last", 431, ReasonQuoteSignatureInvalid},
	{"signature data length", 432, ReasonQuoteMalformed},
	{"quote signature r", v3SigData, ReasonQuoteSignatureInvalid},
	{"quote signature s", v3SigData + 63, ReasonQuoteSignatureInvalid},
	{"attestation key x", v3SigData + 64, ReasonQEReportBindingInvalid},
	{"attestation key y", v3SigData + 127, ReasonQEReportBindingInvalid},
	{"qe report cpusvn", v3QEReport, ReasonQEReportSignatureInvalid},
	{"qe report attributes", v3QEReport + 48, ReasonQEReportSignatureInvalid},
	{"qe report mrsigner", v3QEReport + 128, ReasonQEReportSignatureInvalid},
	{"qe report isvsvn", v3QEReport + 258, ReasonQEReportSignatureInvalid},
	{"qe report report data", v3QEReport + 320, ReasonQEReportSignatureInvalid},
	{"qe report reserved1", v3QEReport + 20, ReasonQEReportSignatureInvalid},
	{"qe report signature r", v3QESig, ReasonQEReportSignatureInvalid},
	{"qe report signature s", v3QESig + 63, ReasonQEReportSignatureInvalid},
	{"qe auth data size", v3AuthSize, reasonParse},
	{"qe auth data", v3AuthData, ReasonQEReportBindingInvalid},
	{"qe auth data last", v3AuthData + 31, ReasonQEReportBindingInvalid},
	{"certification data type", v3AuthData + 32, ReasonQuoteUnsupported},
	{"certification data size", v3AuthData + 34, ReasonQuoteMalformed},
	{"pck chain pem base64", v3AuthData + 38 + 200, ReasonPCKChainInvalid},
	{"pck chain pem signature", v3AuthData + 38 + 1100, ReasonPCKChainInvalid},
}

var tdxMutations = []mutation{
	{"header version", 0, reasonParse},
	{"header tee type", 4, ReasonQuoteUnsupported},
	{"header reserved", 8, ReasonQuoteSignatureInvalid},
	{"header qe vendor id", 20, ReasonQuoteUnsupported},
	{"header user data", 40, ReasonQuoteSignatureInvalid},
	{"body tee tcb svn (module isvsvn)", 48, ReasonQuoteSignatureInvalid},
	{"body tee tcb svn (module version)", 49, ReasonQuoteSignatureInvalid},
	{"body mrseam", 48 + 16, ReasonQuoteSignatureInvalid},
	{"body mrsignerseam", 48 + 64, ReasonQuoteSignatureInvalid},
	{"body seamattributes", 48 + 112, ReasonQuoteSignatureInvalid},
	{"body tdattributes debug", 48 + 120, ReasonQuoteSignatureInvalid},
	{"body xfam", 48 + 128, ReasonQuoteSignatureInvalid},
	{"body mrtd", 48 + 136, ReasonQuoteSignatureInvalid},
	{"body mrconfigid", 48 + 184, ReasonQuoteSignatureInvalid},
	{"body rtmr0", 48 + 328, ReasonQuoteSignatureInvalid},
	{"body rtmr3", 48 + 472, ReasonQuoteSignatureInvalid},
	{"body report data", 48 + 520, ReasonQuoteSignatureInvalid},
	{"body report data last", 631, ReasonQuoteSignatureInvalid},
	{"signature data length", 632, ReasonQuoteMalformed},
	{"quote signature r", v4SigData, ReasonQuoteSignatureInvalid},
	{"quote signature s", v4SigData + 63, ReasonQuoteSignatureInvalid},
	{"attestation key x", v4SigData + 64, ReasonQEReportBindingInvalid},
	{"attestation key y", v4SigData + 127, ReasonQEReportBindingInvalid},
	{"outer certification data type", 764, ReasonQuoteUnsupported},
	{"outer certification data size", 766, ReasonQuoteMalformed},
	{"qe report cpusvn", v4QEReport, ReasonQEReportSignatureInvalid},
	{"qe report mrsigner", v4QEReport + 128, ReasonQEReportSignatureInvalid},
	{"qe report isvprodid", v4QEReport + 256, ReasonQEReportSignatureInvalid},
	{"qe report report data", v4QEReport + 320, ReasonQEReportSignatureInvalid},
	{"qe report signature r", v4QESig, ReasonQEReportSignatureInvalid},
	{"qe report signature s", v4QESig + 63, ReasonQEReportSignatureInvalid},
	{"qe auth data size", v4AuthSize, reasonParse},
	{"qe auth data", v4AuthData, ReasonQEReportBindingInvalid},
	{"qe auth data last", v4AuthData + 31, ReasonQEReportBindingInvalid},
	{"inner certification data type", v4AuthData + 32, ReasonQuoteUnsupported},
	{"pck chain pem base64", v4AuthData + 38 + 300, ReasonPCKChainInvalid},
	{"trailing padding (ignored)", 5000, ""},
}

// TestMutations flips one byte (xor 0x01, and xor 0x80) at each named offset of the real SGX
// (V1) and TDX (V2) quotes and expects the reason of the first check that sees it, through
// both paths.
func TestMutations(t *testing.T) {
	tests := []struct {
		name, quote, coll, at string
		muts                  []mutation
	}{
		{"sgx", sgxQuote, sgxCollateral, v1At, sgxMutations},
		{"tdx", tdxQuote, tdxCollateral, v2At, tdxMutations},
	}
	for _, tc := range tests {
		raw, b, at := readQuote(t, tc.quote), loadBundle(t, tc.coll), mustTime(t, tc.at)
		v, err := New(Static(b))
		if err != nil {
			t.Fatal(err)
		}
		// Warm the caches with the genuine quote: a mutation must never be served from them.
		if _, err := v.Verify(context.Background(), parseQuote(t, raw), at); err != nil {
			t.Fatal(err)
		}
		for _, m := range tc.muts {
			for _, x := range []byte{0x01, 0x80} {
				t.Run(tc.name+"/"+m.name, func(t *testing.T) {
					mut := bytes.Clone(raw)
					mut[m.off] ^= x
					_, err := Quote(mut, b, at)
					if m.reason == reasonParse {
						if r := ReasonOf(err); r != ReasonQuoteMalformed && r != ReasonQuoteUnsupported {
							t.Fatalf("reason %q (%v), want a parse reason", r, err)
						}
						return
					}
					wantReason(t, err, m.reason)
					q, perr := quote.Parse(mut)
					if perr != nil {
						return // a parse reason; Verify takes parsed quotes
					}
					_, err = v.Verify(context.Background(), q, at)
					wantReason(t, err, m.reason)
				})
			}
		}
	}
}

// TestQuoteSignatureEdgeValues forges signatures with r or s zero or all ones: refused, not a
// panic.
func TestQuoteSignatureEdgeValues(t *testing.T) {
	raw, b, at := readQuote(t, sgxQuote), loadBundle(t, sgxCollateral), mustTime(t, v1At)
	for _, fill := range []byte{0x00, 0xff} {
		for _, part := range []struct {
			name string
			off  int
		}{{"quote r", v3SigData}, {"quote s", v3SigData + 32}, {"qe r", v3QESig}, {"qe s", v3QESig + 32}} {
			mut := bytes.Clone(raw)
			copy(mut[part.off:part.off+32], bytes.Repeat([]byte{fill}, 32))
			_, err := Quote(mut, b, at)
			want := ReasonQuoteSignatureInvalid
			if part.off >= v3QESig {
				want = ReasonQEReportSignatureInvalid
			}
			if ReasonOf(err) != want {
				t.Errorf("%s = %02x…: reason %q (%v), want %q", part.name, fill, ReasonOf(err), err, want)
			}
		}
	}
}

// TestTruncations cuts the real quotes at every length short of their declared end: always
// quote_malformed.
func TestTruncations(t *testing.T) {
	for _, tc := range []struct{ name, quote, coll string }{{"sgx", sgxQuote, sgxCollateral}, {"tdx", tdxQuote, tdxCollateral}} {
		raw, b, at := readQuote(t, tc.quote), loadBundle(t, tc.coll), mustTime(t, v1At)
		end := declaredEnd(t, raw)
		for n := range end {
			if _, err := Quote(raw[:n], b, at); ReasonOf(err) != ReasonQuoteMalformed {
				t.Fatalf("%s truncated to %d bytes: reason %q (%v), want quote_malformed", tc.name, n, ReasonOf(err), err)
			}
		}
		if _, err := Quote(raw[:end], b, at); err != nil {
			t.Errorf("%s cut at its declared end (%d bytes): %v", tc.name, end, err)
		}
	}
}

// declaredEnd is the end of a v3 or v4 quote's declared signature data.
func declaredEnd(t *testing.T, raw []byte) int {
	t.Helper()
	lenOff := 432
	if binary.LittleEndian.Uint16(raw) == 4 {
		lenOff = 632
	}
	return lenOff + 4 + int(binary.LittleEndian.Uint32(raw[lenOff:]))
}

// TestGarbage feeds garbage: random bytes, and random bytes behind a real header, are
// quote_malformed; never another reason, never a panic. (Versions 1 and 2 are Intel's EPID
// formats, which the parser calls unsupported; the random inputs avoid them.)
func TestGarbage(t *testing.T) {
	b, at := loadBundle(t, sgxCollateral), mustTime(t, v1At)
	header := readQuote(t, sgxQuote)[:48]
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range 200 {
		junk := make([]byte, rng.IntN(6000))
		for j := range junk {
			junk[j] = byte(rng.Uint32())
		}
		if len(junk) > 1 && junk[1] == 0 && junk[0] <= 5 {
			junk[1] = 1
		}
		_, err := Quote(junk, b, at)
		if r := ReasonOf(err); r != ReasonQuoteMalformed {
			t.Fatalf("random %d (%d bytes): reason %q (%v)", i, len(junk), r, err)
		}
		_, err = Quote(append(bytes.Clone(header), junk...), b, at)
		if r := ReasonOf(err); r != ReasonQuoteMalformed {
			t.Fatalf("header+random %d: reason %q (%v), want quote_malformed", i, r, err)
		}
	}
	for _, text := range []string{"", "0x", "zz", "0x03000200", " \n", "not a quote"} {
		if _, err := Quote([]byte(text), b, at); ReasonOf(err) != ReasonQuoteMalformed {
			t.Errorf("%q: reason %q (%v), want quote_malformed", text, ReasonOf(err), err)
		}
	}
}

// TestHandBuiltQuote covers Quote values that Parse never returns.
func TestHandBuiltQuote(t *testing.T) {
	b, at := loadBundle(t, sgxCollateral), mustTime(t, v1At)
	v, _ := New(Static(b))
	q := parseQuote(t, readQuote(t, sgxQuote))
	bad := *q
	bad.SGX = nil
	if _, err := v.Verify(context.Background(), &bad, at); ReasonOf(err) != ReasonQuoteMalformed {
		t.Errorf("quote without body: %v", err)
	}
	bad = *q
	bad.CertDataType = 4
	if _, err := v.Verify(context.Background(), &bad, at); ReasonOf(err) != ReasonQuoteUnsupported {
		t.Errorf("certification data type 4: %v", err)
	}
	bad = *q
	bad.AttestationKey = [64]byte{1}
	bad.QEAuthData = nil
	if _, err := v.Verify(context.Background(), &bad, at); ReasonOf(err) != ReasonQEReportBindingInvalid {
		t.Errorf("attestation key off the curve: %v", err)
	}
}
