package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ReadNamedRequest reads a named request whose magic has not been read yet: the follow-up a
// client may send after the V1 exchange. Anything else is refused at its first wrong byte
// ([ErrBadMagic]); a stream that ends before the first byte (the client is done) gives an error
// matching io.EOF. It reads exactly the bytes of the request.
func ReadNamedRequest(r io.Reader, lim Limits) ([]string, error) {
	m := &reader{r: r}
	if _, err := m.magic(NamedRequestMagic); err != nil {
		return nil, fmt.Errorf("wire: read named request: %w", err)
	}
	names, err := m.namedBody(lim.norm())
	if err != nil {
		return nil, fmt.Errorf("wire: read named request: %w", err)
	}
	return names, nil
}

// namedBody reads what follows NamedRequestMagic: the count and the names.
func (m *reader) namedBody(lim Limits) ([]string, error) {
	count, err := m.uint16()
	switch {
	case err != nil:
		return nil, fmt.Errorf("name count: %w", err)
	case count == 0:
		return nil, fmt.Errorf("name count 0: %w", ErrMalformed)
	case int(count) > lim.MaxNames:
		return nil, fmt.Errorf("name count %d > %d: %w", count, lim.MaxNames, ErrTooLarge)
	}
	names := make([]string, 0, count)
	for i := range int(count) {
		at := m.off
		b, err := m.short(lim.MaxNameLen)
		if err == nil {
			err = checkNameChars(b)
		}
		if err != nil {
			return nil, fmt.Errorf("name %d at byte %d: %w", i, at, err)
		}
		names = append(names, string(b))
	}
	if hasDuplicate(names) {
		return nil, fmt.Errorf("repeated name: %w", ErrInvalidName)
	}
	return names, nil
}

// WriteNamedRequest writes a named request for names, which must be valid under lim (see
// [CheckName]), distinct, and between 1 and lim.MaxNames of them. Nothing is written if they
// are not.
func WriteNamedRequest(w io.Writer, names []string, lim Limits) error {
	lim = lim.norm()
	switch {
	case len(names) == 0:
		return fmt.Errorf("wire: write named request: no names: %w", ErrMalformed)
	case len(names) > lim.MaxNames:
		return fmt.Errorf("wire: write named request: %d names > %d: %w", len(names), lim.MaxNames, ErrTooLarge)
	case hasDuplicate(names):
		return fmt.Errorf("wire: write named request: repeated name: %w", ErrInvalidName)
	}
	size := len(NamedRequestMagic) + 2
	for i, name := range names {
		if err := CheckName(name, lim); err != nil {
			return fmt.Errorf("wire: write named request: name %d: %w", i, err)
		}
		size += 1 + len(name)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, NamedRequestMagic...)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(names)))
	for _, name := range names {
		buf = append(append(buf, byte(len(name))), name...)
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("wire: write named request: %w", err)
	}
	return nil
}

// WriteNamedResponse writes the answer to a named request: one entry per requested name, in the
// request's order. Every entry is checked before anything is written: a valid, distinct name; a
// known status; with [StatusFound] a value of 1 to lim.MaxSecretSize bytes and no reason; with
// another status no value and an optional reason code ([a-z0-9_], at most [MaxReasonLen]
// bytes); values totalling at most lim.MaxTotalSize. The message goes out in one Write through
// a buffer that is zeroed afterwards.
func WriteNamedResponse(w io.Writer, entries []Entry, lim Limits) error {
	lim = lim.norm()
	size, err := responseSize(entries, lim)
	if err != nil {
		return fmt.Errorf("wire: write named response: %w", err)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, NamedResponseMagic...)
	buf = append(buf, responseSecrets)
	buf = binary.BigEndian.AppendUint16(buf, uint16(len(entries)))
	for _, e := range entries {
		buf = append(append(buf, byte(len(e.Name))), e.Name...)
		buf = append(buf, byte(e.Status))
		if e.Status == StatusFound {
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(e.Value)))
			buf = append(buf, e.Value...)
		} else {
			buf = append(append(buf, byte(len(e.Reason))), e.Reason...)
		}
	}
	_, err = w.Write(buf)
	clear(buf)
	if err != nil {
		return fmt.Errorf("wire: write named response: %w", err)
	}
	return nil
}

// responseSize checks entries and returns the size of their response.
func responseSize(entries []Entry, lim Limits) (int, error) {
	if len(entries) == 0 || len(entries) > lim.MaxNames {
		return 0, fmt.Errorf("%d entries, want 1 to %d: %w", len(entries), lim.MaxNames, ErrMalformed)
	}
	names := make([]string, len(entries))
	size, total := len(NamedResponseMagic)+1+2, 0
	for i, e := range entries {
		if err := checkEntry(e, lim); err != nil {
			return 0, fmt.Errorf("entry %d: %w", i, err)
		}
		names[i] = e.Name
		total += len(e.Value)
		size += 1 + len(e.Name) + 1 // name length, name, status
		if e.Status == StatusFound {
			size += 4 + len(e.Value)
		} else {
			size += 1 + len(e.Reason)
		}
	}
	if total > lim.MaxTotalSize {
		return 0, fmt.Errorf("values of %d bytes > %d: %w", total, lim.MaxTotalSize, ErrTooLarge)
	}
	if hasDuplicate(names) {
		return 0, fmt.Errorf("repeated name: %w", ErrInvalidName)
	}
	return size, nil
}

