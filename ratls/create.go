package ratls

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // RFC 5280 §4.2.1.2 key identifier, as mbedTLS writes it; not a security use
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/secretprov/secretprov/quote"
)

// Attester produces a quote whose report data is exactly reportData. It is implemented by
// package attest (Gramine /dev/attestation, TDX configfs-tsm) and by the simulator.
type Attester interface {
	Quote(ctx context.Context, reportData [64]byte) ([]byte, error)
}

// KeyAlgorithm selects the key NewCertificate generates.
type KeyAlgorithm int

const (
	// ECDSAP384 is the default and what Gramine ≥ 1.4 generates.
	ECDSAP384 KeyAlgorithm = iota
	// ECDSAP256 is accepted by every Gramine verifier since 1.4.
	ECDSAP256
	// RSA3072 (e = 65537, PKCS#1 v1.5 signature) is for Gramine ≤ 1.3 verifiers, which accept
	// only this key. Generating it takes a noticeable fraction of a second.
	RSA3072
)

// Format selects the extensions NewCertificate writes; combine with |.
type Format uint8

const (
	// FormatLegacy is the raw-quote extension at 0.6.9.42.840.113741.1337.6, read by every
	// Gramine version.
	FormatLegacy Format = 1 << iota
	// FormatTCG is the TCG DICE tagged-evidence extension, read by Gramine ≥ 1.8 in preference.
	FormatTCG
)

// Gramine's default validity (spec §1.3).
var (
	DefaultNotBefore = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultNotAfter  = time.Date(2030, 12, 31, 23, 59, 59, 0, time.UTC)
)

// CreateOption configures NewCertificate.
type CreateOption interface{ applyCreate(*createOptions) }

type createOptions struct {
	alg                 KeyAlgorithm
	key                 crypto.Signer
	formats             Format
	notBefore, notAfter time.Time
}

type createOptionFunc func(*createOptions)

func (f createOptionFunc) applyCreate(o *createOptions) { f(o) }

// WithKeyAlgorithm selects the generated key (default ECDSAP384).
func WithKeyAlgorithm(alg KeyAlgorithm) CreateOption {
	return createOptionFunc(func(o *createOptions) { o.alg = alg })
}

// WithKey certifies an existing key instead of generating one. It must be a key ParseX509
// accepts (*ecdsa.PrivateKey on P-256/P-384, *rsa.PrivateKey of 3072 bits).
func WithKey(key crypto.Signer) CreateOption {
	return createOptionFunc(func(o *createOptions) { o.key = key })
}

// WithFormats selects the extensions (default FormatLegacy|FormatTCG, like Gramine ≥ 1.8).
// Each format costs one quote.
func WithFormats(f Format) CreateOption {
	return createOptionFunc(func(o *createOptions) { o.formats = f })
}

// WithValidity overrides the validity period (default DefaultNotBefore..DefaultNotAfter, like
// Gramine's RA_TLS_CERT_TIMESTAMP_NOT_BEFORE/_AFTER).
func WithValidity(notBefore, notAfter time.Time) CreateOption {
	return createOptionFunc(func(o *createOptions) { o.notBefore, o.notAfter = notBefore, notAfter })
}

