package sim

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// response is a routed answer before faults are applied.
type response struct {
	status int
	header http.Header
	body   []byte
}

// single returns the only value of a query parameter.
func single(q url.Values, name string) (string, bool) {
	vs, ok := q[name]
	if !ok || len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

func signature(sig [64]byte, bad bool) [64]byte {
	if bad {
		sig[10] ^= 0x01
	}
	return sig
}

// crlDER returns the CRL's DER; bad flips a bit of the last byte, inside the signature's s.
func crlDER(crl *x509.RevocationList, bad bool) []byte {
	der := bytes.Clone(crl.Raw)
	if bad {
		der[len(der)-1] ^= 0x01
	}
	return der
}

func document(contentType string, body []byte) *response {
	return &response{status: http.StatusOK, header: http.Header{"Content-Type": {contentType}}, body: body}
}

func badParam(msg string) *response {
	return errorResponse(http.StatusBadRequest, ErrorCodeInvalidParameter, msg)
}

func errorResponse(status int, code, msg string) *response {
	return &response{status: status, header: http.Header{HeaderErrorCode: {code}, HeaderErrorMessage: {msg}}}
}

// write sends resp, corrupted as the body fault says.
func write(rw http.ResponseWriter, r *http.Request, resp *response, bf BodyFault) {
	for k, v := range resp.header {
		rw.Header()[k] = v
	}
	body, declared := resp.body, len(resp.body)
	switch bf {
	case BodyGarbage:
		body = garbage(len(body))
		declared = len(body)
	case BodyShort:
		body = body[:len(body)/2]
		declared = len(body)
	case BodyTruncated:
		body = body[:len(body)/2]
	case BodyOversized:
		if len(body) < OversizedBodySize {
			body = append(bytes.Clone(body), bytes.Repeat([]byte{' '}, OversizedBodySize-len(body))...)
		}
		declared = len(body)
	}
	rw.Header().Set("Content-Length", strconv.Itoa(declared))
	rw.WriteHeader(resp.status)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = rw.Write(body) // a client that went away is not the simulator's problem
}

func garbage(n int) []byte {
	pattern := []byte("\x00garbage from the secretprov simulator\xff")
	return bytes.Repeat(pattern, n/len(pattern)+1)[:n]
}

// requestID is a random 32-hex-digit request identifier, the form of Intel's Request-ID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

// IssuerChainHeader encodes certificates as an Intel PCS issuer-chain header value: the PEM
// concatenation, percent-encoded like JavaScript's encodeURIComponent (everything but letters,
// digits and -_.!~*'() is %XX with upper-case hex), which is byte for byte what PCS sends.
func IssuerChainHeader(chain []*x509.Certificate) string {
	var pemText bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&pemText, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory
	}
	var b strings.Builder
	const hexDigits = "0123456789ABCDEF"
	for _, c := range pemText.Bytes() {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// crlDocument is a CRL response: DER (application/pkix-crl) or PEM (application/x-pem-file,
// block type "X509 CRL", as Intel sends it).
func crlDocument(der []byte, asDER bool) *response {
	if asDER {
		return document("application/pkix-crl", der)
	}
	return document("application/x-pem-file", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

func notFound(msg string) *response {
	return errorResponse(http.StatusNotFound, ErrorCodeNotFound, msg)
}
