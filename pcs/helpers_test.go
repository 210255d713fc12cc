package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
)

// Vector names and the times the vectors README gives for them.
const (
	sgxCollateral         = "phala-dcap-qvl/sgx_quote_collateral.json"
	tdxCollateral         = "phala-dcap-qvl/tdx_quote_collateral.json"
	tdxOutdatedCollateral = "phala-dcap-qvl/tdx_quote_outdated_collateral.json"
	intelRootDER          = "phala-dcap-qvl/TrustedRootCA.der"
)

var (
	v1Time = time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	v3Time = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	v5Time = time.Date(2023, 7, 1, 1, 0, 0, 0, time.UTC)
)

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func intelRoot(t testing.TB) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(testvectors.Read(t, intelRootDER))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func loadBundle(t testing.TB, name string) *Bundle {
	t.Helper()
	b, err := ParseBundleJSON(testvectors.Read(t, name))
	if err != nil {
		t.Fatalf("ParseBundleJSON(%s): %v", name, err)
	}
	return b
}

// quoteBytes reads a quote vector, decoding the hex-text ones.
func quoteBytes(t testing.TB, name string) []byte {
	t.Helper()
	b := testvectors.Read(t, name)
	if !bytes.HasSuffix([]byte(name), []byte(".hex")) {
		return b
	}
	text := bytes.TrimPrefix(bytes.TrimSpace(b), []byte("0x"))
	raw, err := hex.DecodeString(string(text))
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// pckChainPEM cuts the PEM chain out of a quote's certification data without parsing the
// quote (this package must not depend on package quote's parser in its tests).
func pckChainPEM(t testing.TB, name string) []byte {
	t.Helper()
	q := quoteBytes(t, name)
	const begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
	i := bytes.Index(q, []byte(begin))
	j := bytes.LastIndex(q, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s: no PEM chain", name)
	}
	return q[i : j+len(end)]
}

func pckChain(t testing.TB, name string) []*x509.Certificate {
	t.Helper()
	chain, err := ParseChainPEM(pckChainPEM(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(chain) != 3 {
		t.Fatalf("%s: %d certificates", name, len(chain))
	}
	return chain
}

// wantErr fails unless err is a pcs *Error of the given kind and, if doc is set, doc.
func wantErr(t testing.TB, err error, kind Kind, doc Doc) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s/%s", kind, doc)
	}
	if !errors.Is(err, &Error{Kind: kind, Doc: doc}) {
		t.Fatalf("got %v, want kind %q doc %q", err, kind, doc)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
