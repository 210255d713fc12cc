package quote

import "strconv"

// ParseText parses a quote given either as binary or as hex text (as printed by tools and
// stored in files such as Phala's tdx-quote.hex).
//
// Detection: b is hex text when its first byte is an ASCII hex digit or ASCII white space
// (space, \t, \n, \v, \f, \r); otherwise it is binary and goes to Parse unchanged. A binary quote
// starts with its little-endian version, 03 00, 04 00 or 05 00: byte 0x03, 0x04 or 0x05 is
// neither, so no quote Parse accepts is ever taken for text.
//
// Hex text: leading white space, then an optional "0x" or "0X", then hex digits of either case
// with white space anywhere between them (a trailing newline is fine); the digit count must be
// even. The decoded bytes go to Parse; text that decodes to more than MaxSize bytes is refused
// without decoding the rest. Errors are *FormatError values as for Parse.
func ParseText(b []byte) (*Quote, error) {
	if len(b) == 0 || !(isHexDigit(b[0]) || isSpace(b[0])) {
		return Parse(b)
	}
	raw, err := decodeHexText(b)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// decodeHexText decodes hex text as described at ParseText; offsets in errors index text.
func decodeHexText(text []byte) ([]byte, error) {
	i := 0
	for i < len(text) && isSpace(text[i]) {
		i++
	}
	if i+1 < len(text) && text[i] == '0' && (text[i+1] == 'x' || text[i+1] == 'X') {
		i += 2
	}
	out := make([]byte, 0, min(len(text)/2, MaxSize+1))
	var hi byte
	half := false
	for ; i < len(text); i++ {
		ch := text[i]
		if isSpace(ch) {
			continue
		}
		v, ok := hexValue(ch)
		if !ok {
			return nil, malformed("hex text", i, "hex digit or white space", quoteByte(ch))
		}
		if !half {
			hi, half = v, true
			continue
		}
		if len(out) == MaxSize {
			return nil, malformed("quote size", 0, "<= "+nbytes(MaxSize),
				"more than "+strconv.Itoa(MaxSize)+" bytes")
		}
		out = append(out, hi<<4|v)
		half = false
	}
	if half {
		return nil, malformed("hex text", len(text), "an even number of hex digits", "an odd number")
	}
	return out, nil
}

func isHexDigit(c byte) bool {
	_, ok := hexValue(c)
	return ok
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}
