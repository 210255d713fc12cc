package wire_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/secretprov/secretprov/wire"
)

// splits are the ways a stream can deliver its bytes: all at once, one at a time, half of what
// is asked, and with io.EOF together with the last bytes.
var splits = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"whole", func(r io.Reader) io.Reader { return r }},
	{"one byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"eof with data", iotest.DataErrReader},
}

// namedRequest builds a named request by hand, independently of WriteNamedRequest.
func namedRequest(count int, names ...string) []byte {
	b := []byte("SECRETPROV_NAMED_REQUEST_V1\x00")
	b = append(b, byte(count>>8), byte(count))
	for _, n := range names {
		b = append(append(b, byte(len(n))), n...)
	}
	return b
}

func TestReadRequest(t *testing.T) {
	v1 := unhex(t, goldenV1Request)
	long := strings.Repeat("n", 128)
	tests := []struct {
		name     string
		in       []byte
		lim      wire.Limits
		want     wire.Request
		consumed int // bytes read; for errors, an upper bound
		wantErr  error
	}{
		{"v1", v1, wire.Limits{}, wire.Request{Kind: wire.KindV1}, 35, nil},
		{"v1 then more", append(bytes.Clone(v1), "MORE\x00"...), wire.Limits{}, wire.Request{Kind: wire.KindV1}, 35, nil},
		{"named", namedRequest(2, "db-password", "tls.key"), wire.Limits{},
			wire.Request{Kind: wire.KindNamed, Names: []string{"db-password", "tls.key"}}, 28 + 2 + 12 + 8, nil},
		{"named longest name", namedRequest(1, long), wire.Limits{},
			wire.Request{Kind: wire.KindNamed, Names: []string{long}}, 28 + 2 + 129, nil},
		{"named then more", append(namedRequest(1, "a"), "xyz"...), wire.Limits{},
			wire.Request{Kind: wire.KindNamed, Names: []string{"a"}}, 32, nil},
		{"empty stream", nil, wire.Limits{}, wire.Request{}, 0, io.EOF},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), wire.Limits{}, wire.Request{}, 1, wire.ErrBadMagic},
		{"tls client hello", []byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01}, wire.Limits{}, wire.Request{}, 1, wire.ErrBadMagic},
		{"zeros", make([]byte, 64), wire.Limits{}, wire.Request{}, 1, wire.ErrBadMagic},
		{"common prefix then junk", []byte("SECRETX_PROVISION_RA_TLS_REQUEST_V1\x00"), wire.Limits{}, wire.Request{}, 7, wire.ErrBadMagic},
		{"v1 without NUL", []byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\n\x00"), wire.Limits{}, wire.Request{}, 35, wire.ErrBadMagic},
		{"v2 request", []byte("SECRET_PROVISION_RA_TLS_REQUEST_V2\x00"), wire.Limits{}, wire.Request{}, 35, wire.ErrBadMagic},
		{"lower case", []byte("secret_provision_ra_tls_request_v1\x00"), wire.Limits{}, wire.Request{}, 1, wire.ErrBadMagic},
		{"response magic", []byte(wire.V1ResponseMagic), wire.Limits{}, wire.Request{}, 35, wire.ErrBadMagic},
		{"named response magic", []byte(wire.NamedResponseMagic), wire.Limits{}, wire.Request{}, 29, wire.ErrBadMagic},
		{"zero names", namedRequest(0), wire.Limits{}, wire.Request{}, 30, wire.ErrMalformed},
		{"65 names", namedRequest(65), wire.Limits{}, wire.Request{}, 30, wire.ErrTooLarge},
		{"3 names, limit 2", namedRequest(3, "a", "b", "c"), wire.Limits{MaxNames: 2}, wire.Request{}, 30, wire.ErrTooLarge},
		{"name too long", namedRequest(1, long+"n"), wire.Limits{}, wire.Request{}, 31, wire.ErrTooLarge},
		{"name over limit 8", namedRequest(1, "abcdefghi"), wire.Limits{MaxNameLen: 8}, wire.Request{}, 31, wire.ErrTooLarge},
		{"empty name", namedRequest(1, ""), wire.Limits{}, wire.Request{}, 31, wire.ErrInvalidName},
		{"slash", namedRequest(1, "a/b"), wire.Limits{}, wire.Request{}, 34, wire.ErrInvalidName},
		{"dot dot", namedRequest(1, ".."), wire.Limits{}, wire.Request{}, 33, wire.ErrInvalidName},
		{"dot", namedRequest(1, "."), wire.Limits{}, wire.Request{}, 32, wire.ErrInvalidName},
		{"space", namedRequest(1, "a b"), wire.Limits{}, wire.Request{}, 34, wire.ErrInvalidName},
		{"NUL", namedRequest(1, "a\x00"), wire.Limits{}, wire.Request{}, 33, wire.ErrInvalidName},
		{"utf-8", namedRequest(1, "clé"), wire.Limits{}, wire.Request{}, 35, wire.ErrInvalidName},
		{"repeated", namedRequest(3, "a", "b", "a"), wire.Limits{}, wire.Request{}, 36, wire.ErrInvalidName},
		{"names missing", namedRequest(2, "a"), wire.Limits{}, wire.Request{}, 32, wire.ErrTruncated},
	}
	for _, tt := range tests {
		for _, split := range splits {
			t.Run(tt.name+"/"+split.name, func(t *testing.T) {
				cr := &countReader{r: split.wrap(bytes.NewReader(tt.in))}
				got, err := wire.ReadRequest(cr, tt.lim)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if err != nil {
					if cr.n > tt.consumed {
						t.Errorf("read %d bytes before refusing, want at most %d", cr.n, tt.consumed)
					}
					return
				}
				if got.Kind != tt.want.Kind || !slices.Equal(got.Names, tt.want.Names) || cr.n != tt.consumed {
					t.Errorf("got %v %q after %d bytes, want %v %q after %d",
						got.Kind, got.Names, cr.n, tt.want.Kind, tt.want.Names, tt.consumed)
				}
			})
		}
	}
}

