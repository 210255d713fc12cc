package e2etest

import (
	"bytes"
	"crypto/elliptic"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/wire"
)

// Raw clients: what a hostile or broken peer does on the wire, byte by byte.

// rawResult is what a raw client observed.
type rawResult struct {
	got      []byte        // application bytes received before the connection ended
	closed   bool          // the server ended the connection (EOF, reset) before the wait ran out
	closedIn time.Duration // from the end of the client's sending to the end of the connection
	err      error         // the client's handshake or write error, if any
	secret   string        // the secret parsed out of got, if got is a complete response
}

// dialTLS opens a TLS session presenting cert (nil: none) as our client would, then edit
// changes the configuration (after the hardening of ratls.ClientConfig, so that a test can
// offer what the real client never would).
func dialTLS(t testing.TB, addr string, cert *tls.Certificate, edit func(*tls.Config)) (*tls.Conn, error) {
	t.Helper()
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	conf := ratls.ClientConfig(ratls.StaticCert(cert), operator(t).Pool(), host)
	if cert == nil {
		conf.GetClientCertificate = nil
	}
	if edit != nil {
		edit(conf)
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	c := tls.Client(raw, conf)
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err != nil {
		raw.Close()
		noteErr(err)
		return nil, err
	}
	return c, nil
}

// readToEnd reads until the peer ends the connection or wait passes; it records how long the
// peer took to end it.
func readToEnd(c net.Conn, wait time.Duration) rawResult {
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(wait))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	r := rawResult{got: buf.Bytes(), closedIn: time.Since(start)}
	var ne net.Error
	r.closed = !(errors.As(err, &ne) && ne.Timeout())
	return r
}

// v1Value parses a complete Gramine V1 response.
func v1Value(got []byte) string {
	v, err := wire.ReadV1Response(bytes.NewReader(got), 1<<20)
	if err != nil {
		return ""
	}
	return string(v)
}

// namedValue parses a complete named response to a request for "default".
func namedValue(got []byte) string {
	es, err := wire.ReadNamedResponse(bytes.NewReader(got), []string{"default"}, wire.Limits{})
	if err != nil || len(es) != 1 || es[0].Status != wire.StatusFound {
		return ""
	}
	return string(es[0].Value)
}

// sendThenRead opens a session with cert, writes each chunk as its own TLS record (one Write
// each), closes nothing, and reads until the server ends the connection.
func sendThenRead(t testing.TB, addr string, cert *tls.Certificate, wait time.Duration, chunks ...[]byte) rawResult {
	t.Helper()
	c, err := dialTLS(t, addr, cert, nil)
	if err != nil {
		return rawResult{err: err}
	}
	defer c.Close()
	for _, ch := range chunks {
		if _, err := c.Write(ch); err != nil {
			noteErr(err)
			r := readToEnd(c, wait)
			r.err = err
			return r
		}
	}
	return readToEnd(c, wait)
}

// bytewise splits b into one-byte chunks.
func bytewise(b string) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = []byte{b[i]}
	}
	return out
}

// namedRequest encodes a named request for names.
func namedRequest(t testing.TB, names ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := wire.WriteNamedRequest(&b, names, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// plainTCP connects without TLS, sends payload and reads until the server ends the connection.
func plainTCP(t testing.TB, addr string, payload []byte, wait time.Duration) rawResult {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(payload) > 0 {
		if _, err := c.Write(payload); err != nil {
			return rawResult{err: err}
		}
	}
	return readToEnd(c, wait)
}

// tlsRefused tries a handshake with a configuration the server must refuse and reports how the
// attempt ended: a refused handshake has err set and got empty.
func tlsRefused(t testing.TB, addr string, cert *tls.Certificate, edit func(*tls.Config)) rawResult {
	t.Helper()
	start := time.Now()
	c, err := dialTLS(t, addr, cert, edit)
	if err != nil {
		return rawResult{err: err, closed: true, closedIn: time.Since(start)}
	}
	defer c.Close()
	// TLS 1.3: the client finishes before the server has checked its certificate; the refusal
	// arrives as an alert on the first read.
	r := readToEnd(c, 3*time.Second)
	if r.err == nil && len(r.got) == 0 {
		_, r.err = c.Read(make([]byte, 1))
	}
	return r
}

// isRemoteAlert reports whether err is a TLS alert sent by the server (the server, not our own
// client, refused the handshake).
func isRemoteAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// attackerSigned replaces q's attestation key and signature by a key of the attacker's: the
// quote is validly signed, by a key no Quoting Enclave certified.
func attackerSigned(t testing.TB) func(q *quote.Quote) {
	return func(q *quote.Quote) {
		ak := ecKey(t, elliptic.P256())
		pub, err := ak.PublicKey.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		copy(q.AttestationKey[:], pub.Bytes()[1:])
		q.Signature = simtest.SignRS(t, ak, q.SignedData())
	}
}

// readFull reads len(b) bytes unless the connection ends first.
func readFull(c net.Conn, b []byte) (int, error) { return io.ReadFull(c, b) }

// oneBytePerSecond completes the handshake and then sends req one byte per second, each in its
// own TLS record, until the server cuts the connection; it reports when that happened, counted
// from the end of the handshake.
func oneBytePerSecond(t testing.TB, addr string, cert *tls.Certificate, req string) rawResult {
	t.Helper()
	c, err := dialTLS(t, addr, cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	done := make(chan rawResult, 1)
	go func() { done <- readToEnd(c, 10*time.Second) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	sent := 0
	for {
		if _, err := c.Write([]byte{req[sent]}); err == nil {
			sent++
		}
		select {
		case r := <-done:
			r.closedIn = time.Since(start)
			if sent >= len(req) {
				t.Errorf("the whole request (%d bytes) went through before the cut", sent)
			}
			return r
		case <-tick.C:
		}
		if sent == len(req) {
			return <-done
		}
	}
}
