package ratls

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"

	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// MaxCertificateSize bounds the DER accepted by ParseCertificate: two extensions of at most
// MaxExtensionSize plus the rest of a certificate fit in far less.
const MaxCertificateSize = 32 << 10

// Binding names the extension whose quote binds the certificate key.
type Binding string

const (
	// BindingTCG: the TCG DICE tagged evidence (OID 2.23.133.5.4.9); the quote's report data
	// is SHA-256 of the claims, whose pubkey-hash claim is the hash of the key.
	BindingTCG Binding = "tcg"
	// BindingLegacy: the raw quote extension; the quote's report data starts with SHA-256 of
	// the key.
	BindingLegacy Binding = "legacy"
)

// Certificate is an RA-TLS certificate whose quote was found and parsed and whose key binding
// holds. The quote is NOT verified: nothing here is trustworthy until VerifyCertificate (or a
// QuoteVerifier) has accepted Quote. The TLS handshake, not the certificate, proves that the
// peer holds the key.
type Certificate struct {
	X509    *x509.Certificate
	Binding Binding
	Quote   *quote.Quote // the quote that binds the key, the one to verify
	// RawQuote is the quote's bytes as carried in the extension: not a copy but a slice of the
	// extension's value in X509.Extensions, which crypto/x509 makes a slice of X509.Raw. It is
	// read-only and lives as long as the certificate; Quote does not refer to it.
	RawQuote []byte
}

// ParseCertificate parses DER and then works as ParseX509. It refuses more than
// MaxCertificateSize bytes.
func ParseCertificate(der []byte) (*Certificate, error) {
	if len(der) > MaxCertificateSize {
		return nil, refuse(ReasonCertificateMalformed, "certificate",
			fmt.Sprintf("%d bytes, want <= %d", len(der), MaxCertificateSize))
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, refuseErr(ReasonCertificateMalformed, "certificate", err)
	}
	return ParseX509(cert)
}

// ParseX509 finds the quote of an RA-TLS certificate and checks that it binds the certificate
// key (spec §1.8 step 1), in this order:
//
//   - The TCG tagged-evidence extension is used when present; any error in it is final (no
//     fallback). Stricter than Gramine: the pubkey-hash claim is required.
//   - Otherwise the legacy extension, at 0.6.9.42.840.113741.1337.6 (Gramine) or
//     1.2.840.113741.1337.6 (other stacks; both at once are refused).
//   - Each extension value must be MinExtensionSize..MaxExtensionSize bytes and non-critical.
//   - When both formats are present, the legacy quote must parse, bind the key too, and come
//     from the same enclave: the same TEE, body type and report body except the report data.
//     Otherwise the certificate is refused with ReasonEvidenceConflict.
//   - The key must be ECDSA P-256, P-384 or RSA-3072 (e = 65537); it is hashed as
//     cert.RawSubjectPublicKeyInfo.
//
// Validity dates and the self-signature are not checked, as in Gramine (spec §1.10).
func ParseX509(cert *x509.Certificate) (*Certificate, error) {
	if cert == nil {
		return nil, refuse(ReasonCertificateMalformed, "certificate", "nil certificate")
	}
	tcg, legacy, err := findExtensions(cert)
	if err != nil {
		return nil, err
	}
	if err := checkKey(cert.PublicKey); err != nil {
		return nil, err
	}
	spki := cert.RawSubjectPublicKeyInfo
	if tcg == nil {
		q, err := parseLegacy(legacy, spki)
		if err != nil {
			return nil, err
		}
		return &Certificate{X509: cert, Binding: BindingLegacy, Quote: q, RawQuote: legacy.Value}, nil
	}
	q, raw, err := parseTCG(tcg, spki)
	if err != nil {
		return nil, err
	}
	if legacy != nil {
		if err := checkAgreement(q, raw, legacy, spki); err != nil {
			return nil, err
		}
	}
	return &Certificate{X509: cert, Binding: BindingTCG, Quote: q, RawQuote: raw}, nil
}

// findExtensions returns the RA-TLS extensions after checking their flags and sizes.
func findExtensions(cert *x509.Certificate) (tcg, legacy *pkix.Extension, err error) {
	for i := range cert.Extensions {
		ext := &cert.Extensions[i]
		var step string
		switch {
		case ext.Id.Equal(OIDTaggedEvidence):
			if tcg != nil { // crypto/x509 refuses duplicates; a hand-made value may not
				return nil, nil, refuse(ReasonEvidenceConflict, "tcg extension", "two tcg extensions")
			}
			tcg, step = ext, "tcg extension"
		case ext.Id.Equal(OIDLegacyQuote), ext.Id.Equal(OIDLegacyQuoteIntended):
			if legacy != nil {
				return nil, nil, refuse(ReasonEvidenceConflict, "legacy extension",
					"both legacy quote OIDs present")
			}
			legacy, step = ext, "legacy extension"
		default:
			continue
		}
		if err := checkExtension(ext, step); err != nil {
			return nil, nil, err
		}
	}
	if tcg == nil && legacy == nil {
		return nil, nil, refuse(ReasonExtensionMissing, "certificate", "no RA-TLS extension")
	}
	return tcg, legacy, nil
}