func checkEntry(e Entry, lim Limits) error {
	if err := CheckName(e.Name, lim); err != nil {
		return err
	}
	switch {
	case !e.Status.valid():
		return fmt.Errorf("status %d: %w", e.Status, ErrMalformed)
	case e.Status != StatusFound:
		if len(e.Value) != 0 {
			return fmt.Errorf("value with status %s: %w", e.Status, ErrMalformed)
		}
		return checkReason(e.Reason, true)
	case e.Reason != "":
		return fmt.Errorf("reason with status %s: %w", e.Status, ErrMalformed)
	case len(e.Value) == 0:
		return ErrEmptySecret
	case len(e.Value) > lim.MaxSecretSize:
		return fmt.Errorf("value of %d bytes > %d: %w", len(e.Value), lim.MaxSecretSize, ErrTooLarge)
	}
	return nil
}

// WriteRefusal writes a refusal in place of a named response: the server will not answer, and
// tells our client why with a reason code (1 to [MaxReasonLen] bytes of [a-z0-9_], e.g.
// "identity_mismatch"). Gramine's clients never receive one: they never send a named request.
func WriteRefusal(w io.Writer, reason string) error {
	if err := checkReason(reason, false); err != nil {
		return fmt.Errorf("wire: write refusal: %w", err)
	}
	buf := make([]byte, 0, len(NamedResponseMagic)+2+len(reason))
	buf = append(buf, NamedResponseMagic...)
	buf = append(buf, responseRefusal, byte(len(reason)))
	buf = append(buf, reason...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("wire: write refusal: %w", err)
	}
	return nil
}

// ReadNamedResponse reads the server's answer to a named request for requested, the names in
// the order they were sent. It returns one entry per name, in that order; a response that
// answers any other list of names is refused ([ErrMalformed]), so a value can never be taken
// for a name that was not asked for. A refusal gives a [*RefusalError] (matching
// [ErrRefused]) carrying the server's reason code. Sizes are bounded by lim, and memory grows
// with the bytes received, not with the lengths declared. A stream that ends before the first
// byte gives an error matching io.EOF; one that ends later gives [ErrTruncated].
func ReadNamedResponse(r io.Reader, requested []string, lim Limits) ([]Entry, error) {
	lim = lim.norm()
	m := &reader{r: r}
	if _, err := m.magic(NamedResponseMagic); err != nil {
		return nil, fmt.Errorf("wire: read named response: %w", err)
	}
	kind, err := m.byte()
	if err != nil {
		return nil, fmt.Errorf("wire: read named response: kind: %w", err)
	}
	switch kind {
	case responseSecrets:
	case responseRefusal:
		return nil, m.refusal()
	default:
		return nil, fmt.Errorf("wire: read named response: kind 0x%02x: %w", kind, ErrMalformed)
	}
	count, err := m.uint16()
	switch {
	case err != nil:
		return nil, fmt.Errorf("wire: read named response: entry count: %w", err)
	case count == 0 || int(count) != len(requested):
		return nil, fmt.Errorf("wire: read named response: %d entries for %d names: %w", count, len(requested), ErrMalformed)
	}
	entries := make([]Entry, len(requested))
	total := 0
	for i, name := range requested {
		at := m.off
		if entries[i], err = m.entry(name, lim, &total); err != nil {
			return nil, fmt.Errorf("wire: read named response: entry %d at byte %d: %w", i, at, err)
		}
	}
	return entries, nil
}

func (m *reader) refusal() error {
	code, err := m.short(MaxReasonLen)
	if err == nil {
		err = checkReason(code, false)
	}
	if err != nil {
		return fmt.Errorf("wire: read named response: refusal reason: %w", err)
	}
	return &RefusalError{Reason: string(code)}
}

// entry reads one entry, which must answer name; total accumulates the value sizes.
func (m *reader) entry(name string, lim Limits, total *int) (Entry, error) {
	got, err := m.short(MaxNameLenCeiling)
	if err != nil {
		return Entry{}, fmt.Errorf("name: %w", err)
	}
	if string(got) != name {
		return Entry{}, fmt.Errorf("answers another name: %w", ErrMalformed)
	}
	st, err := m.byte()
	if err != nil {
		return Entry{}, fmt.Errorf("status: %w", err)
	}
	e := Entry{Name: name, Status: Status(st)}
	if !e.Status.valid() {
		return Entry{}, fmt.Errorf("status 0x%02x: %w", st, ErrMalformed)
	}
	if e.Status != StatusFound {
		code, err := m.short(MaxReasonLen)
		if err == nil {
			err = checkReason(code, true)
		}
		if err != nil {
			return Entry{}, fmt.Errorf("reason: %w", err)
		}
		e.Reason = string(code)
		return e, nil
	}
	n, err := m.uint32()
	switch {
	case err != nil:
		return Entry{}, fmt.Errorf("value length: %w", err)
	case n == 0:
		return Entry{}, fmt.Errorf("value length: %w", ErrEmptySecret)
	case uint64(n) > uint64(lim.MaxSecretSize):
		return Entry{}, fmt.Errorf("value length %d > %d: %w", n, lim.MaxSecretSize, ErrTooLarge)
	case uint64(*total)+uint64(n) > uint64(lim.MaxTotalSize):
		return Entry{}, fmt.Errorf("values above %d bytes: %w", lim.MaxTotalSize, ErrTooLarge)
	}
	*total += int(n)
	if e.Value, err = m.value(int(n)); err != nil {
		return Entry{}, fmt.Errorf("value: %w", err)
	}
	return e, nil
}
