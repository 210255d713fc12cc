package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// ParseCRL parses a CRL given as DER, as PEM ("X509 CRL", one block, nothing else but
// whitespace and trailing NULs around it), or as hex text of the DER (either case, optional
// "0x", surrounding whitespace ignored) — the three encodings Intel's services use (dcap spec
// §3.5). Trailing bytes after the DER are refused. The CRL is not verified: see VerifyCRL.
func ParseCRL(b []byte) (*x509.RevocationList, error) {
	der, err := crlDER(b)
	if err == nil && len(der) > MaxDocumentSize {
		err = fmt.Errorf("%d-byte DER exceeds the %d-byte limit", len(der), MaxDocumentSize)
	}
	if err != nil {
		return nil, formatErr(crlDocUnknown, "", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, formatErr(crlDocUnknown, "", err)
	}
	if len(crl.Raw) != len(der) {
		return nil, formatErr(crlDoc(crl), "", fmt.Errorf("%d trailing bytes after the DER", len(der)-len(crl.Raw)))
	}
	return crl, nil
}

// crlDocUnknown is used while the CRL cannot tell which one it is.
const crlDocUnknown = DocCRL

func crlDER(b []byte) ([]byte, error) {
	if len(b) > 2*MaxDocumentSize+64 { // room for hex text of a MaxDocumentSize DER
		return nil, fmt.Errorf("%d bytes exceed the limit", len(b))
	}
	text := bytes.TrimRight(b, "\x00")
	text = bytes.TrimSpace(text)
	switch {
	case len(text) == 0:
		return nil, fmt.Errorf("empty")
	case bytes.HasPrefix(text, []byte("-----BEGIN ")):
		return crlFromPEM(text)
	case isHexText(text):
		t := strings.TrimPrefix(strings.TrimPrefix(string(text), "0x"), "0X")
		der, err := hex.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("hex: %w", err)
		}
		return der, nil
	}
	return b, nil
}

func crlFromPEM(text []byte) ([]byte, error) {
	block, rest := pem.Decode(text)
	if block == nil {
		return nil, fmt.Errorf("malformed PEM")
	}
	if block.Type != "X509 CRL" {
		return nil, fmt.Errorf("PEM block %q, want \"X509 CRL\"", block.Type)
	}
	if len(block.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("unexpected data in PEM")
	}
	return block.Bytes, nil
}

// isHexText reports whether b is non-empty hex digits with an optional 0x prefix. DER never
// qualifies: a CRL's DER contains bytes outside [0-9A-Fa-f] (e.g. its 0x06 OID tags).
func isHexText(b []byte) bool {
	if len(b) >= 2 && b[0] == '0' && (b[1] == 'x' || b[1] == 'X') {
		b = b[2:]
	}
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// crlDoc tells the root CA CRL from a PCK CRL by the issuer's common name.
func crlDoc(crl *x509.RevocationList) Doc {
	if strings.Contains(crl.Issuer.CommonName, "Root CA") {
		return DocRootCRL
	}
	return DocPCKCRL
}

// VerifyCRL checks a CRL against the certificate that must have issued it (QVL semantics, dcap
// spec §5.2 step 5): the CRL issuer name equals the certificate's raw subject, the CRL Number
// and Authority Key Identifier extensions are present (the AKI equal to the issuer's Subject
// Key Identifier when it has one), a next update is present, and the ECDSA-SHA256 signature
// verifies with the issuer's key. Errors name DocRootCRL for a self-issued issuer and
// DocPCKCRL otherwise. Time is not checked: see CheckCRLTime.
func VerifyCRL(crl *x509.RevocationList, issuer *x509.Certificate) error {
	if crl == nil || issuer == nil {
		return formatErr(DocCRL, "missing CRL or issuer", nil)
	}
	doc := DocPCKCRL
	if bytes.Equal(issuer.RawSubject, issuer.RawIssuer) {
		doc = DocRootCRL
	}
	switch {
	case !bytes.Equal(crl.RawIssuer, issuer.RawSubject):
		return newErr(KindMismatch, doc, fmt.Sprintf("issued by %q, not by %q", crl.Issuer, issuer.Subject), nil)
	case crl.Number == nil:
		return formatErr(doc, "no CRL Number extension", nil)
	case len(crl.AuthorityKeyId) == 0:
		return formatErr(doc, "no Authority Key Identifier extension", nil)
	case len(issuer.SubjectKeyId) != 0 && !bytes.Equal(crl.AuthorityKeyId, issuer.SubjectKeyId):
		return newErr(KindMismatch, doc, "authority key identifier differs from the issuer's", nil)
	case crl.NextUpdate.IsZero():
		return formatErr(doc, "no next update", nil)
	case crl.SignatureAlgorithm != x509.ECDSAWithSHA256:
		return newErr(KindSignature, doc, fmt.Sprintf("algorithm %v, want ECDSA-SHA256", crl.SignatureAlgorithm), nil)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return newErr(signatureKind(err), doc, "", err)
	}
	return nil
}

// CheckCRLTime returns a KindExpired error unless thisUpdate <= at <= nextUpdate (both
// inclusive; QVL treats a CRL outside that window as CRL_EXPIRED).
func CheckCRLTime(crl *x509.RevocationList, at time.Time) error {
	if crl == nil {
		return formatErr(DocCRL, "missing CRL", nil)
	}
	return CRLValidity(crl).Check(at)
}

// CheckRevocation returns a KindRevoked error naming doc if cert's serial number is listed in
// crl (revocation is by serial number only, as in QVL). The CRL must have been verified
// against cert's issuer with VerifyCRL.
func CheckRevocation(crl *x509.RevocationList, cert *x509.Certificate, doc Doc) error {
	if crl == nil || cert == nil || cert.SerialNumber == nil {
		return formatErr(doc, "missing CRL or certificate", nil)
	}
	for _, entry := range crl.RevokedCertificateEntries {
		if entry.SerialNumber != nil && entry.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return newErr(KindRevoked, doc, fmt.Sprintf("serial %x revoked on %s", cert.SerialNumber,
				entry.RevocationTime.UTC().Format(time.RFC3339)), nil)
		}
	}
	return nil
}