func checkExtension(ext *pkix.Extension, step string) error {
	if ext.Critical {
		return refuse(ReasonExtensionMalformed, step, "marked critical")
	}
	if n := len(ext.Value); n < MinExtensionSize || n > MaxExtensionSize {
		return refuse(ReasonExtensionMalformed, step,
			fmt.Sprintf("value of %d bytes, want %d..%d", n, MinExtensionSize, MaxExtensionSize))
	}
	return nil
}

// checkKey accepts the key types Gramine attesters have used: ECDSA P-384 (≥ 1.4), RSA-3072
// (≤ 1.3), and P-256, which Gramine's verifier accepts too.
func checkKey(pub any) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return refuse(ReasonKeyUnsupported, "certificate key", "ECDSA curve "+k.Curve.Params().Name)
	case *rsa.PublicKey:
		if k.N.BitLen() == 3072 && k.E == 65537 {
			return nil
		}
		return refuse(ReasonKeyUnsupported, "certificate key",
			fmt.Sprintf("RSA-%d with exponent %d, want RSA-3072 with 65537", k.N.BitLen(), k.E))
	}
	return refuse(ReasonKeyUnsupported, "certificate key", fmt.Sprintf("%T", pub))
}

// parseTCG decodes the tagged evidence and checks both links of its binding: report data =
// SHA-256(claims) and pubkey-hash = H(SPKI). The raw quote it returns is a read-only subslice of
// ext.Value (see taggedEvidence), not a copy; quote.Parse copies what the *quote.Quote keeps.
func parseTCG(ext *pkix.Extension, spki []byte) (*quote.Quote, []byte, error) {
	const step = "tcg extension"
	ev, err := parseTaggedEvidence(ext.Value)
	if err != nil {
		return nil, nil, refuseErr(ReasonExtensionMalformed, step, err)
	}
	q, err := parseQuote(ev.quote, step)
	if err != nil {
		return nil, nil, err
	}
	claimsHash := sha256.Sum256(ev.claims)
	if rd := q.ReportData(); !bytes.Equal(rd[:32], claimsHash[:]) {
		return nil, nil, refuse(ReasonBindingInvalid, step, "report data is not the hash of the claims")
	}
	if !bytes.Equal(ev.keyHash, keyHash(ev.alg, spki)) {
		return nil, nil, refuse(ReasonBindingInvalid, step, "pubkey-hash is not the hash of the certificate key")
	}
	return q, ev.quote, nil
}

// parseLegacy parses the raw quote and checks report data[0..31] = SHA-256(SPKI).
func parseLegacy(ext *pkix.Extension, spki []byte) (*quote.Quote, error) {
	const step = "legacy extension"
	if len(ext.Value) < MinQuoteSize {
		return nil, refuse(ReasonExtensionMalformed, step,
			fmt.Sprintf("quote of %d bytes, want >= %d", len(ext.Value), MinQuoteSize))
	}
	q, err := parseQuote(ext.Value, step)
	if err != nil {
		return nil, err
	}
	rd := q.ReportData()
	if err := checkLegacyBinding(rd[:], spki); err != nil {
		return nil, err
	}
	return q, nil
}

// checkLegacyBinding checks that a legacy quote's report data starts with SHA-256(SPKI).
func checkLegacyBinding(reportData, spki []byte) error {
	want := sha256.Sum256(spki)
	if !bytes.Equal(reportData[:32], want[:]) {
		return refuse(ReasonBindingInvalid, "legacy extension", "report data is not the hash of the certificate key")
	}
	return nil
}

// parseQuote parses a quote; a refusal carries verify's quote_malformed/quote_unsupported
// reason and a *verify.Error, so both ReasonOf functions agree.
func parseQuote(b []byte, step string) (*quote.Quote, error) {
	q, err := quote.Parse(b)
	if err == nil {
		return q, nil
	}
	r := verify.ReasonQuoteMalformed
	if errors.Is(err, quote.ErrUnsupported) {
		r = verify.ReasonQuoteUnsupported
	}
	return nil, refuseErr(Reason(r), step, &verify.Error{Reason: r, Step: "quote", Err: err})
}
