package ratls

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // recomputing the key identifier
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Expected DER fragments (spec §1.3–§1.5).
var (
	// SEQUENCE { SET { CN UTF8 "RATLS" } SET { O UTF8 "GramineDevelopers" } SET { C Printable "US" } }
	wantName = mustHex("30 39" +
		"31 0e 30 0c 06 03 55 04 03 0c 05" + hex.EncodeToString([]byte("RATLS")) +
		"31 1a 30 18 06 03 55 04 0a 0c 11" + hex.EncodeToString([]byte("GramineDevelopers")) +
		"31 0b 30 09 06 03 55 04 06 13 02" + hex.EncodeToString([]byte("US")))
	wantValidity  = mustHex("30 1e 17 0d" + hex.EncodeToString([]byte("010101000000Z")) + "17 0d" + hex.EncodeToString([]byte("301231235959Z")))
	legacyOIDTLV  = mustHex("06 0b 06 09 2a 86 48 86 f8 4d 8a 39 06")
	tcgOIDTLV     = mustHex("06 06 67 81 05 05 04 09")
	wantBasicCons = mustHex("30 09 06 03 55 1d 13 04 02 30 00") // non-critical, cA absent (FALSE)
)

// extensionsBlob returns the DER of the [3] extensions field of the TBS certificate.
func extensionsBlob(t *testing.T, c *x509.Certificate) []byte {
	t.Helper()
	var tbs struct {
		Version    asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Serial     asn1.RawValue
		SigAlg     asn1.RawValue
		Issuer     asn1.RawValue
		Validity   asn1.RawValue
		Subject    asn1.RawValue
		SPKI       asn1.RawValue
		Extensions asn1.RawValue `asn1:"optional,explicit,tag:3"`
	}
	if _, err := asn1.Unmarshal(c.RawTBSCertificate, &tbs); err != nil {
		t.Fatalf("tbs: %v", err)
	}
	if !bytes.Equal(tbs.Validity.FullBytes, wantValidity) {
		t.Errorf("validity DER = %x, want %x", tbs.Validity.FullBytes, wantValidity)
	}
	var seq asn1.RawValue // the SEQUENCE OF Extension inside [3]
	if _, err := asn1.Unmarshal(tbs.Extensions.Bytes, &seq); err != nil {
		t.Fatalf("extensions: %v", err)
	}
	return seq.Bytes
}

