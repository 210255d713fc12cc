package quote

import (
	"errors"
	"strconv"
)

// Sentinel errors. Every error returned by this package wraps exactly one of them, so a caller can
// branch with errors.Is without looking at the message.
var (
	// ErrMalformed marks input that does not follow the quote layout: too short or too long,
	// declared lengths that do not fit, non-zero reserved bytes, bytes that are not hex.
	ErrMalformed = errors.New("quote: malformed")

	// ErrUnsupported marks input that is well formed as far as it was read but uses something this
	// package does not support: quote version, attestation key type, TEE type, QE vendor,
	// certification data type, body type.
	ErrUnsupported = errors.New("quote: unsupported")
)

// FormatError describes why bytes were refused. Use errors.Is with ErrMalformed or
// ErrUnsupported to classify it; Field, Want and Got are for people, not for branching.
type FormatError struct {
	Field  string // the field or structure that was refused, e.g. "signature data length"
	Offset int    // byte offset of Field in the input, or -1 when not tied to a position
	Want   string // what was expected, e.g. "<= 4570"; may be empty
	Got    string // what was found, e.g. "9000"; may be empty
	// Err is ErrMalformed or ErrUnsupported. A nil Err counts as ErrMalformed.
	Err error
}

// Error returns e.g. "quote: signature data length: want <= 4570, got 9000".
func (e *FormatError) Error() string {
	s := "quote: " + e.Field
	switch {
	case e.Want != "" && e.Got != "":
		s += ": want " + e.Want + ", got " + e.Got
	case e.Want != "":
		s += ": want " + e.Want
	case e.Got != "":
		s += ": got " + e.Got
	}
	if errors.Is(e.Err, ErrUnsupported) {
		s += " (unsupported)"
	}
	return s
}

// Unwrap returns ErrMalformed or ErrUnsupported.
func (e *FormatError) Unwrap() error {
	if e.Err == nil {
		return ErrMalformed
	}
	return e.Err
}

func malformed(field string, off int, want, got string) *FormatError {
	return &FormatError{Field: field, Offset: off, Want: want, Got: got, Err: ErrMalformed}
}

func unsupported(field string, off int, want, got string) *FormatError {
	return &FormatError{Field: field, Offset: off, Want: want, Got: got, Err: ErrUnsupported}
}

// nbytes formats a byte count for Want/Got.
func nbytes(n int) string { return strconv.Itoa(n) + " bytes" }

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

func hex16(v uint16) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
