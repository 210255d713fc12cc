package ratls

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Object identifiers of the RA-TLS extensions (spec §1.4, §1.5).
var (
	// OIDLegacyQuote is the OID Gramine actually writes for the raw-quote extension:
	// 0.6.9.42.840.113741.1337.6, DER 06 0B 06 09 2A 86 48 86 F8 4D 8A 39 06. Gramine passed the
	// intended OID's tag and length as content bytes; the mistake is kept for compatibility.
	OIDLegacyQuote = asn1.ObjectIdentifier{0, 6, 9, 42, 840, 113741, 1337, 6}
	// OIDLegacyQuoteIntended is the well-formed 1.2.840.113741.1337.6 used by other RA-TLS
	// stacks for the same raw-quote extension. It is accepted, never written.
	OIDLegacyQuoteIntended = asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}
	// OIDTaggedEvidence is tcg-dice-tagged-evidence, 2.23.133.5.4.9 (Gramine ≥ 1.8).
	OIDTaggedEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
)

const (
	// TaggedEvidenceTag is the CBOR tag of Gramine's TEE-quote tagged evidence.
	TaggedEvidenceTag = 60000
	// MinExtensionSize and MaxExtensionSize bound the value of an RA-TLS extension, as
	// Gramine's verifier does (spec §1.7).
	MinExtensionSize = 128
	MaxExtensionSize = 8192
	// MinCreatedExtensionSize is the smallest extension value this package writes: from 256
	// bytes on, DER encodes the OCTET STRING length as 82 hh ll, the only form Gramine's
	// verifier finds.
	MinCreatedExtensionSize = 256
	// MinQuoteSize is sizeof(sgx_quote_t): header, report body and signature length (spec §1.6).
	MinQuoteSize = 436

	claimPubKeyHash = "pubkey-hash"
)

// IANA Named Information hash algorithm identifiers allowed in the pubkey-hash claim.
const (
	hashSHA256 = 1
	hashSHA384 = 7
	hashSHA512 = 8
)

// decMode decodes RA-TLS CBOR strictly and within small bounds: definite lengths only, no
// duplicate map keys, shallow nesting and few elements (the format needs 3 levels, 2 array
// elements and one map pair; unknown claims get some room).
var decMode = func() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      16,
		TagsMd:           cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic("ratls: cbor decoder options: " + err.Error())
	}
	return dm
}()

// encMode writes the shortest definite-length encodings, which are the bytes libcbor's canonical
// encoders (and therefore Gramine) produce.
var encMode = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic("ratls: cbor encoder options: " + err.Error())
	}
	return em
}()

// CBOR major types, from the top three bits of an item's first byte.
const (
	majorUint   = 0
	majorBytes  = 2
	majorArray  = 4
	majorMap    = 5
	majorTagged = 6
)

func majorType(raw []byte) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}

// taggedEvidence is the decoded content of the TCG DICE tagged-evidence extension.
//
// Ownership: quote and claims are not copies. They are subslices of the bytes given to
// parseTaggedEvidence (in ParseX509, the extension value, which crypto/x509 makes a subslice of
// the certificate's Raw DER), their capacity capped at their own end so that an append cannot
// write over the bytes after them. Nothing in this package writes to them; they are read-only
// and live as long as the certificate, like the legacy quote ParseX509 has always returned as
// Certificate.RawQuote. keyHash is decoded from a copy (the claims map) and is owned.
type taggedEvidence struct {
	quote   []byte // the raw quote (aliases the input, read-only)
	claims  []byte // the serialized claims map, exactly as received (aliases the input, read-only)
	alg     uint64 // pubkey-hash algorithm (IANA Named Information ID)
	keyHash []byte // pubkey-hash value
}

// encodeClaims serializes {"pubkey-hash": bstr([1, SHA-256(spki)])}.
func encodeClaims(spki []byte) ([]byte, error) {
	digest := sha256.Sum256(spki)
	entry, err := encMode.Marshal([]any{uint64(hashSHA256), digest[:]})
	if err != nil {
		return nil, err
	}
	return encMode.Marshal(map[string][]byte{claimPubKeyHash: entry})
}