func TestNewCertificateLayout(t *testing.T) {
	a := newAttester(mrEnclaveA)
	c, err := NewCertificate(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	leaf := c.Leaf
	if got := a.calls.Load(); got != 2 {
		t.Errorf("attester called %d times, want 2 (one quote per format)", got)
	}
	checkFields(t, leaf)
	spki := leaf.RawSubjectPublicKeyInfo
	exts := extensionsBlob(t, leaf)

	// Gramine's crude parser finds both extensions, in the 04 82 hh ll form.
	quote1, ok := gramineFind(exts, legacyOIDTLV)
	if !ok {
		t.Fatal("Gramine's parser would not find the legacy extension")
	}
	evidence, ok := gramineFind(exts, tcgOIDTLV)
	if !ok {
		t.Fatal("Gramine's parser would not find the TCG extension")
	}
	if !bytes.HasPrefix(exts, wantBasicCons) {
		t.Errorf("first extension = %x, want basicConstraints %x", exts[:min(len(exts), 11)], wantBasicCons)
	}
	if rd := parseQuoteT(t, quote1).ReportData(); rd != reportDataFor(spki) {
		t.Errorf("legacy report data = %x, want SHA-256(SPKI) ‖ 0", rd)
	}
	checkEvidenceBytes(t, evidence, spki)
}

// checkFields checks the certificate fields Gramine writes.
func checkFields(t *testing.T, leaf *x509.Certificate) {
	t.Helper()
	if !bytes.Equal(leaf.RawSubject, wantName) || !bytes.Equal(leaf.RawIssuer, wantName) {
		t.Errorf("subject %x issuer %x, want %x", leaf.RawSubject, leaf.RawIssuer, wantName)
	}
	if leaf.SerialNumber.Int64() != 1 || leaf.Version != 3 {
		t.Errorf("serial %v version %d, want 1 and 3", leaf.SerialNumber, leaf.Version)
	}
	if !leaf.NotBefore.Equal(DefaultNotBefore) || !leaf.NotAfter.Equal(DefaultNotAfter) {
		t.Errorf("validity %v..%v", leaf.NotBefore, leaf.NotAfter)
	}
	if leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("signature algorithm %v, want ECDSA-SHA256", leaf.SignatureAlgorithm)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("key %T, want ECDSA P-384", leaf.PublicKey)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Errorf("self-signature: %v", err)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid || leaf.KeyUsage != 0 || len(leaf.ExtKeyUsage) != 0 ||
		len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.URIs)+len(leaf.EmailAddresses) != 0 {
		t.Errorf("unexpected CA/KU/EKU/SAN fields")
	}
	var info struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	if _, err := asn1.Unmarshal(leaf.RawSubjectPublicKeyInfo, &info); err != nil {
		t.Fatal(err)
	}
	id := sha1.Sum(info.Key.Bytes) //nolint:gosec // key identifier
	if !bytes.Equal(leaf.SubjectKeyId, id[:]) || !bytes.Equal(leaf.AuthorityKeyId, id[:]) {
		t.Errorf("SKI %x AKI %x, want %x", leaf.SubjectKeyId, leaf.AuthorityKeyId, id)
	}
	var ids []string
	for _, e := range leaf.Extensions {
		ids = append(ids, e.Id.String())
		if e.Critical {
			t.Errorf("extension %v is critical", e.Id)
		}
	}
	want := []string{"2.5.29.19", "2.5.29.14", "2.5.29.35", "0.6.9.42.840.113741.1337.6", "2.23.133.5.4.9"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("extension order (-want +got):\n%s", diff)
	}
}

// checkEvidenceBytes checks the exact CBOR layout of spec §1.5 "Exact bytes", then decodes it
// again with a generic CBOR decoder.
func checkEvidenceBytes(t *testing.T, evidence, spki []byte) {
	t.Helper()
	keyHash := sha256.Sum256(spki)
	wantClaims := append(mustHex("a1 6b"), "pubkey-hash"...)
	wantClaims = append(wantClaims, mustHex("58 24 82 01 58 20")...)
	wantClaims = append(wantClaims, keyHash[:]...)
	if len(wantClaims) != 51 {
		t.Fatalf("test bug: claims of %d bytes", len(wantClaims))
	}
	if len(evidence) < 7 || !bytes.Equal(evidence[:5], mustHex("d9 ea 60 82 59")) {
		t.Fatalf("evidence starts %x, want d9 ea 60 82 59", evidence[:min(len(evidence), 5)])
	}
	n := int(evidence[5])<<8 | int(evidence[6])
	quote2 := evidence[7 : 7+n]
	rest := evidence[7+n:]
	if want := append(mustHex("58 33"), wantClaims...); !bytes.Equal(rest, want) {
		t.Errorf("after the quote: %x, want %x", rest, want)
	}
	if rd := parseQuoteT(t, quote2).ReportData(); rd != reportDataFor(wantClaims) {
		t.Errorf("tcg report data = %x, want SHA-256(claims) ‖ 0", rd)
	}
	// Independent decoding: fxamacker's generic decoder into any.
	var v any
	if err := cbor.Unmarshal(evidence, &v); err != nil {
		t.Fatal(err)
	}
	tag, ok := v.(cbor.Tag)
	if !ok || tag.Number != 60000 {
		t.Fatalf("decoded %T %v, want tag 60000", v, v)
	}
	arr, ok := tag.Content.([]any)
	if !ok || len(arr) != 2 || !bytes.Equal(arr[0].([]byte), quote2) || !bytes.Equal(arr[1].([]byte), wantClaims) {
		t.Fatalf("tag content is not [quote, claims]")
	}
	var claims map[any]any
	if err := cbor.Unmarshal(arr[1].([]byte), &claims); err != nil {
		t.Fatal(err)
	}
	var entry []any
	if err := cbor.Unmarshal(claims["pubkey-hash"].([]byte), &entry); err != nil || len(claims) != 1 {
		t.Fatalf("claims %v: %v", claims, err)
	}
	if diff := cmp.Diff([]any{uint64(1), keyHash[:]}, entry); diff != "" {
		t.Errorf("hash entry (-want +got):\n%s", diff)
	}
}

