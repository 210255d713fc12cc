package attest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// errTooLarge is returned by readBounded when the file holds more than the limit.
var errTooLarge = errors.New("larger than the limit")

// readBounded reads a whole file of at most limit bytes. A longer file is an error wrapping
// errTooLarge; at most limit+1 bytes are read from it.
func readBounded(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, limit+1)
	n, err := io.ReadFull(f, buf)
	switch {
	case err == nil:
		return nil, fmt.Errorf("read %s: more than %d bytes: %w", path, limit, errTooLarge)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return bytes.Clone(buf[:n]), nil
	default:
		return nil, err
	}
}

// readAttr reads a small text attribute (attestation_type, generation, provider) and trims the
// surrounding white space (the kernel ends its attributes with a newline; Gramine does not).
func readAttr(path string) (string, error) {
	b, err := readBounded(path, 64)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// readUint reads a decimal counter attribute.
func readUint(path string) (uint64, error) {
	s, err := readAttr(path)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s holds %q, want a decimal counter: %w", path, s, err)
	}
	return n, nil
}

// writeExact writes data to an existing file in one write and closes it. Both pseudo-filesystems
// act on close (Gramine's str files call their save callback, configfs binary attributes call
// their write method), so the close error counts. The file is never created: a missing device
// file is an error, not something to invent.
func writeExact(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