func TestReadRequestTruncatedEverywhere(t *testing.T) {
	for _, msg := range [][]byte{unhex(t, goldenV1Request), namedRequest(2, "db-password", "x")} {
		for n := range len(msg) {
			_, err := wire.ReadRequest(bytes.NewReader(msg[:n]), wire.Limits{})
			want := wire.ErrTruncated
			if n == 0 {
				want = io.EOF
			}
			if !errors.Is(err, want) {
				t.Errorf("%q: %d bytes: err = %v, want %v", msg[:min(n, 8)], n, err, want)
			}
		}
	}
}

// TestReadRequestRefusesEarly: a peer that sends a few wrong bytes and then goes quiet is
// refused on those bytes; the reader must not wait for more.
func TestReadRequestRefusesEarly(t *testing.T) {
	for _, in := range []string{
		"GET",
		"SECRET_PROVISION_RA_TLS_REQUESX",
		"SECRETPROV_NAMED_REQUEST_V2",
		"SECRET_PROVISION_RA_TLS_REQUEST_V1\x01",
	} {
		_, err := wire.ReadRequest(&stallReader{data: []byte(in)}, wire.Limits{})
		if !errors.Is(err, wire.ErrBadMagic) {
			t.Errorf("%q: err = %v, want ErrBadMagic without another read", in, err)
		}
	}
	// Still a possible magic: the reader must wait for (and here get) the stall.
	_, err := wire.ReadRequest(&stallReader{data: []byte("SECRET")}, wire.Limits{})
	if !errors.Is(err, errStalled) {
		t.Errorf("prefix: err = %v, want the stall", err)
	}
}

// TestReadRequestGarbageBound: whatever the first bytes, a refusal comes after at most
// len(V1RequestMagic) bytes.
func TestReadRequestGarbageBound(t *testing.T) {
	seed := uint32(1)
	for i := range 2000 {
		in := make([]byte, 200)
		for j := range in {
			seed = seed*1664525 + 1013904223
			in[j] = byte(seed >> 24)
		}
		// Keep a random prefix of one magic, so that the rejection happens deep inside it.
		m := []string{wire.V1RequestMagic, wire.NamedRequestMagic}[i%2]
		k := copy(in, m[:i%len(m)])
		if in[k] == m[k] {
			in[k] ^= 0xff
		}
		cr := &countReader{r: bytes.NewReader(in)}
		_, err := wire.ReadRequest(cr, wire.Limits{})
		if !errors.Is(err, wire.ErrBadMagic) || cr.n > wire.V1RequestSize {
			t.Fatalf("input %d: err = %v after %d bytes", i, err, cr.n)
		}
	}
}

// TestSequentialMessages: the readers leave the stream at the end of their message.
func TestSequentialMessages(t *testing.T) {
	var stream bytes.Buffer
	if err := wire.WriteV1Request(&stream); err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteNamedRequest(&stream, []string{"a", "b"}, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	r := iotest.OneByteReader(&stream)
	req, err := wire.ReadRequest(r, wire.Limits{})
	if err != nil || req.Kind != wire.KindV1 {
		t.Fatalf("first: %v %v", req.Kind, err)
	}
	names, err := wire.ReadNamedRequest(r, wire.Limits{})
	if err != nil || !slices.Equal(names, []string{"a", "b"}) {
		t.Fatalf("second: %q %v", names, err)
	}
	if _, err := wire.ReadNamedRequest(r, wire.Limits{}); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: err = %v, want io.EOF", err)
	}
	if _, err := wire.ReadNamedRequest(bytes.NewReader(unhex(t, goldenV1Request)), wire.Limits{}); !errors.Is(err, wire.ErrBadMagic) {
		t.Fatalf("V1 as follow-up: err = %v, want ErrBadMagic", err)
	}
}

// zeroReader returns (0, nil) forever.
type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestReadRequestNoProgress(t *testing.T) {
	if _, err := wire.ReadRequest(zeroReader{}, wire.Limits{}); !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

func TestKindAndStatusStrings(t *testing.T) {
	tests := []struct{ got, want string }{
		{wire.KindV1.String(), "v1"},
		{wire.KindNamed.String(), "named"},
		{wire.Kind(0).String(), "unknown"},
		{wire.StatusFound.String(), "found"},
		{wire.StatusNotGranted.String(), "not_granted"},
		{wire.StatusNotFound.String(), "not_found"},
		{wire.Status(9).String(), "unknown"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