func TestNewCertificateOptions(t *testing.T) {
	keys(t)
	nb, na := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		opts        []CreateOption
		wantSig     x509.SignatureAlgorithm
		wantBinding Binding
		wantQuotes  int32
		wantExts    int
	}{
		{"default", nil, x509.ECDSAWithSHA256, BindingTCG, 2, 5},
		{"p256", []CreateOption{WithKeyAlgorithm(ECDSAP256)}, x509.ECDSAWithSHA256, BindingTCG, 2, 5},
		{"rsa3072 key", []CreateOption{WithKey(keyRSA3k)}, x509.SHA256WithRSA, BindingTCG, 2, 5},
		{"legacy only", []CreateOption{WithFormats(FormatLegacy)}, x509.ECDSAWithSHA256, BindingLegacy, 1, 4},
		{"tcg only", []CreateOption{WithFormats(FormatTCG)}, x509.ECDSAWithSHA256, BindingTCG, 1, 4},
		{"validity", []CreateOption{WithValidity(nb, na)}, x509.ECDSAWithSHA256, BindingTCG, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newAttester(mrEnclaveA)
			c, err := NewCertificate(context.Background(), a, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf.SignatureAlgorithm != tt.wantSig || len(c.Leaf.Extensions) != tt.wantExts {
				t.Errorf("sig %v, %d extensions", c.Leaf.SignatureAlgorithm, len(c.Leaf.Extensions))
			}
			if got := a.calls.Load(); got != tt.wantQuotes {
				t.Errorf("%d quotes, want %d", got, tt.wantQuotes)
			}
			p, err := ParseCertificate(c.Certificate[0])
			if err != nil {
				t.Fatalf("parse back: %v", err)
			}
			if p.Binding != tt.wantBinding || p.Quote.SGX.MREnclave != mrEnclaveA {
				t.Errorf("binding %q mrenclave %v", p.Binding, p.Quote.SGX.MREnclave)
			}
			if tt.name == "validity" && (!c.Leaf.NotBefore.Equal(nb) || !c.Leaf.NotAfter.Equal(na)) {
				t.Errorf("validity %v..%v", c.Leaf.NotBefore, c.Leaf.NotAfter)
			}
		})
	}
}

func TestNewCertificateRSA3072Generated(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA key generation")
	}
	c := newRATLS(t, mrEnclaveA, WithKeyAlgorithm(RSA3072), WithFormats(FormatLegacy))
	k, ok := c.Leaf.PublicKey.(*rsa.PublicKey)
	if !ok || k.N.BitLen() != 3072 || k.E != 65537 || len(c.Leaf.RawSubjectPublicKeyInfo) != 422 {
		t.Fatalf("key %T, SPKI %d bytes; want RSA-3072 with a 422-byte SPKI", c.Leaf.PublicKey, len(c.Leaf.RawSubjectPublicKeyInfo))
	}
}

