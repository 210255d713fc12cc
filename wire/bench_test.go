package wire_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/secretprov/secretprov/wire"
)

// The server's side of one provisioning: read the request, write the response.
func BenchmarkServerV1(b *testing.B) {
	req := []byte(wire.V1RequestMagic)
	secret := bytes.Repeat([]byte{1}, 32)
	r := bytes.NewReader(req)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(req)
		if _, err := wire.ReadRequest(r, wire.Limits{}); err != nil {
			b.Fatal(err)
		}
		if err := wire.WriteV1Response(io.Discard, secret); err != nil {
			b.Fatal(err)
		}
	}
}

// The client's side: write the request, read the response.
func BenchmarkClientV1(b *testing.B) {
	var resp bytes.Buffer
	if err := wire.WriteV1Response(&resp, bytes.Repeat([]byte{1}, 32)); err != nil {
		b.Fatal(err)
	}
	r := bytes.NewReader(resp.Bytes())
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(resp.Bytes())
		if err := wire.WriteV1Request(io.Discard); err != nil {
			b.Fatal(err)
		}
		if _, err := wire.ReadV1Response(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// A named exchange of 8 secrets of 64 bytes, both sides.
func BenchmarkNamed8(b *testing.B) {
	names := []string{"a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ggggggg", "hhhhhhhh"}
	entries := make([]wire.Entry, len(names))
	for i, n := range names {
		entries[i] = wire.Entry{Name: n, Status: wire.StatusFound, Value: bytes.Repeat([]byte{byte(i)}, 64)}
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := wire.WriteNamedRequest(&buf, names, wire.Limits{}); err != nil {
			b.Fatal(err)
		}
		req, err := wire.ReadRequest(&buf, wire.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if err := wire.WriteNamedResponse(&buf, entries, wire.Limits{}); err != nil {
			b.Fatal(err)
		}
		if _, err := wire.ReadNamedResponse(&buf, req.Names, wire.Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}
