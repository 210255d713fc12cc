package wire

import (
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
)

// chunkSize bounds each allocation step when reading a value, so that a declared length costs
// memory only as its bytes actually arrive.
const chunkSize = 64 << 10

// maxEmptyReads is how many (0, nil) results from a Reader count as no progress.
const maxEmptyReads = 100

// reader tracks the offset inside the message being read, for error messages.
type reader struct {
	r   io.Reader
	off int
	buf [MaxNameLenCeiling]byte // scratch for names, reason codes and fixed fields
}

// truncated maps the end of stream inside a message to ErrTruncated; other errors (deadlines,
// resets) are returned as they are.
func truncated(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %w", ErrTruncated, io.ErrUnexpectedEOF)
	}
	return err
}

// full reads exactly len(p) bytes.
func (m *reader) full(p []byte) error {
	n, err := io.ReadFull(m.r, p)
	m.off += n
	if err != nil {
		return truncated(err)
	}
	return nil
}

func (m *reader) byte() (byte, error) {
	if err := m.full(m.buf[:1]); err != nil {
		return 0, err
	}
	return m.buf[0], nil
}

func (m *reader) uint16() (uint16, error) {
	if err := m.full(m.buf[:2]); err != nil {
		return 0, err
	}
	return uint16(m.buf[0])<<8 | uint16(m.buf[1]), nil
}

func (m *reader) uint32() (uint32, error) {
	if err := m.full(m.buf[:4]); err != nil {
		return 0, err
	}
	b := m.buf[:4]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]), nil
}

// short reads a 1-byte length and that many bytes into the scratch buffer; the slice is valid
// until the next read.
func (m *reader) short(maxLen int) ([]byte, error) {
	n, err := m.byte()
	if err != nil {
		return nil, err
	}
	if int(n) > maxLen {
		return nil, fmt.Errorf("length %d > %d: %w", n, maxLen, ErrTooLarge)
	}
	p := m.buf[:n]
	if err := m.full(p); err != nil {
		return nil, err
	}
	return p, nil
}

// value reads n bytes, growing the buffer in bounded steps so that memory follows the bytes
// received rather than the length declared.
func (m *reader) value(n int) ([]byte, error) {
	if n <= chunkSize {
		p := make([]byte, n)
		return p, m.full(p)
	}
	p := make([]byte, 0, chunkSize)
	for len(p) < n {
		step := min(n-len(p), chunkSize)
		p = slices.Grow(p, step)
		if err := m.full(p[len(p) : len(p)+step]); err != nil {
			return nil, err
		}
		p = p[:len(p)+step]
	}
	return p, nil
}

// magic reads one of magics (none a prefix of another) and returns its index. It never reads
// past the magic that matches, and it refuses the first byte that matches none as soon as that
// byte arrives: the first byte, and every byte while two magics are still possible, is read on
// its own; then the rest of the one remaining magic is asked for at once and each Read's bytes
// are checked on arrival. Garbage therefore costs at most the longest magic's length, and
// usually one byte. A stream that ends before the first byte gives io.EOF.
func (m *reader) magic(magics ...string) (int, error) {
	buf := m.buf[:]
	alive := uint(1)<<len(magics) - 1
	pos, empty := 0, 0
	for {
		want := pos + 1
		if pos > 0 && bits.OnesCount(alive) == 1 {
			want = len(magics[bits.TrailingZeros(alive)])
		}
		n, err := m.r.Read(buf[pos:want])
		got, before := buf[pos:pos+n], alive
		for i, s := range magics {
			if alive&(1<<i) != 0 && s[pos:pos+n] != string(got) {
				alive &^= 1 << i
			}
		}
		if alive == 0 {
			m.off += matched(got, magics, before, pos)
			return -1, fmt.Errorf("magic: byte %d: %w", m.off, ErrBadMagic)
		}
		pos += n
		m.off += n
		for i, s := range magics {
			if alive&(1<<i) != 0 && len(s) == pos {
				return i, nil
			}
		}
		switch {
		case err == io.EOF && pos == 0:
			return -1, io.EOF
		case err != nil:
			return -1, fmt.Errorf("magic: byte %d: %w", m.off, truncated(err))
		case n == 0:
			if empty++; empty >= maxEmptyReads {
				return -1, io.ErrNoProgress
			}
		}
	}
}

// matched returns how many leading bytes of got (read at offset pos) the best of the magics
// still possible before got accepted.
func matched(got []byte, magics []string, alive uint, pos int) int {
	best := 0
	for i, s := range magics {
		if alive&(1<<i) == 0 {
			continue
		}
		k := 0
		for k < len(got) && s[pos+k] == got[k] {
			k++
		}
		best = max(best, k)
	}
	return best
}

// CheckName reports whether name is a valid secret name under lim: 1 to lim.MaxNameLen bytes
// of [A-Za-z0-9._-], and neither "." nor "..". The error wraps [ErrInvalidName] or
// [ErrTooLarge].
func CheckName(name string, lim Limits) error {
	lim = lim.norm()
	if len(name) > lim.MaxNameLen {
		return fmt.Errorf("wire: name of %d bytes > %d: %w", len(name), lim.MaxNameLen, ErrTooLarge)
	}
	if err := checkNameChars(name); err != nil {
		return fmt.Errorf("wire: %w", err)
	}
	return nil
}

func checkNameChars[T string | []byte](name T) error {
	if len(name) == 0 || string(name) == "." || string(name) == ".." {
		return ErrInvalidName
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("byte %d of name: %w", i, ErrInvalidName)
		}
	}
	return nil
}

// checkReason reports whether code is a valid reason code: at most MaxReasonLen bytes of
// [a-z0-9_], and not empty unless allowEmpty.
func checkReason[T string | []byte](code T, allowEmpty bool) error {
	if len(code) > MaxReasonLen {
		return fmt.Errorf("reason code of %d bytes > %d: %w", len(code), MaxReasonLen, ErrTooLarge)
	}
	if len(code) == 0 && !allowEmpty {
		return fmt.Errorf("empty reason code: %w", ErrMalformed)
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return fmt.Errorf("byte %d of reason code: %w", i, ErrMalformed)
		}
	}
	return nil
}

// hasDuplicate reports whether names repeats a name.
func hasDuplicate(names []string) bool {
	if len(names) <= DefaultMaxNames {
		for i := range names {
			if slices.Contains(names[:i], names[i]) {
				return true
			}
		}
		return false
	}
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	return len(slices.Compact(sorted)) != len(names)
}