// encodeTaggedEvidence serializes tag 60000([bstr quote, bstr claims]).
func encodeTaggedEvidence(quoteBytes, claims []byte) ([]byte, error) {
	return encMode.Marshal(cbor.Tag{Number: TaggedEvidenceTag, Content: [][]byte{quoteBytes, claims}})
}

// parseTaggedEvidence decodes and checks the tagged-evidence CBOR (spec §1.8 step 1b), stricter
// than Gramine in one respect: the pubkey-hash claim is required. It checks the structure only;
// the caller binds the quote and the key.
//
// decMode validates all of b first (well formed, definite lengths only, nesting and element
// limits, nothing after the item): the same checks as decoding b into a cbor.RawTag, its content
// into []cbor.RawMessage and the items into []byte, which copied the quote three times. The
// checked bytes are then walked by their heads, and the quote and the claims are returned as
// subslices of b (see taggedEvidence for their ownership).
func parseTaggedEvidence(b []byte) (*taggedEvidence, error) {
	if majorType(b) != majorTagged {
		return nil, errors.New("not a CBOR tag")
	}
	if err := decMode.Wellformed(b); err != nil {
		return nil, err
	}
	_, num, content, err := cborHead(b)
	if err != nil {
		return nil, err
	}
	if num != TaggedEvidenceTag {
		return nil, fmt.Errorf("cbor tag %d, want %d", num, TaggedEvidenceTag)
	}
	items, err := arrayItems(content, 2)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	ev := &taggedEvidence{}
	if ev.quote, items, err = cborByteString(items); err != nil {
		return nil, fmt.Errorf("quote: %w", err)
	}
	if len(ev.quote) < MinQuoteSize {
		return nil, fmt.Errorf("quote: %d bytes, want >= %d", len(ev.quote), MinQuoteSize)
	}
	if ev.claims, items, err = cborByteString(items); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if len(items) != 0 { // unreachable after Wellformed; kept so the walk stands on its own
		return nil, errors.New("evidence: bytes after the array")
	}
	if len(ev.claims) == 0 {
		return nil, errors.New("claims: empty")
	}
	if ev.alg, ev.keyHash, err = parseClaims(ev.claims); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	return ev, nil
}

// parseClaims decodes the claims map and returns the pubkey-hash claim. Every key must be a
// non-empty text string; claims other than pubkey-hash are ignored (but must be well formed).
func parseClaims(b []byte) (alg uint64, digest []byte, err error) {
	if majorType(b) != majorMap {
		return 0, nil, errors.New("not a CBOR map")
	}
	var claims map[any]cbor.RawMessage
	if err := decMode.Unmarshal(b, &claims); err != nil {
		return 0, nil, err
	}
	var entry cbor.RawMessage
	for k, v := range claims {
		name, ok := k.(string)
		if !ok || name == "" {
			return 0, nil, errors.New("claim key is not a non-empty text string")
		}
		if name == claimPubKeyHash {
			entry = v
		}
	}
	if entry == nil {
		return 0, nil, errors.New("pubkey-hash claim missing")
	}
	return parseHashEntry(entry)
}

// parseHashEntry decodes bstr(serialized [uint alg, bstr hash]) and checks the hash length
// against the algorithm.
func parseHashEntry(raw cbor.RawMessage) (alg uint64, digest []byte, err error) {
	inner, err := decodeBytes(raw)
	if err != nil {
		return 0, nil, fmt.Errorf("pubkey-hash: %w", err)
	}
	items, err := decodeArray(inner, 2)
	if err != nil {
		return 0, nil, fmt.Errorf("pubkey-hash: %w", err)
	}
	if majorType(items[0]) != majorUint {
		return 0, nil, errors.New("pubkey-hash: algorithm is not an unsigned integer")
	}
	if err := decMode.Unmarshal(items[0], &alg); err != nil {
		return 0, nil, fmt.Errorf("pubkey-hash: algorithm: %w", err)
	}
	if digest, err = decodeBytes(items[1]); err != nil {
		return 0, nil, fmt.Errorf("pubkey-hash: hash: %w", err)
	}
	want := hashSize(alg)
	if want == 0 {
		return 0, nil, fmt.Errorf("pubkey-hash: algorithm %d not supported", alg)
	}
	if len(digest) != want {
		return 0, nil, fmt.Errorf("pubkey-hash: %d-byte hash for algorithm %d, want %d", len(digest), alg, want)
	}
	return alg, digest, nil
}

