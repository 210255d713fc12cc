package wire_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/secretprov/secretprov/wire"
)

// fuzzLimits are small, so that the fuzzer reaches every limit.
var fuzzLimits = wire.Limits{MaxSecretSize: 64, MaxNames: 4, MaxNameLen: 16, MaxTotalSize: 100}

func addSeeds(f *testing.F, hexes ...string) {
	for _, h := range hexes {
		f.Add(unhex(f, h))
	}
	f.Add([]byte{})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
}

// FuzzReadRequest: no panic; never more than the message is read; garbage is refused within the
// longest magic; what is accepted re-encodes to exactly the bytes read.
func FuzzReadRequest(f *testing.F) {
	addSeeds(f, goldenV1Request, goldenNamedRequest, goldenV1Response)
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countReader{r: bytes.NewReader(in)}
		req, err := wire.ReadRequest(cr, fuzzLimits)
		if errors.Is(err, wire.ErrBadMagic) && cr.n > wire.V1RequestSize {
			t.Fatalf("bad magic after %d bytes", cr.n)
		}
		if err != nil {
			return
		}
		var again bytes.Buffer
		switch req.Kind {
		case wire.KindV1:
			err = wire.WriteV1Request(&again)
		case wire.KindNamed:
			err = wire.WriteNamedRequest(&again, req.Names, fuzzLimits)
		default:
			t.Fatalf("kind %v", req.Kind)
		}
		if err != nil || !bytes.Equal(again.Bytes(), in[:cr.n]) {
			t.Fatalf("re-encoding: %v; %x != %x", err, again.Bytes(), in[:cr.n])
		}
	})
}

// FuzzReadV1Response: no panic; an accepted response re-encodes to exactly the bytes read.
func FuzzReadV1Response(f *testing.F) {
	addSeeds(f, goldenV1Response, goldenV1Request)
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countReader{r: bytes.NewReader(in)}
		secret, err := wire.ReadV1Response(cr, fuzzLimits.MaxSecretSize)
		if err != nil {
			return
		}
		if len(secret) == 0 || len(secret) > fuzzLimits.MaxSecretSize {
			t.Fatalf("accepted a secret of %d bytes", len(secret))
		}
		var again bytes.Buffer
		if err := wire.WriteV1Response(&again, secret); err != nil || !bytes.Equal(again.Bytes(), in[:cr.n]) {
			t.Fatalf("re-encoding: %v; %x != %x", err, again.Bytes(), in[:cr.n])
		}
	})
}

// FuzzReadNamedResponse: no panic; accepted entries answer the names requested and re-encode
// to exactly the bytes read; a refusal carries a valid reason.
func FuzzReadNamedResponse(f *testing.F) {
	addSeeds(f, goldenNamedResponse, goldenRefusal, goldenNamedRequest)
	names := []string{"db", "key", "nope"}
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countReader{r: bytes.NewReader(in)}
		entries, err := wire.ReadNamedResponse(cr, names, fuzzLimits)
		var again bytes.Buffer
		if ref, ok := errors.AsType[*wire.RefusalError](err); ok {
			if err := wire.WriteRefusal(&again, ref.Reason); err != nil || !bytes.Equal(again.Bytes(), in[:cr.n]) {
				t.Fatalf("refusal re-encoding: %v; %x != %x", err, again.Bytes(), in[:cr.n])
			}
			return
		}
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.Name != names[i] {
				t.Fatalf("entry %d answers %q", i, e.Name)
			}
		}
		if err := wire.WriteNamedResponse(&again, entries, fuzzLimits); err != nil || !bytes.Equal(again.Bytes(), in[:cr.n]) {
			t.Fatalf("re-encoding: %v; %x != %x", err, again.Bytes(), in[:cr.n])
		}
	})
}

// FuzzReadNamedRequest: the follow-up request a client may send after the V1 exchange. No
// panic; garbage is refused within the magic; never more than the message is read; accepted
// names are valid, distinct, within the limits, and re-encode to exactly the bytes read.
func FuzzReadNamedRequest(f *testing.F) {
	addSeeds(f, goldenNamedRequest, goldenV1Request, goldenNamedResponse)
	f.Add(append(unhex(f, goldenNamedRequest), unhex(f, goldenNamedRequest)...))
	f.Add([]byte(wire.NamedRequestMagic + "\xff\xff"))
	f.Fuzz(func(t *testing.T, in []byte) {
		cr := &countReader{r: bytes.NewReader(in)}
		names, err := wire.ReadNamedRequest(cr, fuzzLimits)
		if errors.Is(err, wire.ErrBadMagic) && cr.n > len(wire.NamedRequestMagic) {
			t.Fatalf("bad magic after %d bytes", cr.n)
		}
		if err != nil {
			return
		}
		if len(names) == 0 || len(names) > fuzzLimits.MaxNames {
			t.Fatalf("accepted %d names", len(names))
		}
		for _, n := range names {
			if err := wire.CheckName(n, fuzzLimits); err != nil {
				t.Fatalf("accepted name %q: %v", n, err)
			}
		}
		var again bytes.Buffer
		if err := wire.WriteNamedRequest(&again, names, fuzzLimits); err != nil || !bytes.Equal(again.Bytes(), in[:cr.n]) {
			t.Fatalf("re-encoding: %v; %x != %x", err, again.Bytes(), in[:cr.n])
		}
	})
}
