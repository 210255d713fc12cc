package server

import (
	"bytes"
	"testing"

	"github.com/secretprov/secretprov/wire"
)

// FuzzRequestBytes sends arbitrary bytes as an attested, authorized client's first message(s).
// The server must never crash and must answer only a well-formed request: nothing, or a response
// whose kind matches the request the bytes start with.
func FuzzRequestBytes(f *testing.F) {
	var named bytes.Buffer
	if err := wire.WriteNamedRequest(&named, []string{"default", "db"}, wire.Limits{}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(wire.V1RequestMagic))
	f.Add(named.Bytes())
	f.Add(append([]byte(wire.V1RequestMagic), named.Bytes()...))
	f.Add([]byte(wire.V1RequestMagic[:20]))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{})
	e := start(f, envOptions{})
	cert := goodCert(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := dial(t, e.addr, cert)
		defer c.Close()
		if _, err := c.Write(b); err != nil {
			return
		}
		_ = c.CloseWrite()
		got := readAll(c)
		switch {
		case len(got) == 0:
		case bytes.HasPrefix(got, []byte(wire.V1ResponseMagic)):
			if !bytes.HasPrefix(b, []byte(wire.V1RequestMagic)) {
				t.Fatalf("V1 response to %q", b)
			}
		case bytes.HasPrefix(got, []byte(wire.NamedResponseMagic)):
			if !bytes.HasPrefix(b, []byte(wire.NamedRequestMagic)) && !bytes.HasPrefix(b, []byte(wire.V1RequestMagic)) {
				t.Fatalf("named response to %q", b)
			}
		default:
			t.Fatalf("unexpected answer %q to %q", got, b)
		}
	})
}