// NewCertificate creates an RA-TLS certificate the way Gramine's ra_tls_create_key_and_crt does
// (spec §1.2–§1.5): a fresh key, one quote per format from a, and a self-signed certificate with
// subject and issuer CN=RATLS,O=GramineDevelopers,C=US, serial 1, basicConstraints (cA false,
// non-critical), subject and authority key identifiers, then the legacy and TCG extensions,
// signed with SHA-256. It fails when a quote does not carry the requested report data or an
// extension value would be outside MinCreatedExtensionSize..MaxExtensionSize, so that every
// Gramine verifier can read the result.
//
// The returned certificate has Leaf set; EncodePEM writes it and its key in gramine-ratls' form.
func NewCertificate(ctx context.Context, a Attester, opts ...CreateOption) (*tls.Certificate, error) {
	o := createOptions{formats: FormatLegacy | FormatTCG, notBefore: DefaultNotBefore, notAfter: DefaultNotAfter}
	for _, opt := range opts {
		opt.applyCreate(&o)
	}
	if o.formats == 0 || o.formats&^(FormatLegacy|FormatTCG) != 0 {
		return nil, fmt.Errorf("ratls: create: formats %#x: want FormatLegacy, FormatTCG or both", o.formats)
	}
	key, err := o.signer()
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, fmt.Errorf("ratls: create: public key: %w", err)
	}
	var legacyQuote, evidence []byte
	if o.formats&FormatLegacy != 0 {
		if legacyQuote, err = legacyExtension(ctx, a, spki); err != nil {
			return nil, err
		}
	}
	if o.formats&FormatTCG != 0 {
		if evidence, err = tcgExtension(ctx, a, spki); err != nil {
			return nil, err
		}
	}
	der, err := buildCertificate(key, spki, legacyQuote, evidence, o.notBefore, o.notAfter)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func (o *createOptions) signer() (crypto.Signer, error) {
	if o.key != nil {
		if err := checkKey(o.key.Public()); err != nil {
			return nil, fmt.Errorf("ratls: create: %w", err)
		}
		return o.key, nil
	}
	var (
		key crypto.Signer
		err error
	)
	switch o.alg {
	case ECDSAP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case ECDSAP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("ratls: create: key algorithm %d not supported", o.alg)
	}
	if err != nil {
		return nil, fmt.Errorf("ratls: create: generate key: %w", err)
	}
	return key, nil
}

// legacyExtension obtains the quote for the legacy extension: report data SHA-256(SPKI) ‖ 0³².
func legacyExtension(ctx context.Context, a Attester, spki []byte) ([]byte, error) {
	var rd [64]byte
	h := sha256.Sum256(spki)
	copy(rd[:], h[:])
	q, err := attest(ctx, a, rd, "legacy quote")
	if err != nil {
		return nil, err
	}
	return q, checkCreatedSize(q, "legacy extension")
}

// tcgExtension builds the tagged evidence: claims with the pubkey hash, and a quote whose report
// data is SHA-256(claims) ‖ 0³².
func tcgExtension(ctx context.Context, a Attester, spki []byte) ([]byte, error) {
	claims, err := encodeClaims(spki)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: claims: %w", err)
	}
	var rd [64]byte
	h := sha256.Sum256(claims)
	copy(rd[:], h[:])
	q, err := attest(ctx, a, rd, "tcg quote")
	if err != nil {
		return nil, err
	}
	ev, err := encodeTaggedEvidence(q, claims)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: evidence: %w", err)
	}
	return ev, checkCreatedSize(ev, "tcg extension")
}

// attest asks for a quote and checks that it parses and carries the requested report data.
func attest(ctx context.Context, a Attester, rd [64]byte, what string) ([]byte, error) {
	raw, err := a.Quote(ctx, rd)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: %s: %w", what, err)
	}
	q, err := quote.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: %s: %w", what, err)
	}
	if q.ReportData() != rd {
		return nil, fmt.Errorf("ratls: create: %s: %w", what, errors.New("attester returned a quote with other report data"))
	}
	return raw, nil
}

func checkCreatedSize(v []byte, step string) error {
	if n := len(v); n < MinCreatedExtensionSize || n > MaxExtensionSize {
		return refuse(ReasonExtensionMalformed, step,
			fmt.Sprintf("value of %d bytes, want %d..%d", n, MinCreatedExtensionSize, MaxExtensionSize))
	}
	return nil
}

// buildCertificate assembles and signs the certificate; legacyQuote or evidence may be nil.
func buildCertificate(key crypto.Signer, spki, legacyQuote, evidence []byte, notBefore, notAfter time.Time) ([]byte, error) {
	exts, err := baseExtensions(spki)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: %w", err)
	}
	if legacyQuote != nil {
		exts = append(exts, pkix.Extension{Id: OIDLegacyQuote, Value: legacyQuote})
	}
	if evidence != nil {
		exts = append(exts, pkix.Extension{Id: OIDTaggedEvidence, Value: evidence})
	}
	sigAlg := x509.ECDSAWithSHA256
	if _, ok := key.Public().(*rsa.PublicKey); ok {
		sigAlg = x509.SHA256WithRSA
	}
	tmpl := &x509.Certificate{
		SerialNumber:       big.NewInt(1),
		RawSubject:         gramineName,
		NotBefore:          notBefore,
		NotAfter:           notAfter,
		SignatureAlgorithm: sigAlg,
		ExtraExtensions:    exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("ratls: create: %w", err)
	}
	return der, nil
}

