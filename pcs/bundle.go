package pcs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
)

// Bundle is one platform's collateral set, the content of dcap-qvl's "QuoteCollateralV3": the
// PCK CRL with its issuer chain, the root CA CRL, and the TCB Info and QE Identity with their
// issuer chains. The PCK chain itself travels in the quote. Parsing verifies nothing.
type Bundle struct {
	PCKCRLIssuerChain     []*x509.Certificate // PCK Processor/Platform CA, root
	RootCRL               *x509.RevocationList
	PCKCRL                *x509.RevocationList
	TCBInfoIssuerChain    []*x509.Certificate // TCB Signing, root
	TCBInfo               *TCBInfo
	QEIdentityIssuerChain []*x509.Certificate // TCB Signing, root
	QEIdentity            *QEIdentity
}

// bundleJSON is the dcap-qvl layout, fields in its key order.
type bundleJSON struct {
	PCKCRLIssuerChain     *string `json:"pck_crl_issuer_chain"`
	RootCACRL             *string `json:"root_ca_crl"`
	PCKCRL                *string `json:"pck_crl"`
	TCBInfoIssuerChain    *string `json:"tcb_info_issuer_chain"`
	TCBInfo               *string `json:"tcb_info"`
	TCBInfoSignature      *string `json:"tcb_info_signature"`
	QEIdentityIssuerChain *string `json:"qe_identity_issuer_chain"`
	QEIdentity            *string `json:"qe_identity"`
	QEIdentitySignature   *string `json:"qe_identity_signature"`
}

// ParseBundleJSON parses the dcap-qvl collateral JSON (vectors README "Collateral JSON
// format"): nine required string members; chains are PEM, CRLs hex of DER, tcb_info and
// qe_identity the exact signed JSON text with 128-hex-digit signatures. Unknown members are
// ignored; duplicate members are refused. Errors name the document the bad member belongs to
// (DocPCKCRL for pck_crl_issuer_chain, DocTCBInfo for tcb_info_issuer_chain...).
func ParseBundleJSON(b []byte) (*Bundle, error) {
	var w bundleJSON
	if err := decodeStrict(b, &w); err != nil {
		return nil, formatErr(DocBundle, "", err)
	}
	for _, f := range []struct {
		name string
		v    *string
	}{
		{"pck_crl_issuer_chain", w.PCKCRLIssuerChain}, {"root_ca_crl", w.RootCACRL}, {"pck_crl", w.PCKCRL},
		{"tcb_info_issuer_chain", w.TCBInfoIssuerChain}, {"tcb_info", w.TCBInfo}, {"tcb_info_signature", w.TCBInfoSignature},
		{"qe_identity_issuer_chain", w.QEIdentityIssuerChain}, {"qe_identity", w.QEIdentity}, {"qe_identity_signature", w.QEIdentitySignature},
	} {
		if f.v == nil {
			return nil, formatErr(DocBundle, missing(f.name).Error(), nil)
		}
	}
	return w.bundle()
}

func (w *bundleJSON) bundle() (*Bundle, error) {
	var b Bundle
	var err error
	if b.PCKCRLIssuerChain, err = ParseChainPEM([]byte(*w.PCKCRLIssuerChain)); err != nil {
		return nil, retag(err, DocPCKCRL, "pck_crl_issuer_chain")
	}
	if b.RootCRL, err = parseHexCRL(*w.RootCACRL); err != nil {
		return nil, retag(err, DocRootCRL, "root_ca_crl")
	}
	if b.PCKCRL, err = parseHexCRL(*w.PCKCRL); err != nil {
		return nil, retag(err, DocPCKCRL, "pck_crl")
	}
	if b.TCBInfoIssuerChain, err = ParseChainPEM([]byte(*w.TCBInfoIssuerChain)); err != nil {
		return nil, retag(err, DocTCBInfo, "tcb_info_issuer_chain")
	}
	if b.TCBInfo, err = ParseTCBInfoRaw([]byte(*w.TCBInfo), *w.TCBInfoSignature); err != nil {
		return nil, err
	}
	if b.QEIdentityIssuerChain, err = ParseChainPEM([]byte(*w.QEIdentityIssuerChain)); err != nil {
		return nil, retag(err, DocQEIdentity, "qe_identity_issuer_chain")
	}
	if b.QEIdentity, err = ParseQEIdentityRaw([]byte(*w.QEIdentity), *w.QEIdentitySignature); err != nil {
		return nil, err
	}
	return &b, nil
}

// parseHexCRL parses the bundle's CRL form: hex text of the DER (no PEM, no raw bytes).
func parseHexCRL(s string) (*x509.RevocationList, error) {
	if !isHexText([]byte(s)) {
		return nil, formatErr(DocCRL, "not hex text", nil)
	}
	return ParseCRL([]byte(s))
}

