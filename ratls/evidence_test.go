package ratls

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// Minimal CBOR builders for hand-made (also ill-formed) test inputs.

func cHead(major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return []byte{m | byte(n)}
	case n < 1<<8:
		return []byte{m | 24, byte(n)}
	case n < 1<<16:
		return binary.BigEndian.AppendUint16([]byte{m | 25}, uint16(n))
	default:
		return binary.BigEndian.AppendUint32([]byte{m | 26}, uint32(n))
	}
}

// cHeadW writes a head with its argument in width (1, 2, 4 or 8) bytes: well formed, not the
// shortest form, which decoders accept.
func cHeadW(major byte, n uint64, width int) []byte {
	info := map[int]byte{1: 24, 2: 25, 4: 26, 8: 27}[width]
	out := []byte{major<<5 | info}
	for i := width - 1; i >= 0; i-- {
		out = append(out, byte(n>>(8*i)))
	}
	return out
}

func cBytes(b []byte) []byte { return append(cHead(2, uint64(len(b))), b...) }
func cText(s string) []byte  { return append(cHead(3, uint64(len(s))), s...) }
func cUint(n uint64) []byte  { return cHead(0, n) }
func cTag(n uint64, item []byte) []byte {
	return append(cHead(6, n), item...)
}

func cArray(items ...[]byte) []byte {
	out := cHead(4, uint64(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

// cMap takes keys and values alternately.
func cMap(kv ...[]byte) []byte {
	out := cHead(5, uint64(len(kv)/2))
	for _, it := range kv {
		out = append(out, it...)
	}
	return out
}

func hashEntry(alg uint64, digest []byte) []byte { return cBytes(cArray(cUint(alg), cBytes(digest))) }

func evidenceOf(q, claims []byte) []byte {
	return cTag(TaggedEvidenceTag, cArray(cBytes(q), cBytes(claims)))
}

// copyingTaggedEvidence decodes the quote and the claims the way parseTaggedEvidence did before
// it walked the bytes: a cbor.RawTag, its content as []cbor.RawMessage, each item as []byte,
// three copies of the quote. It is the oracle of the differential checks.
func copyingTaggedEvidence(b []byte) (q, claims []byte, err error) {
	var tag cbor.RawTag
	if majorType(b) != majorTagged {
		return nil, nil, errors.New("not a CBOR tag")
	}
	if err := decMode.Unmarshal(b, &tag); err != nil {
		return nil, nil, err
	}
	if tag.Number != TaggedEvidenceTag {
		return nil, nil, errors.New("wrong tag")
	}
	items, err := decodeArray(tag.Content, 2)
	if err != nil {
		return nil, nil, err
	}
	if q, err = decodeBytes(items[0]); err != nil {
		return nil, nil, err
	}
	claims, err = decodeBytes(items[1])
	return q, claims, err
}

// checkLikeCopying fails unless parseTaggedEvidence accepts exactly what the copying decoder
// and the checks after it accept, with the same quote, claims and pubkey-hash.
func checkLikeCopying(t *testing.T, b []byte, ev *taggedEvidence, err error) {
	t.Helper()
	q, claims, refErr := copyingTaggedEvidence(b)
	var alg uint64
	var digest []byte
	if refErr == nil && (len(q) < MinQuoteSize || len(claims) == 0) {
		refErr = errors.New("sizes")
	}
	if refErr == nil {
		alg, digest, refErr = parseClaims(claims)
	}
	if (err == nil) != (refErr == nil) {
		t.Fatalf("parseTaggedEvidence: %v; copying decoder: %v", err, refErr)
	}
	if err == nil && (!bytes.Equal(ev.quote, q) || !bytes.Equal(ev.claims, claims) || ev.alg != alg || !bytes.Equal(ev.keyHash, digest)) {
		t.Fatal("parseTaggedEvidence and the copying decoder disagree on the content")
	}
}

// within reports whether sub is a subslice of b whose capacity ends with it (no copy, and an
// append cannot write into b).
func within(sub, b []byte) bool {
	if len(sub) == 0 || cap(sub) != len(sub) {
		return false
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}

func TestParseTaggedEvidence(t *testing.T) {
	q := testQuote(testReport(mrEnclaveA))
	spki := []byte("stand-in for a SubjectPublicKeyInfo")
	h256, h384, h512 := sha256.Sum256(spki), sha512.Sum384(spki), sha512.Sum512(spki)
	good := cMap(cText("pubkey-hash"), hashEntry(1, h256[:]))
	deep := cArray(cArray(cArray(cArray(cUint(1)))))
	many := make([][]byte, 0, 34)
	for i := range 17 {
		many = append(many, cText(string(rune('a'+i))), cUint(1))
	}
	tests := []struct {
		name    string
		in      []byte
		wantAlg uint64 // 0: must fail
	}{
		{"gramine", evidenceOf(q, good), 1},
		{"sha-384", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(7, h384[:]))), 7},
		{"sha-512", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(8, h512[:]))), 8},
		{"unknown claim ignored", evidenceOf(q, cMap(cText("nonce"), cBytes([]byte{1, 2}), cText("pubkey-hash"), hashEntry(1, h256[:]))), 1},
		{"empty", nil, 0},
		{"not a tag", cArray(cBytes(q), cBytes(good)), 0},
		{"wrong tag", cTag(60001, cArray(cBytes(q), cBytes(good))), 0},
		{"nested tag", cTag(TaggedEvidenceTag, cTag(24, cArray(cBytes(q), cBytes(good)))), 0},
		{"indefinite array", append(append(append(cTag(TaggedEvidenceTag, []byte{0x9f}), cBytes(q)...), cBytes(good)...), 0xff), 0},
		{"array of 3", cTag(TaggedEvidenceTag, cArray(cBytes(q), cBytes(good), cBytes(nil))), 0},
		{"array of 1", cTag(TaggedEvidenceTag, cArray(cBytes(q))), 0},
		{"quote as text", cTag(TaggedEvidenceTag, cArray(cText(string(q)), cBytes(good))), 0},
		{"quote too short", evidenceOf(q[:MinQuoteSize-1], good), 0},
		{"indefinite quote", cTag(TaggedEvidenceTag, cArray(append(append([]byte{0x5f}, cBytes(q)...), 0xff), cBytes(good))), 0},
		{"claims empty", evidenceOf(q, nil), 0},
		{"claims not wrapped", cTag(TaggedEvidenceTag, cArray(cBytes(q), good)), 0},
		{"claims not a map", evidenceOf(q, cArray(cText("pubkey-hash"))), 0},
		{"claims null", evidenceOf(q, []byte{0xf6}), 0},
		{"claims trailing byte", evidenceOf(q, append(append([]byte{}, good...), 0)), 0},
		{"integer key", evidenceOf(q, cMap(cUint(1), cUint(1), cText("pubkey-hash"), hashEntry(1, h256[:]))), 0},
		{"byte string key", evidenceOf(q, cMap(cBytes([]byte("pubkey-hash")), hashEntry(1, h256[:]))), 0},
		{"empty key", evidenceOf(q, cMap(cText(""), cUint(1), cText("pubkey-hash"), hashEntry(1, h256[:]))), 0},
		{"duplicate key", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(1, h256[:]), cText("pubkey-hash"), hashEntry(1, h256[:]))), 0},
		{"missing pubkey-hash", evidenceOf(q, cMap(cText("nonce"), cBytes([]byte{1}))), 0},
		{"pubkey-hash not wrapped", evidenceOf(q, cMap(cText("pubkey-hash"), cArray(cUint(1), cBytes(h256[:])))), 0},
		{"pubkey-hash empty", evidenceOf(q, cMap(cText("pubkey-hash"), cBytes(nil))), 0},
		{"hash entry of 3", evidenceOf(q, cMap(cText("pubkey-hash"), cBytes(cArray(cUint(1), cBytes(h256[:]), cUint(0))))), 0},
		{"negative alg", evidenceOf(q, cMap(cText("pubkey-hash"), cBytes(cArray([]byte{0x20}, cBytes(h256[:]))))), 0},
		{"unknown alg", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(2, h256[:]))), 0},
		{"sha-384 with 32 bytes", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(7, h256[:]))), 0},
		{"sha-256 with 31 bytes", evidenceOf(q, cMap(cText("pubkey-hash"), hashEntry(1, h256[:31]))), 0},
		{"hash as text", evidenceOf(q, cMap(cText("pubkey-hash"), cBytes(cArray(cUint(1), cText(string(h256[:])))))), 0},
		{"trailing bytes", append(evidenceOf(q, good), 0x00), 0},
		{"too deep", evidenceOf(q, cMap(cText("x"), deep, cText("pubkey-hash"), hashEntry(1, h256[:]))), 0},
		{"too many claims", evidenceOf(q, cMap(append(many, cText("pubkey-hash"), hashEntry(1, h256[:]))...)), 0},
		{"truncated", evidenceOf(q, good)[:500], 0},
		// Heads in longer forms than needed are well formed: accepted, as they always were.
		{"tag number in 4 bytes", append(cHeadW(6, TaggedEvidenceTag, 4), cArray(cBytes(q), cBytes(good))...), 1},
		{"tag number in 8 bytes", append(cHeadW(6, TaggedEvidenceTag, 8), cArray(cBytes(q), cBytes(good))...), 1},
		{"array count in 1 byte", cTag(TaggedEvidenceTag, slices.Concat(cHeadW(4, 2, 1), cBytes(q), cBytes(good))), 1},
		{"quote length in 8 bytes", cTag(TaggedEvidenceTag, cArray(append(cHeadW(2, uint64(len(q)), 8), q...), cBytes(good))), 1},
		{"claims length in 4 bytes", cTag(TaggedEvidenceTag, cArray(cBytes(q), append(cHeadW(2, uint64(len(good)), 4), good...))), 1},
		{"tag number 2^32 + 60000", append(cHeadW(6, 1<<32|TaggedEvidenceTag, 8), cArray(cBytes(q), cBytes(good))...), 0},
		{"tag number reserved form", append([]byte{0xdc}, cArray(cBytes(q), cBytes(good))...), 0},
		{"array count 2^32 + 2", cTag(TaggedEvidenceTag, slices.Concat(cHeadW(4, 1<<32|2, 8), cBytes(q), cBytes(good))), 0},
		{"tagged quote", cTag(TaggedEvidenceTag, cArray(cTag(24, cBytes(q)), cBytes(good))), 0},
		{"tagged claims", cTag(TaggedEvidenceTag, cArray(cBytes(q), cTag(24, cBytes(good)))), 0},
		{"quote longer than the data", cTag(TaggedEvidenceTag, cArray(append(cHeadW(2, uint64(len(q))+40, 2), q...), cBytes(good))), 0},
		{"quote length 2^64-1", cTag(TaggedEvidenceTag, cArray(append(cHeadW(2, 1<<64-1, 8), q...), cBytes(good))), 0},
		{"empty tag content", cHead(6, TaggedEvidenceTag), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseTaggedEvidence(tt.in)
			checkLikeCopying(t, tt.in, ev, err)
			if tt.wantAlg == 0 {
				if err == nil {
					t.Fatalf("accepted: alg %d", ev.alg)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if ev.alg != tt.wantAlg || !bytes.Equal(ev.keyHash, keyHash(ev.alg, spki)) || !bytes.Equal(ev.quote, q) {
				t.Errorf("alg %d, hash %x", ev.alg, ev.keyHash)
			}
			if !within(ev.quote, tt.in) || !within(ev.claims, tt.in) {
				t.Error("quote or claims copied, or not capped at their end")
			}
		})
	}
}

func TestEncodeMatchesGramineLayout(t *testing.T) {
	spki := []byte("spki")
	claims, err := encodeClaims(spki)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(spki)
	if want := cMap(cText("pubkey-hash"), hashEntry(1, h[:])); !bytes.Equal(claims, want) {
		t.Errorf("claims %x, want %x", claims, want)
	}
	q := testQuote(testReport(mrEnclaveA))
	ev, err := encodeTaggedEvidence(q, claims)
	if err != nil {
		t.Fatal(err)
	}
	if want := evidenceOf(q, claims); !bytes.Equal(ev, want) {
		t.Errorf("evidence differs from the hand-built encoding")
	}
}
