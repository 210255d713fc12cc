package quote

import (
	"errors"
	"fmt"
	"testing"
)

func TestFormatErrorMessage(t *testing.T) {
	tests := []struct {
		err  *FormatError
		want string
	}{
		{malformed("signature data length", 432, "<= 4570", "9000"),
			"quote: signature data length: want <= 4570, got 9000"},
		{unsupported("version", 0, "3, 4 or 5", "6"), "quote: version: want 3, 4 or 5, got 6 (unsupported)"},
		{&FormatError{Field: "x", Want: "w"}, "quote: x: want w"},
		{&FormatError{Field: "x", Got: "g"}, "quote: x: got g"},
		{&FormatError{Field: "x"}, "quote: x"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestFormatErrorIs(t *testing.T) {
	wrapped := fmt.Errorf("verify: parse: %w", unsupported("tee type", 4, "", ""))
	if !errors.Is(wrapped, ErrUnsupported) || errors.Is(wrapped, ErrMalformed) {
		t.Error("wrapped unsupported error misclassified")
	}
	var zero FormatError // Err nil counts as malformed
	if !errors.Is(&zero, ErrMalformed) || errors.Is(&zero, ErrUnsupported) {
		t.Error("FormatError with nil Err is not ErrMalformed")
	}
	fe, ok := errors.AsType[*FormatError](wrapped)
	if !ok || fe.Offset != 4 {
		t.Errorf("errors.AsType = %v, %v", fe, ok)
	}
}