// MarshalJSON writes b in the dcap-qvl layout and key order (compact; chains as PEM, CRLs as
// lower-case hex of their DER, tcb_info/qe_identity as their exact Raw bytes, signatures as
// lower-case hex). Every part must be present.
func (b *Bundle) MarshalJSON() ([]byte, error) {
	if err := b.complete(); err != nil {
		return nil, err
	}
	str := func(s string) *string { return &s }
	w := bundleJSON{
		PCKCRLIssuerChain:     str(chainPEM(b.PCKCRLIssuerChain)),
		RootCACRL:             str(hex.EncodeToString(b.RootCRL.Raw)),
		PCKCRL:                str(hex.EncodeToString(b.PCKCRL.Raw)),
		TCBInfoIssuerChain:    str(chainPEM(b.TCBInfoIssuerChain)),
		TCBInfo:               str(string(b.TCBInfo.Raw)),
		TCBInfoSignature:      str(hex.EncodeToString(b.TCBInfo.Signature[:])),
		QEIdentityIssuerChain: str(chainPEM(b.QEIdentityIssuerChain)),
		QEIdentity:            str(string(b.QEIdentity.Raw)),
		QEIdentitySignature:   str(hex.EncodeToString(b.QEIdentity.Signature[:])),
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&w); err != nil {
		return nil, formatErr(DocBundle, "marshal", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func (b *Bundle) complete() error {
	switch {
	case b == nil:
		return formatErr(DocBundle, "nil bundle", nil)
	case len(b.PCKCRLIssuerChain) == 0 || len(b.TCBInfoIssuerChain) == 0 || len(b.QEIdentityIssuerChain) == 0:
		return formatErr(DocBundle, "missing issuer chain", nil)
	case b.RootCRL == nil || b.PCKCRL == nil:
		return formatErr(DocBundle, "missing CRL", nil)
	case b.TCBInfo == nil || b.QEIdentity == nil:
		return formatErr(DocBundle, "missing TCB Info or QE Identity", nil)
	}
	return nil
}

func chainPEM(chain []*x509.Certificate) string {
	var buf bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory
	}
	return buf.String()
}

// Collateral returns b itself if it is the collateral for key (TCB Info for key's TEE and
// FMSPC, QE Identity for key's TEE, PCK CRL issued by key's CA type), so that a fixed Bundle
// can serve as a collateral source. Otherwise it returns a KindMismatch error naming DocBundle.
func (b *Bundle) Collateral(ctx context.Context, key Key) (*Bundle, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := b.complete(); err != nil {
		return nil, err
	}
	ca, err := CATypeOf(b.PCKCRLIssuerChain[0])
	if err != nil {
		return nil, retag(err, DocBundle, "pck_crl_issuer_chain")
	}
	switch {
	case b.TCBInfo.TEE() != key.TEE || b.TCBInfo.FMSPC != key.FMSPC:
		return nil, newErr(KindMismatch, DocBundle, fmt.Sprintf("TCB Info is for %s %s, want %s", b.TCBInfo.ID, b.TCBInfo.FMSPC, key), nil)
	case b.QEIdentity.CheckFor(key.TEE) != nil:
		return nil, newErr(KindMismatch, DocBundle, fmt.Sprintf("QE Identity is %s, want %s", b.QEIdentity.ID, key), nil)
	case ca != key.CA:
		return nil, newErr(KindMismatch, DocBundle, fmt.Sprintf("PCK CRL is for the %s CA, want %s", ca, key), nil)
	}
	return b, nil
}

// Validities lists the validity windows of every item in b, followed by those of pckChain
// (leaf, intermediate, root, from the quote), for WindowOf. Chain positions give the Doc:
// issuer chains are (intermediate or TCB Signing, root).
func (b *Bundle) Validities(pckChain ...*x509.Certificate) []Validity {
	var vs []Validity
	add := func(chain []*x509.Certificate, docs ...Doc) {
		for i, c := range chain {
			doc := DocRootCA
			if i < len(docs) {
				doc = docs[i]
			}
			vs = append(vs, CertValidity(doc, c))
		}
	}
	add(b.PCKCRLIssuerChain, DocPCKCA)
	if b.RootCRL != nil {
		vs = append(vs, CRLValidity(b.RootCRL))
	}
	if b.PCKCRL != nil {
		vs = append(vs, CRLValidity(b.PCKCRL))
	}
	add(b.TCBInfoIssuerChain, DocTCBSigningCert)
	if b.TCBInfo != nil {
		vs = append(vs, b.TCBInfo.Validity())
	}
	add(b.QEIdentityIssuerChain, DocTCBSigningCert)
	if b.QEIdentity != nil {
		vs = append(vs, b.QEIdentity.Validity())
	}
	add(pckChain, DocPCKCert, DocPCKCA)
	return vs
}
