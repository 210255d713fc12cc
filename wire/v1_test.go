package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/secretprov/secretprov/wire"
)

// Golden bytes, written out by hand from spec §2.2 (not computed from the constants).
const (
	goldenV1Request = "5345435245545f50524f564953494f4e5f52415f544c535f524551554553545f563100"
	// header for "A_SIMPLE_SECRET\x00" (16 bytes, Gramine's minimal example), then the secret
	goldenV1Response = "5345435245545f50524f564953494f4e5f52415f544c535f524553504f4e53455f56313a00" +
		"00000010" + "415f53494d504c455f53454352455400"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// countReader counts the bytes its reader delivered.
type countReader struct {
	r io.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// stallReader delivers its data, then fails any further Read with errStalled: a peer that sent
// some bytes and went quiet.
type stallReader struct{ data []byte }

var errStalled = errors.New("read after the data ran out")

func (s *stallReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, errStalled
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// failWriter fails every Write.
type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestV1Golden(t *testing.T) {
	var req bytes.Buffer
	if err := wire.WriteV1Request(&req); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(req.Bytes()); got != goldenV1Request {
		t.Errorf("V1 request = %s, want %s", got, goldenV1Request)
	}
	if req.Len() != 35 || wire.V1RequestSize != 35 || wire.V1ResponseHeaderSize != 41 {
		t.Errorf("sizes: request %d/%d, header %d", req.Len(), wire.V1RequestSize, wire.V1ResponseHeaderSize)
	}
	var resp bytes.Buffer
	if err := wire.WriteV1Response(&resp, []byte("A_SIMPLE_SECRET\x00")); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(resp.Bytes()); got != goldenV1Response {
		t.Errorf("V1 response = %s, want %s", got, goldenV1Response)
	}
}

// TestWriteV1ResponseLarge covers the two-Write path: the bytes must be the same framing.
func TestWriteV1ResponseLarge(t *testing.T) {
	secret := bytes.Repeat([]byte{0xa5}, 100_000)
	var buf bytes.Buffer
	if err := wire.WriteV1Response(&buf, secret); err != nil {
		t.Fatal(err)
	}
	want := append(unhex(t, goldenV1Response[:74]), 0x00, 0x01, 0x86, 0xa0)
	want = append(want, secret...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("large response differs from header+secret (len %d, want %d)", buf.Len(), len(want))
	}
}

func TestWriteV1ResponseErrors(t *testing.T) {
	tests := []struct {
		name   string
		w      io.Writer
		secret []byte
		want   error
	}{
		{"empty", &bytes.Buffer{}, nil, wire.ErrEmptySecret},
		{"writer fails small", failWriter{}, []byte("x"), errWrite},
		{"writer fails large", failWriter{}, make([]byte, 1<<20), errWrite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := wire.WriteV1Response(tt.w, tt.secret)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if b, ok := tt.w.(*bytes.Buffer); ok && b.Len() != 0 {
				t.Errorf("wrote %d bytes on error", b.Len())
			}
		})
	}
	if err := wire.WriteV1Request(failWriter{}); !errors.Is(err, errWrite) {
		t.Errorf("WriteV1Request err = %v", err)
	}
}

func TestAppendV1ResponseHeaderPanics(t *testing.T) {
	for _, n := range []int{-1, math.MaxInt32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("n=%d: no panic", n)
				}
			}()
			wire.AppendV1ResponseHeader(nil, n)
		}()
	}
}

func TestReadV1Response(t *testing.T) {
	golden := unhex(t, goldenV1Response)
	header := golden[:37]
	withLen := func(n string, rest string) []byte {
		return append(append(bytes.Clone(header), unhex(t, n)...), rest...)
	}
	tests := []struct {
		name    string
		in      []byte
		maxSize int
		want    string
		wantErr error
	}{
		{"golden", golden, 0, "A_SIMPLE_SECRET\x00", nil},
		{"trailing bytes left unread", append(bytes.Clone(golden), "MORE"...), 0, "A_SIMPLE_SECRET\x00", nil},
		{"exactly max", withLen("00000004", "abcd"), 4, "abcd", nil},
		{"above max", withLen("00000005", "abcde"), 4, "", wire.ErrTooLarge},
		{"above default max", withLen("00100001", ""), 0, "", wire.ErrTooLarge},
		{"above INT32_MAX", withLen("80000000", ""), math.MaxInt, "", wire.ErrTooLarge},
		{"max uint32", withLen("ffffffff", ""), math.MaxInt, "", wire.ErrTooLarge},
		{"zero length", withLen("00000000", ""), 0, "", wire.ErrEmptySecret},
		{"request instead", unhex(t, goldenV1Request), 0, "", wire.ErrBadMagic},
		{"colon missing", []byte("SECRET_PROVISION_RA_TLS_RESPONSE_V1\x00\x00\x00\x00\x01x"), 0, "", wire.ErrBadMagic},
		{"V2 header", []byte("SECRET_PROVISION_RA_TLS_RESPONSE_V2:\x00\x00\x00\x00\x01x"), 0, "", wire.ErrBadMagic},
		{"refusal instead", []byte(wire.NamedResponseMagic + "\x01\x03abc"), 0, "", wire.ErrBadMagic},
		{"short secret", withLen("00000010", "A_SIMPLE"), 0, "", wire.ErrTruncated},
		{"nothing", nil, 0, "", io.EOF},
	}
	for _, tt := range tests {
		for _, split := range splits {
			t.Run(tt.name+"/"+split.name, func(t *testing.T) {
				cr := &countReader{r: split.wrap(bytes.NewReader(tt.in))}
				got, err := wire.ReadV1Response(cr, tt.maxSize)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err == nil && (string(got) != tt.want || cr.n != 41+len(tt.want)) {
					t.Errorf("got %q after %d bytes, want %q after %d", got, cr.n, tt.want, 41+len(tt.want))
				}
			})
		}
	}
}

func TestReadV1ResponseTruncatedEverywhere(t *testing.T) {
	golden := unhex(t, goldenV1Response)
	for n := range len(golden) {
		_, err := wire.ReadV1Response(bytes.NewReader(golden[:n]), 0)
		want := wire.ErrTruncated
		if n == 0 {
			want = io.EOF
		}
		if !errors.Is(err, want) {
			t.Errorf("%d of %d bytes: err = %v, want %v", n, len(golden), err, want)
		}
		if n > 0 && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes: err = %v does not match io.ErrUnexpectedEOF", n, err)
		}
	}
}

// TestReadV1ResponseHugeDeclaredLength: a peer that declares 2 GiB and sends 100 bytes must
// not make the reader allocate anything near 2 GiB.
func TestReadV1ResponseHugeDeclaredLength(t *testing.T) {
	in := append(unhex(t, goldenV1Response[:74]), 0x7f, 0xff, 0xff, 0xff)
	in = append(in, make([]byte, 100)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := wire.ReadV1Response(bytes.NewReader(in), wire.MaxV1SecretSize)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, wire.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for 100 bytes of data", alloc)
	}
}

func TestReadV1ResponseReaderError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(wire.V1ResponseMagic[:10]), iotest.ErrReader(errStalled))
	if _, err := wire.ReadV1Response(r, 0); !errors.Is(err, errStalled) || errors.Is(err, wire.ErrTruncated) {
		t.Fatalf("err = %v, want the reader's own error", err)
	}
}