func TestNewCertificateRefusals(t *testing.T) {
	keys(t)
	errAttest := errors.New("no /dev/attestation")
	tests := []struct {
		name       string
		attester   *fakeAttester
		opts       []CreateOption
		wantErr    error  // errors.Is target, when set
		wantReason Reason // when set
	}{
		{"attester error", &fakeAttester{report: testReport(mrEnclaveA), err: errAttest}, nil, errAttest, ""},
		{"wrong report data", &fakeAttester{report: testReport(mrEnclaveA), wrongReportData: true}, nil, nil, ""},
		{"quote too large", &fakeAttester{report: testReport(mrEnclaveA), certData: make([]byte, 8000)}, nil, nil, ReasonExtensionMalformed},
		{"evidence too large", &fakeAttester{report: testReport(mrEnclaveA), certData: make([]byte, 7150)},
			[]CreateOption{WithFormats(FormatTCG)}, nil, ReasonExtensionMalformed},
		{"no format", newAttester(mrEnclaveA), []CreateOption{WithFormats(0)}, nil, ""},
		{"unknown format", newAttester(mrEnclaveA), []CreateOption{WithFormats(4)}, nil, ""},
		{"unknown key algorithm", newAttester(mrEnclaveA), []CreateOption{WithKeyAlgorithm(99)}, nil, ""},
		{"rsa2048 key", newAttester(mrEnclaveA), []CreateOption{WithKey(keyRSA2k)}, ErrKeyUnsupported, ""},
		{"p521 key", newAttester(mrEnclaveA), []CreateOption{WithKey(keyP521)}, ErrKeyUnsupported, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewCertificate(context.Background(), tt.attester, tt.opts...)
			if err == nil {
				t.Fatalf("created a certificate (%d bytes)", len(c.Certificate[0]))
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantReason != "" && ReasonOf(err) != tt.wantReason {
				t.Errorf("reason = %q, want %q (%v)", ReasonOf(err), tt.wantReason, err)
			}
		})
	}
}

func TestEncodePEM(t *testing.T) {
	keys(t)
	for _, tt := range []struct {
		name    string
		opt     CreateOption
		keyType string
	}{
		{"ecdsa", WithKeyAlgorithm(ECDSAP384), "EC PRIVATE KEY"},
		{"rsa", WithKey(keyRSA3k), "RSA PRIVATE KEY"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newRATLS(t, mrEnclaveA, tt.opt)
			certPEM, keyPEM, err := EncodePEM(c)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(keyPEM, []byte("-----BEGIN "+tt.keyType+"-----")) {
				t.Errorf("key PEM type, want %s", tt.keyType)
			}
			pair, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(pair.Certificate[0], c.Certificate[0]) {
				t.Error("certificate changed")
			}
			certDER, keyDER, err := EncodeDER(c)
			if err != nil || !bytes.Equal(certDER, c.Certificate[0]) {
				t.Fatalf("EncodeDER: %v", err)
			}
			if _, err := parseKeyDER(tt.keyType, keyDER); err != nil {
				t.Errorf("key DER: %v", err)
			}
		})
	}
	if _, _, err := EncodePEM(&tls.Certificate{}); err == nil {
		t.Error("empty certificate encoded")
	}
}

func parseKeyDER(typ string, der []byte) (any, error) {
	if typ == "EC PRIVATE KEY" {
		return x509.ParseECPrivateKey(der)
	}
	return x509.ParsePKCS1PrivateKey(der)
}

// TestOpenSSLDecodes checks the certificate with an independent X.509 decoder.
func TestOpenSSLDecodes(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	c := newRATLS(t, mrEnclaveA)
	path := filepath.Join(t.TempDir(), "ratls.der")
	if err := os.WriteFile(path, c.Certificate[0], 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(openssl, "x509", "-inform", "DER", "-text", "-noout", "-in", path).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl: %v\n%s", err, out)
	}
	text := strings.ReplaceAll(string(out), " = ", "=")
	for _, want := range []string{
		"Subject: CN=RATLS, O=GramineDevelopers, C=US",
		"Issuer: CN=RATLS, O=GramineDevelopers, C=US",
		"Serial Number: 1 (0x1)",
		"Not Before: Jan  1 00:00:00 2001 GMT",
		"Not After : Dec 31 23:59:59 2030 GMT",
		"ecdsa-with-SHA256",
		"NIST CURVE: P-384",
		"CA:FALSE",
		"X509v3 Subject Key Identifier",
		"X509v3 Authority Key Identifier",
		"0.6.9.42.840.113741.1337.6:",
		"2.23.133.5.4.9:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("openssl output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(text, "critical") {
		t.Errorf("openssl shows a critical extension:\n%s", out)
	}
}
