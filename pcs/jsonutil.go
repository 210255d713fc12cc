package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on attacker-supplied documents. Intel's largest TCB Info is ~20 KiB with ~20 levels.
const (
	MaxDocumentSize   = 1 << 20 // bytes of any JSON document, CRL or chain accepted
	MaxTCBLevels      = 256     // platform, QE or module levels in one document
	MaxModules        = 16      // TDX module identities
	MaxAdvisoryIDs    = 256     // advisory IDs in one level
	maxAdvisoryIDSize = 64
	maxJSONDepth      = 32
)

// checkJSON requires b to be exactly one valid JSON value, no deeper than maxJSONDepth, without
// duplicate object keys (compared case-insensitively, because encoding/json matches field
// names that way: "fmspc" and "FMSPC" would otherwise silently overwrite each other).
// Syntax is checked by json.Valid before the key walk.
func checkJSON(b []byte) error {
	if len(b) > MaxDocumentSize {
		return fmt.Errorf("%d bytes exceed the %d-byte limit", len(b), MaxDocumentSize)
	}
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	if !json.Valid(b) {
		var v json.RawMessage
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		return errors.New("invalid JSON")
	}
	return checkKeys(b)
}

// checkKeys walks valid JSON text and refuses duplicate keys and deep nesting.
func checkKeys(b []byte) error {
	type frame struct {
		id        int
		object    bool
		expectKey bool
	}
	var stack []frame
	seen := make(map[string]struct{})
	objects := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			end := stringEnd(b, i)
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				stack[n-1].expectKey = false
				key, err := jsonKey(b[i : end+1])
				if err != nil {
					return err
				}
				k := strconv.Itoa(stack[n-1].id) + "\x00" + foldKey(key)
				if _, dup := seen[k]; dup {
					return fmt.Errorf("duplicate key %q", key)
				}
				seen[k] = struct{}{}
			}
			i = end
		case '{', '[':
			if len(stack) == maxJSONDepth {
				return errors.New("JSON nested too deeply")
			}
			objects++
			stack = append(stack, frame{id: objects, object: b[i] == '{', expectKey: b[i] == '{'})
		case '}', ']':
			stack = stack[:len(stack)-1]
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].expectKey = true
			}
		}
	}
	return nil
}

// stringEnd returns the index of the closing quote of the string starting at b[start].
func stringEnd(b []byte, start int) int {
	for i := start + 1; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(b) - 1
}

// foldKey maps every rune to the smallest rune of its case-folding orbit, so that keys equal
// under encoding/json's case-insensitive matching (including "ſ" for "s" and the Kelvin sign
// for "k") fold to the same string.
func foldKey(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}

// jsonKey decodes a quoted key, unescaping only when needed.
func jsonKey(quoted []byte) (string, error) {
	if !bytes.ContainsRune(quoted, '\\') {
		return string(quoted[1 : len(quoted)-1]), nil
	}
	var s string
	err := json.Unmarshal(quoted, &s)
	return s, err
}

// decodeStrict checks b with checkJSON and unmarshals it into v.
func decodeStrict(b []byte, v any) error {
	if err := checkJSON(b); err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// parseDate parses an RFC 3339 time in UTC ("Z" suffix), as Intel writes
// "2025-06-19T10:56:11Z".
func parseDate(field string, s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, missing(field)
	}
	if !strings.HasSuffix(*s, "Z") {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 UTC time", field, *s)
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", field, err)
	}
	return t, nil
}

// hexField decodes a required hex string of exactly len(dst) bytes.
func hexField(field string, s *string, dst []byte) error {
	if s == nil {
		return missing(field)
	}
	if err := decodeHexInto(dst, *s); err != nil {
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}

// parseSignatureHex decodes the 128-hex-digit r||s signature of a PCS document.
func parseSignatureHex(s string) ([64]byte, error) {
	var sig [64]byte
	if len(s) != 128 {
		return sig, fmt.Errorf("signature: want 128 hex digits, got %d characters", len(s))
	}
	if _, err := hex.Decode(sig[:], []byte(s)); err != nil {
		return sig, fmt.Errorf("signature: %w", err)
	}
	return sig, nil
}

func missing(field string) error { return fmt.Errorf("%s: missing", field) }

// checkAdvisories bounds an advisory ID list.
func checkAdvisories(ids []string) error {
	if len(ids) > MaxAdvisoryIDs {
		return fmt.Errorf("advisoryIDs: more than %d", MaxAdvisoryIDs)
	}
	for _, id := range ids {
		if id == "" || len(id) > maxAdvisoryIDSize {
			return fmt.Errorf("advisoryIDs: invalid ID %q", id)
		}
	}
	return nil
}

// rawObject extracts the raw bytes of a required JSON object member from a checked body.
func rawObject(field string, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 {
		return nil, missing(field)
	}
	if raw[0] != '{' {
		return nil, fmt.Errorf("%s: not a JSON object", field)
	}
	return bytes.Clone(raw), nil
}

func evaluationDataNumber(n *int) (int, error) {
	if n == nil {
		return 0, missing("tcbEvaluationDataNumber")
	}
	if *n < 0 {
		return 0, fmt.Errorf("tcbEvaluationDataNumber: negative %d", *n)
	}
	return *n, nil
}
