package wire

import (
	"encoding/binary"
	"fmt"
	"io"
)

// coalesceMax is the largest secret that WriteV1Response sends in the same Write as its header
// (one TLS record); larger secrets are written straight from the caller's slice.
const coalesceMax = 16 << 10

// ReadRequest reads the first message a client sends after the TLS handshake and says which
// protocol it asks for: Gramine's V1 request ([KindV1]) or our named request ([KindNamed], with
// its names). It reads exactly the bytes of that message and no more, so the caller can go on
// reading the same stream. Bytes that start neither magic are refused as soon as they arrive,
// after at most len(V1RequestMagic) bytes ([ErrBadMagic]); Gramine's server closes such a
// connection without a response, and so should the caller.
//
// A stream that ends before its first byte gives an error matching io.EOF (the client closed);
// one that ends inside the message gives [ErrTruncated]. Errors of r itself (a deadline) are
// wrapped as they are.
func ReadRequest(r io.Reader, lim Limits) (Request, error) {
	m := &reader{r: r}
	i, err := m.magic(V1RequestMagic, NamedRequestMagic)
	if err != nil {
		return Request{}, fmt.Errorf("wire: read request: %w", err)
	}
	if i == 0 {
		return Request{Kind: KindV1}, nil
	}
	names, err := m.namedBody(lim.norm())
	if err != nil {
		return Request{}, fmt.Errorf("wire: read request: %w", err)
	}
	return Request{Kind: KindNamed, Names: names}, nil
}

// WriteV1Request writes Gramine's 35-byte V1 request.
func WriteV1Request(w io.Writer) error {
	if _, err := io.WriteString(w, V1RequestMagic); err != nil {
		return fmt.Errorf("wire: write v1 request: %w", err)
	}
	return nil
}

// AppendV1ResponseHeader appends the 41-byte V1 response header for a secret of n bytes: the
// 37-byte magic and n as a 4-byte big-endian integer. It panics if n is negative or above
// [MaxV1SecretSize]; [WriteV1Response] checks its input instead.
func AppendV1ResponseHeader(b []byte, n int) []byte {
	if n < 0 || n > MaxV1SecretSize {
		panic("wire: AppendV1ResponseHeader: secret length out of range")
	}
	b = append(b, V1ResponseMagic...)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// WriteV1Response writes the V1 response: header, then the secret. An empty secret
// ([ErrEmptySecret]: Gramine requires secret_size > 0) or one above [MaxV1SecretSize]
// ([ErrTooLarge]) is refused before anything is written. A small secret goes out in one Write
// together with its header, through a temporary copy that is zeroed afterwards.
func WriteV1Response(w io.Writer, secret []byte) error {
	switch {
	case len(secret) == 0:
		return fmt.Errorf("wire: write v1 response: %w", ErrEmptySecret)
	case len(secret) > MaxV1SecretSize:
		return fmt.Errorf("wire: write v1 response: secret of %d bytes: %w", len(secret), ErrTooLarge)
	}
	if len(secret) <= coalesceMax {
		buf := make([]byte, 0, V1ResponseHeaderSize+len(secret))
		buf = append(AppendV1ResponseHeader(buf, len(secret)), secret...)
		_, err := w.Write(buf)
		clear(buf)
		if err != nil {
			return fmt.Errorf("wire: write v1 response: %w", err)
		}
		return nil
	}
	var hdr [V1ResponseHeaderSize]byte
	if _, err := w.Write(AppendV1ResponseHeader(hdr[:0], len(secret))); err != nil {
		return fmt.Errorf("wire: write v1 response: header: %w", err)
	}
	if _, err := w.Write(secret); err != nil {
		return fmt.Errorf("wire: write v1 response: secret: %w", err)
	}
	return nil
}

// ReadV1Response reads a V1 response and returns the secret. maxSize bounds the secret (zero or
// negative: [DefaultMaxSecretSize]; never above [MaxV1SecretSize], as in Gramine's client).
// A wrong header is refused at its first wrong byte ([ErrBadMagic]); a declared length of zero
// ([ErrEmptySecret]) or above the limit ([ErrTooLarge]) is refused before any of the secret is
// read; memory grows with the bytes received, not with the length declared. A stream that ends
// before the first byte (the server closed without answering) gives an error matching io.EOF;
// one that ends later gives [ErrTruncated].
func ReadV1Response(r io.Reader, maxSize int) ([]byte, error) {
	maxSize = clampLimit(maxSize, DefaultMaxSecretSize, MaxV1SecretSize)
	m := &reader{r: r}
	if _, err := m.magic(V1ResponseMagic); err != nil {
		return nil, fmt.Errorf("wire: read v1 response: header: %w", err)
	}
	n, err := m.uint32()
	if err != nil {
		return nil, fmt.Errorf("wire: read v1 response: length: %w", err)
	}
	switch {
	case n == 0:
		return nil, fmt.Errorf("wire: read v1 response: length: %w", ErrEmptySecret)
	case uint64(n) > uint64(maxSize):
		return nil, fmt.Errorf("wire: read v1 response: length %d > %d: %w", n, maxSize, ErrTooLarge)
	}
	secret, err := m.value(int(n))
	if err != nil {
		return nil, fmt.Errorf("wire: read v1 response: secret at byte %d: %w", m.off, err)
	}
	return secret, nil
}
