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

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/wire"
)

// Golden named exchange, written out by hand from the layout in doc.go.
const (
	goldenNamedRequest = "53454352455450524f565f4e414d45445f524551554553545f563100" + // magic
		"0003" + // three names
		"02" + "6462" + // "db"
		"03" + "6b6579" + // "key"
		"04" + "6e6f7065" // "nope"
	goldenNamedResponse = "53454352455450524f565f4e414d45445f524553504f4e53455f563100" + // magic
		"00" + "0003" + // secrets, three entries
		"02" + "6462" + "00" + "00000002" + "7077" + // db: found, "pw"
		"03" + "6b6579" + "01" + "0b" + "6e6f745f6772616e746564" + // key: not granted, "not_granted"
		"04" + "6e6f7065" + "02" + "00" // nope: not found, no reason
	goldenRefusal = "53454352455450524f565f4e414d45445f524553504f4e53455f563100" +
		"01" + "11" + "6964656e746974795f6d69736d61746368" // "identity_mismatch"
)

var goldenEntries = []wire.Entry{
	{Name: "db", Status: wire.StatusFound, Value: []byte("pw")},
	{Name: "key", Status: wire.StatusNotGranted, Reason: "not_granted"},
	{Name: "nope", Status: wire.StatusNotFound},
}