// decodeArray decodes a definite array of exactly n items (nested items are validated, kept raw).
func decodeArray(b []byte, n int) ([]cbor.RawMessage, error) {
	if majorType(b) != majorArray {
		return nil, errors.New("not a CBOR array")
	}
	var items []cbor.RawMessage
	if err := decMode.Unmarshal(b, &items); err != nil {
		return nil, err
	}
	if len(items) != n {
		return nil, fmt.Errorf("array of %d items, want %d", len(items), n)
	}
	return items, nil
}

// decodeBytes decodes a definite byte string (no tag in front).
func decodeBytes(raw []byte) ([]byte, error) {
	if majorType(raw) != majorBytes {
		return nil, errors.New("not a CBOR byte string")
	}
	var out []byte
	if err := decMode.Unmarshal(raw, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// cborHead reads the head of the data item at the start of b: its major type, its argument
// (an integer, a length, a count or a tag number) and the bytes after the head. It reads
// definite heads only. Its callers walk bytes decMode has already validated; the checks here
// keep it safe on any input.
func cborHead(b []byte) (major int, arg uint64, rest []byte, err error) {
	if len(b) == 0 {
		return 0, 0, nil, errors.New("unexpected end of CBOR data")
	}
	major, info, rest := majorType(b), b[0]&0x1f, b[1:]
	if info < 24 {
		return major, uint64(info), rest, nil
	}
	if info > 27 { // 28..30 reserved, 31 indefinite length
		return 0, 0, nil, fmt.Errorf("CBOR additional information %d not accepted", info)
	}
	n := 1 << (info - 24) // 1, 2, 4 or 8 argument bytes, big-endian
	if len(rest) < n {
		return 0, 0, nil, errors.New("unexpected end of CBOR data")
	}
	for _, c := range rest[:n] {
		arg = arg<<8 | uint64(c)
	}
	return major, arg, rest[n:], nil
}

// arrayItems reads the head of a definite array of exactly n items and returns the bytes after
// it: the items, then anything that follows the array.
func arrayItems(b []byte, n uint64) ([]byte, error) {
	major, count, rest, err := cborHead(b)
	switch {
	case err != nil:
		return nil, err
	case major != majorArray:
		return nil, errors.New("not a CBOR array")
	case count != n:
		return nil, fmt.Errorf("array of %d items, want %d", count, n)
	}
	return rest, nil
}

// cborByteString reads the definite byte string at the start of b (no tag in front) and returns
// its content, a subslice of b whose capacity ends with it, and the bytes after it.
func cborByteString(b []byte) (content, rest []byte, err error) {
	major, n, rest, err := cborHead(b)
	switch {
	case err != nil:
		return nil, nil, err
	case major != majorBytes:
		return nil, nil, errors.New("not a CBOR byte string")
	case n > uint64(len(rest)):
		return nil, nil, errors.New("unexpected end of CBOR data")
	}
	return rest[:n:n], rest[n:], nil
}

// hashSize returns the digest length of a pubkey-hash algorithm, 0 if not supported.
func hashSize(alg uint64) int {
	switch alg {
	case hashSHA256:
		return sha256.Size
	case hashSHA384:
		return sha512.Size384
	case hashSHA512:
		return sha512.Size
	}
	return 0
}

// keyHash hashes spki with a supported pubkey-hash algorithm.
func keyHash(alg uint64, spki []byte) []byte {
	switch alg {
	case hashSHA384:
		h := sha512.Sum384(spki)
		return h[:]
	case hashSHA512:
		h := sha512.Sum512(spki)
		return h[:]
	default:
		h := sha256.Sum256(spki)
		return h[:]
	}
}