// gramineName is CN=RATLS,O=GramineDevelopers,C=US in the order and string types mbedTLS 3
// writes (RDNs CN, O, C; UTF8String, UTF8String, PrintableString).
var gramineName = func() []byte {
	attr := func(oid asn1.ObjectIdentifier, tag int, v string) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: oid, Value: asn1.RawValue{Tag: tag, Bytes: []byte(v)}}}
	}
	der, err := asn1.Marshal(pkix.RDNSequence{
		attr(asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String, "RATLS"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 10}, asn1.TagUTF8String, "GramineDevelopers"),
		attr(asn1.ObjectIdentifier{2, 5, 4, 6}, asn1.TagPrintableString, "US"),
	})
	if err != nil {
		panic("ratls: subject name: " + err.Error())
	}
	return der
}()

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidSubjectKeyID     = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidAuthorityKeyID   = asn1.ObjectIdentifier{2, 5, 29, 35}
)

// baseExtensions returns basicConstraints (cA false, non-critical, as mbedTLS writes it), the
// subject key identifier (SHA-1 of the subjectPublicKey bits, RFC 5280 method 1) and the
// authority key identifier (the same, the certificate being self-signed).
func baseExtensions(spki []byte) ([]pkix.Extension, error) {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("subject public key info: %w", err)
	}
	id := sha1.Sum(info.PublicKey.Bytes) //nolint:gosec // key identifier, see import
	ski, err := asn1.Marshal(id[:])
	if err != nil {
		return nil, err
	}
	aki, err := asn1.Marshal(struct {
		KeyID []byte `asn1:"optional,tag:0"`
	}{id[:]})
	if err != nil {
		return nil, err
	}
	return []pkix.Extension{
		{Id: oidBasicConstraints, Value: []byte{0x30, 0x00}},
		{Id: oidSubjectKeyID, Value: ski},
		{Id: oidAuthorityKeyID, Value: aki},
	}, nil
}

// EncodeDER returns the certificate (first of c.Certificate) and its private key in DER, as
// gramine-ratls -D writes them: SEC1 for ECDSA, PKCS#1 for RSA, PKCS#8 for other keys.
func EncodeDER(c *tls.Certificate) (certDER, keyDER []byte, err error) {
	certDER, _, keyDER, err = encode(c)
	return certDER, keyDER, err
}

// EncodePEM returns the certificate and its private key in PEM, as gramine-ratls writes them:
// "EC PRIVATE KEY" (SEC1) for ECDSA, "RSA PRIVATE KEY" (PKCS#1) for RSA, "PRIVATE KEY" (PKCS#8)
// otherwise.
func EncodePEM(c *tls.Certificate) (certPEM, keyPEM []byte, err error) {
	certDER, keyType, keyDER, err := encode(c)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: keyType, Bytes: keyDER}), nil
}

func encode(c *tls.Certificate) (certDER []byte, keyType string, keyDER []byte, err error) {
	if c == nil || len(c.Certificate) == 0 {
		return nil, "", nil, errors.New("ratls: encode: no certificate")
	}
	switch k := c.PrivateKey.(type) {
	case *ecdsa.PrivateKey:
		keyType = "EC PRIVATE KEY"
		keyDER, err = x509.MarshalECPrivateKey(k)
	case *rsa.PrivateKey:
		keyType, keyDER = "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(k)
	default:
		keyType = "PRIVATE KEY"
		keyDER, err = x509.MarshalPKCS8PrivateKey(k)
	}
	if err != nil {
		return nil, "", nil, fmt.Errorf("ratls: encode: %w", err)
	}
	return c.Certificate[0], keyType, keyDER, nil
}