func TestNamedGolden(t *testing.T) {
	names := []string{"db", "key", "nope"}
	var req, resp, ref bytes.Buffer
	if err := wire.WriteNamedRequest(&req, names, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteNamedResponse(&resp, goldenEntries, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := wire.WriteRefusal(&ref, "identity_mismatch"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  *bytes.Buffer
		want string
	}{{"request", &req, goldenNamedRequest}, {"response", &resp, goldenNamedResponse}, {"refusal", &ref, goldenRefusal}} {
		if got := hex.EncodeToString(c.got.Bytes()); got != c.want {
			t.Errorf("%s = %s, want %s", c.name, got, c.want)
		}
	}
	got, err := wire.ReadNamedResponse(iotest.OneByteReader(bytes.NewReader(resp.Bytes())), names, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(goldenEntries, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func TestRefusal(t *testing.T) {
	_, err := wire.ReadNamedResponse(bytes.NewReader(unhex(t, goldenRefusal)), []string{"db"}, wire.Limits{})
	if !errors.Is(err, wire.ErrRefused) {
		t.Fatalf("err = %v, want ErrRefused", err)
	}
	ref, ok := errors.AsType[*wire.RefusalError](err)
	if !ok || ref.Reason != "identity_mismatch" {
		t.Fatalf("refusal = %+v, %v", ref, ok)
	}
	for _, bad := range []string{"", "Identity", "a-b", "a b", strings.Repeat("a", 65)} {
		var buf bytes.Buffer
		err := wire.WriteRefusal(&buf, bad)
		if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, wire.ErrTooLarge) || buf.Len() != 0 {
			t.Errorf("reason %q: err = %v, %d bytes written", bad, err, buf.Len())
		}
	}
	if err := wire.WriteRefusal(failWriter{}, "x"); !errors.Is(err, errWrite) {
		t.Errorf("failing writer: err = %v", err)
	}
}

func TestReadNamedResponse(t *testing.T) {
	magic := wire.NamedResponseMagic
	names := []string{"db"}
	tests := []struct {
		name    string
		in      string
		names   []string
		lim     wire.Limits
		wantErr error
	}{
		{"found", magic + "\x00\x00\x01\x02db\x00\x00\x00\x00\x02pw", names, wire.Limits{}, nil},
		{"value at limit", magic + "\x00\x00\x01\x02db\x00\x00\x00\x00\x02pw", names, wire.Limits{MaxSecretSize: 2}, nil},
		{"value over limit", magic + "\x00\x00\x01\x02db\x00\x00\x00\x00\x03pwd", names, wire.Limits{MaxSecretSize: 2}, wire.ErrTooLarge},
		{"value over 1 MiB", magic + "\x00\x00\x01\x02db\x00\x00\x10\x00\x01", names, wire.Limits{}, wire.ErrTooLarge},
		{"huge value length", magic + "\x00\x00\x01\x02db\x00\xff\xff\xff\xff", names, wire.Limits{MaxSecretSize: math.MaxInt}, wire.ErrTooLarge},
		{"total over limit", magic + "\x00\x00\x02\x01a\x00\x00\x00\x00\x02xx\x01b\x00\x00\x00\x00\x02yy",
			[]string{"a", "b"}, wire.Limits{MaxTotalSize: 3}, wire.ErrTooLarge},
		{"empty value", magic + "\x00\x00\x01\x02db\x00\x00\x00\x00\x00", names, wire.Limits{}, wire.ErrEmptySecret},
		{"other name", magic + "\x00\x00\x01\x02dc\x00\x00\x00\x00\x02pw", names, wire.Limits{}, wire.ErrMalformed},
		{"prefix of name", magic + "\x00\x00\x01\x01d\x00\x00\x00\x00\x02pw", names, wire.Limits{}, wire.ErrMalformed},
		{"too many entries", magic + "\x00\x00\x02\x02db\x02\x00\x01x\x02\x00", names, wire.Limits{}, wire.ErrMalformed},
		{"zero entries", magic + "\x00\x00\x00", nil, wire.Limits{}, wire.ErrMalformed},
		{"unknown status", magic + "\x00\x00\x01\x02db\x03\x00", names, wire.Limits{}, wire.ErrMalformed},
		{"unknown kind", magic + "\x02\x00\x01", names, wire.Limits{}, wire.ErrMalformed},
		{"bad reason", magic + "\x00\x00\x01\x02db\x01\x01!", names, wire.Limits{}, wire.ErrMalformed},
		{"long reason", magic + "\x00\x00\x01\x02db\x01\x41" + strings.Repeat("a", 65), names, wire.Limits{}, wire.ErrTooLarge},
		{"empty refusal reason", magic + "\x01\x00", names, wire.Limits{}, wire.ErrMalformed},
		{"bad refusal reason", magic + "\x01\x02A!", names, wire.Limits{}, wire.ErrMalformed},
		{"v1 response instead", wire.V1ResponseMagic + "\x00\x00\x00\x01x", names, wire.Limits{}, wire.ErrBadMagic},
		{"value cut short", magic + "\x00\x00\x01\x02db\x00\x00\x00\x00\x05pw", names, wire.Limits{}, wire.ErrTruncated},
		{"nothing", "", names, wire.Limits{}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cr := &countReader{r: strings.NewReader(tt.in)}
			got, err := wire.ReadNamedResponse(cr, tt.names, tt.lim)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err == nil && (len(got) != len(tt.names) || cr.n != len(tt.in)) {
				t.Errorf("%d entries after %d of %d bytes", len(got), cr.n, len(tt.in))
			}
		})
	}
}

func TestNamedTruncatedEverywhere(t *testing.T) {
	names := []string{"db", "key", "nope"}
	msgs := map[string][]byte{
		"request":  unhex(t, goldenNamedRequest),
		"response": unhex(t, goldenNamedResponse),
		"refusal":  unhex(t, goldenRefusal),
	}
	for kind, msg := range msgs {
		for n := range len(msg) {
			var err error
			if kind == "request" {
				_, err = wire.ReadNamedRequest(bytes.NewReader(msg[:n]), wire.Limits{})
			} else {
				_, err = wire.ReadNamedResponse(bytes.NewReader(msg[:n]), names, wire.Limits{})
			}
			want := wire.ErrTruncated
			if n == 0 {
				want = io.EOF
			}
			if !errors.Is(err, want) {
				t.Errorf("%s, %d of %d bytes: err = %v, want %v", kind, n, len(msg), err, want)
			}
		}
	}
}

func TestReadNamedResponseHugeDeclaredLength(t *testing.T) {
	in := wire.NamedResponseMagic + "\x00\x00\x01\x02db\x00\x7f\xff\xff\xff" + strings.Repeat("x", 100)
	lim := wire.Limits{MaxSecretSize: math.MaxInt, MaxTotalSize: math.MaxInt}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := wire.ReadNamedResponse(strings.NewReader(in), []string{"db"}, lim)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, wire.ErrTruncated) {
		t.Fatalf("err = %v, want ErrTruncated", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for 100 bytes of data", alloc)
	}
}

func TestNamedRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte{0x5a}, 300_000) // several read chunks
	var names []string
	var entries []wire.Entry
	for i := range 64 {
		name := "secret-" + strings.Repeat("x", i)
		names = append(names, name)
		e := wire.Entry{Name: name, Status: wire.Status(i % 3)}
		switch e.Status {
		case wire.StatusFound:
			e.Value = []byte(name)
		case wire.StatusNotGranted:
			e.Reason = "policy_denied"
		}
		entries = append(entries, e)
	}
	entries[0].Value = big
	var req, resp bytes.Buffer
	if err := wire.WriteNamedRequest(&req, names, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	got, err := wire.ReadRequest(&req, wire.Limits{})
	if err != nil || got.Kind != wire.KindNamed {
		t.Fatalf("ReadRequest: %v, %v", got.Kind, err)
	}
	if diff := cmp.Diff(names, got.Names); diff != "" {
		t.Fatalf("names (-want +got):\n%s", diff)
	}
	if err := wire.WriteNamedResponse(&resp, entries, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	back, err := wire.ReadNamedResponse(&resp, got.Names, wire.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// cmp.Diff is slow on large byte slices: compare the values apart.
	if len(back) != len(entries) || !bytes.Equal(back[0].Value, big) {
		t.Fatalf("got %d entries, first value of %d bytes", len(back), len(back[0].Value))
	}
	back[0].Value, entries[0].Value = nil, nil
	if diff := cmp.Diff(entries, back); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	if resp.Len() != 0 || req.Len() != 0 {
		t.Errorf("left %d request and %d response bytes unread", req.Len(), resp.Len())
	}
}

func TestWriteNamedRequestErrors(t *testing.T) {
	many := make([]string, 65)
	for i := range many {
		many[i] = "n" + strings.Repeat("x", i)
	}
	tests := []struct {
		name  string
		names []string
		lim   wire.Limits
		want  error
	}{
		{"none", nil, wire.Limits{}, wire.ErrMalformed},
		{"65 names", many, wire.Limits{}, wire.ErrTooLarge},
		{"over limit 2", []string{"a", "b", "c"}, wire.Limits{MaxNames: 2}, wire.ErrTooLarge},
		{"repeated", []string{"a", "b", "a"}, wire.Limits{}, wire.ErrInvalidName},
		{"empty name", []string{""}, wire.Limits{}, wire.ErrInvalidName},
		{"dot dot", []string{".."}, wire.Limits{}, wire.ErrInvalidName},
		{"slash", []string{"a/b"}, wire.Limits{}, wire.ErrInvalidName},
		{"129 bytes", []string{strings.Repeat("a", 129)}, wire.Limits{}, wire.ErrTooLarge},
		{"256 bytes, limit above ceiling", []string{strings.Repeat("a", 256)}, wire.Limits{MaxNameLen: 1000}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := wire.WriteNamedRequest(&buf, tt.names, tt.lim)
			if !errors.Is(err, tt.want) || buf.Len() != 0 {
				t.Fatalf("err = %v (want %v), %d bytes written", err, tt.want, buf.Len())
			}
		})
	}
	if err := wire.WriteNamedRequest(failWriter{}, []string{"a"}, wire.Limits{}); !errors.Is(err, errWrite) {
		t.Errorf("failing writer: err = %v", err)
	}
	// A 255-byte name is within the ceiling when the limit allows it.
	var buf bytes.Buffer
	long := strings.Repeat("a", 255)
	if err := wire.WriteNamedRequest(&buf, []string{long}, wire.Limits{MaxNameLen: 1000}); err != nil {
		t.Fatal(err)
	}
	if names, err := wire.ReadNamedRequest(&buf, wire.Limits{MaxNameLen: 255}); err != nil || names[0] != long {
		t.Fatalf("255-byte name: %v", err)
	}
}

func TestWriteNamedResponseErrors(t *testing.T) {
	found := func(name, v string) wire.Entry {
		return wire.Entry{Name: name, Status: wire.StatusFound, Value: []byte(v)}
	}
	tests := []struct {
		name    string
		entries []wire.Entry
		lim     wire.Limits
		want    error
	}{
		{"none", nil, wire.Limits{}, wire.ErrMalformed},
		{"bad name", []wire.Entry{found("a b", "v")}, wire.Limits{}, wire.ErrInvalidName},
		{"repeated name", []wire.Entry{found("a", "v"), found("a", "w")}, wire.Limits{}, wire.ErrInvalidName},
		{"unknown status", []wire.Entry{{Name: "a", Status: 7}}, wire.Limits{}, wire.ErrMalformed},
		{"empty value", []wire.Entry{found("a", "")}, wire.Limits{}, wire.ErrEmptySecret},
		{"value over limit", []wire.Entry{found("a", "abc")}, wire.Limits{MaxSecretSize: 2}, wire.ErrTooLarge},
		{"total over limit", []wire.Entry{found("a", "ab"), found("b", "cd")}, wire.Limits{MaxTotalSize: 3}, wire.ErrTooLarge},
		{"value without found", []wire.Entry{{Name: "a", Status: wire.StatusNotFound, Value: []byte("x")}}, wire.Limits{}, wire.ErrMalformed},
		{"reason with found", []wire.Entry{{Name: "a", Status: wire.StatusFound, Value: []byte("x"), Reason: "x"}}, wire.Limits{}, wire.ErrMalformed},
		{"bad reason", []wire.Entry{{Name: "a", Status: wire.StatusNotGranted, Reason: "Denied"}}, wire.Limits{}, wire.ErrMalformed},
		{"long reason", []wire.Entry{{Name: "a", Status: wire.StatusNotGranted, Reason: strings.Repeat("a", 65)}}, wire.Limits{}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := wire.WriteNamedResponse(&buf, tt.entries, tt.lim)
			if !errors.Is(err, tt.want) || buf.Len() != 0 {
				t.Fatalf("err = %v (want %v), %d bytes written", err, tt.want, buf.Len())
			}
		})
	}
	if err := wire.WriteNamedResponse(failWriter{}, goldenEntries, wire.Limits{}); !errors.Is(err, errWrite) {
		t.Errorf("failing writer: err = %v", err)
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name string
		lim  wire.Limits
		want error
	}{
		{"db-password", wire.Limits{}, nil},
		{"TLS_key.pem", wire.Limits{}, nil},
		{".dockerconfigjson", wire.Limits{}, nil},
		{"...", wire.Limits{}, nil},
		{strings.Repeat("a", 128), wire.Limits{}, nil},
		{strings.Repeat("a", 129), wire.Limits{}, wire.ErrTooLarge},
		{"abc", wire.Limits{MaxNameLen: 2}, wire.ErrTooLarge},
		{"", wire.Limits{}, wire.ErrInvalidName},
		{".", wire.Limits{}, wire.ErrInvalidName},
		{"..", wire.Limits{}, wire.ErrInvalidName},
		{"a/b", wire.Limits{}, wire.ErrInvalidName},
		{"a:b", wire.Limits{}, wire.ErrInvalidName},
		{"ünï", wire.Limits{}, wire.ErrInvalidName},
	}
	for _, tt := range tests {
		if err := wire.CheckName(tt.name, tt.lim); !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("CheckName(%q) = %v, want %v", tt.name, err, tt.want)
		}
	}
}
