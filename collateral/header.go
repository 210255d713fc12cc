package collateral

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/secretprov/secretprov/pcs"
)

// MaxHeaderSize bounds an issuer-chain header value (a percent-encoded two-certificate PEM
// chain is about 3 KiB).
const MaxHeaderSize = 64 << 10

// IssuerChain finds the first of the named headers present in h (names compare
// case-insensitively, as PCS headers are case-insensitive) and decodes it with
// DecodeIssuerChain. A header present more than once is refused.
func IssuerChain(h http.Header, names ...string) ([]*x509.Certificate, error) {
	for _, name := range names {
		vs := headerValues(h, name)
		switch len(vs) {
		case 0:
			continue
		case 1:
			chain, err := DecodeIssuerChain(vs[0])
			if err != nil {
				return nil, fmt.Errorf("header %s: %w", name, err)
			}
			return chain, nil
		default:
			return nil, fmt.Errorf("header %s: present %d times", name, len(vs))
		}
	}
	return nil, fmt.Errorf("no issuer chain header (want %s)", strings.Join(names, " or "))
}

// headerValues returns the values of name in h, whether or not h's keys are canonical.
func headerValues(h http.Header, name string) []string {
	if vs := h.Values(name); len(vs) > 0 {
		return vs
	}
	var vs []string
	for k, v := range h {
		if strings.EqualFold(k, name) {
			vs = append(vs, v...)
		}
	}
	return vs
}

// DecodeIssuerChain decodes an issuer-chain header value: percent-encoded PEM (dcap spec
// §6.1). Path escaping ("%20" for spaces, "+" literal, as Intel sends it) is the rule; a value
// that was query-escaped ("BEGIN+CERTIFICATE", "+" meaning space) is recognised and decoded
// accordingly. The certificates are parsed, not verified.
func DecodeIssuerChain(v string) ([]*x509.Certificate, error) {
	if len(v) > MaxHeaderSize {
		return nil, fmt.Errorf("%d bytes: %w", len(v), ErrTooLarge)
	}
	v = strings.TrimSpace(v)
	var decoded string
	var err error
	if strings.Contains(v, "BEGIN+CERTIFICATE") {
		decoded, err = url.QueryUnescape(v)
	} else {
		decoded, err = url.PathUnescape(v)
	}
	if err != nil {
		return nil, fmt.Errorf("percent-decoding: %w", err)
	}
	return pcs.ParseChainPEM([]byte(decoded))
}
