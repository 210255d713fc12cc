package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// maxChainCerts bounds the certificates accepted in one PEM chain.
const maxChainCerts = 8

// Common-name fragments QVL requires (dcap spec §5.2, §5.3, §5.5): the subject common name of a
// certificate in an Intel chain must contain the fragment of its role. Pass them to CheckIssued.
// PCK CAs are held to their exact names instead (CATypeOf; QVL accepts exactly the Processor and
// Platform CA subjects as PCK CRL issuers).
const (
	CNFragmentRootCA     = "SGX Root CA"
	CNFragmentPCKCert    = "SGX PCK Certificate"
	CNFragmentTCBSigning = "SGX TCB Signing"
)

// ParseChainPEM parses a concatenation of PEM CERTIFICATE blocks (leaf first, as Intel sends
// them). Whitespace between blocks and trailing whitespace or NUL bytes (quote certification
// data ends in a NUL) are allowed; any other text, another block type or PEM headers are
// refused. Nothing is verified.
func ParseChainPEM(b []byte) ([]*x509.Certificate, error) {
	if len(b) > MaxDocumentSize {
		return nil, formatErr(DocChain, fmt.Sprintf("%d bytes exceed the limit", len(b)), nil)
	}
	rest := bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	var certs []*x509.Certificate
	for len(rest) > 0 {
		if len(certs) == maxChainCerts {
			return nil, formatErr(DocChain, fmt.Sprintf("more than %d certificates", maxChainCerts), nil)
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, formatErr(DocChain, fmt.Sprintf("unexpected data before certificate %d", len(certs)), nil)
		}
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, formatErr(DocChain, fmt.Sprintf("malformed PEM block %d", len(certs)), nil)
		}
		if block.Type != "CERTIFICATE" || len(block.Headers) != 0 {
			return nil, formatErr(DocChain, fmt.Sprintf("PEM block %d is %q, want a plain CERTIFICATE", len(certs), block.Type), nil)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, formatErr(DocChain, fmt.Sprintf("certificate %d", len(certs)), err)
		}
		certs = append(certs, cert)
		rest = bytes.TrimSpace(rest)
	}
	if len(certs) == 0 {
		return nil, formatErr(DocChain, "no certificate", nil)
	}
	return certs, nil
}

// ParseIssuerChainHeader parses the value of a PCS issuer-chain header
// (TCB-Info-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain, SGX-PCK-CRL-Issuer-Chain...):
// percent-encoded PEM. "+" is kept as is (it is base64, not a space).
func ParseIssuerChainHeader(v string) ([]*x509.Certificate, error) {
	if len(v) > 3*MaxDocumentSize {
		return nil, formatErr(DocChain, "header value exceeds the limit", nil)
	}
	decoded, err := url.PathUnescape(strings.TrimSpace(v))
	if err != nil {
		return nil, formatErr(DocChain, "percent-decoding", err)
	}
	return ParseChainPEM([]byte(decoded))
}

// The chain checks come in two layers. The primitives (CheckTrustedRoot, CheckIssued,
// CheckPCKLeafExtensions, CheckPCKLinks, VerifyPCKCRLIssuerChain) check certificates and links
// against a root the caller already trusts and never look at CRLs, so that a verifier can
// check collateral once and revocation per quote. VerifyTCBSigningChain and VerifyPCKChain
// compose them with the root's self-signature and the CRL checks into QVL's complete steps.

// CheckTrustedRoot returns a KindUntrusted error naming DocRootCA unless presented, the root
// certificate delivered at the end of a chain, carries the trusted root's subject and public
// key (byte for byte; the QvE pins the key, dcap spec §5.1 step 4). Its self-signature is not
// checked: every certificate below it is verified with the trusted root's key.
func CheckTrustedRoot(presented, trusted *x509.Certificate) error {
	if presented == nil || trusted == nil {
		return newErr(KindChain, DocRootCA, "missing root certificate", nil)
	}
	if !bytes.Equal(presented.RawSubjectPublicKeyInfo, trusted.RawSubjectPublicKeyInfo) ||
		!bytes.Equal(presented.RawSubject, trusted.RawSubject) {
		return newErr(KindUntrusted, DocRootCA, "chain root is not the trusted root", nil)
	}
	return nil
}

// CheckIssued checks one link of an Intel chain (QVL semantics, dcap spec §5.2 steps 1–3, §5.3
// step 1): child's subject common name contains cnFragment (when not empty; see the
// CNFragment constants), child's raw issuer name equals parent's raw subject, child is signed
// with ECDSA-SHA256, and parent's key verifies that signature; crypto/x509 also requires parent
// to be allowed to sign certificates (CA basic constraint, keyCertSign key usage). Errors name
// doc: KindChain for a name, a missing certificate or a parent that may not sign, KindSignature
// for the algorithm or the signature. Names and times of parent are not checked.
func CheckIssued(child, parent *x509.Certificate, cnFragment string, doc Doc) error {
	if child == nil || parent == nil {
		return newErr(KindChain, doc, "missing certificate", nil)
	}
	if cnFragment != "" && !strings.Contains(child.Subject.CommonName, cnFragment) {
		return newErr(KindChain, doc, fmt.Sprintf("common name %q lacks %q", child.Subject.CommonName, cnFragment), nil)
	}
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return newErr(KindChain, doc, fmt.Sprintf("issuer %q is not %q", child.Issuer, parent.Subject), nil)
	}
	if child.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return newErr(KindSignature, doc, fmt.Sprintf("algorithm %v, want ECDSA-SHA256", child.SignatureAlgorithm), nil)
	}
	if err := child.CheckSignatureFrom(parent); err != nil {
		return newErr(signatureKind(err), doc, "signature by "+strconv.Quote(parent.Subject.CommonName), err)
	}
	return nil
}

// pckRequiredExtensions are the standard extensions QVL requires in a PCK certificate (dcap
// spec §3.3; QVL X509Constants.h REQUIRED_X509_EXTENSIONS).
var pckRequiredExtensions = [...]struct {
	name string
	id   asn1.ObjectIdentifier
}{
	{"authority key identifier", asn1.ObjectIdentifier{2, 5, 29, 35}},
	{"CRL distribution points", asn1.ObjectIdentifier{2, 5, 29, 31}},
	{"subject key identifier", asn1.ObjectIdentifier{2, 5, 29, 14}},
	{"key usage", asn1.ObjectIdentifier{2, 5, 29, 15}},
	{"basic constraints", asn1.ObjectIdentifier{2, 5, 29, 19}},
}

// CheckPCKLeafExtensions returns a KindFormat error naming DocPCKCert unless the PCK
// certificate carries every standard extension QVL requires: authority key identifier, CRL
// distribution points, subject key identifier, key usage and basic constraints (presence by
// OID; their values are not judged). The SGX extension is ParsePCKExtensions' business.
func CheckPCKLeafExtensions(leaf *x509.Certificate) error {
	if leaf == nil {
		return newErr(KindChain, DocPCKCert, "missing certificate", nil)
	}
	for _, req := range pckRequiredExtensions {
		if !hasExtension(leaf, req.id) {
			return formatErr(DocPCKCert, "no "+req.name+" extension", nil)
		}
	}
	return nil
}

func hasExtension(c *x509.Certificate, id asn1.ObjectIdentifier) bool {
	for i := range c.Extensions {
		if c.Extensions[i].Id.Equal(id) {
			return true
		}
	}
	return false
}

// CheckPCKLinks checks a PCK chain below a root the caller trusts (see CheckTrustedRoot),
// without CRLs or times (dcap spec §5.2 steps 1 and 3, §3.3): ca is the Processor or Platform
// CA (CATypeOf) issued and signed by root; leaf's common name contains "SGX PCK Certificate",
// it is issued and signed by ca, and it carries the extensions of CheckPCKLeafExtensions.
// Errors name DocPCKCA or DocPCKCert. It returns ca's type.
func CheckPCKLinks(leaf, ca, root *x509.Certificate) (CAType, error) {
	caType, err := checkPCKCA(ca, root)
	if err != nil {
		return "", err
	}
	if err := CheckIssued(leaf, ca, CNFragmentPCKCert, DocPCKCert); err != nil {
		return "", err
	}
	return caType, CheckPCKLeafExtensions(leaf)
}

// VerifyPCKCRLIssuerChain checks the issuer chain delivered with a PCK CRL (dcap spec §3.2,
// §3.5, §5.2 step 5): exactly two certificates, PCK CA then root; the root is the trusted root
// (CheckTrustedRoot); the CA is the Processor or Platform CA, issued and signed by the trusted
// root. It returns the CA's type; on success chain[0] is the certificate to verify the PCK CRL
// with (VerifyCRL). Revocation of the CA (root CA CRL) is left to the caller. Errors name
// DocPCKCA or DocRootCA; the caller knows they concern a CRL.
func VerifyPCKCRLIssuerChain(chain []*x509.Certificate, root *x509.Certificate) (CAType, error) {
	if len(chain) != 2 {
		return "", newErr(KindChain, DocPCKCA, fmt.Sprintf("want 2 certificates, got %d", len(chain)), nil)
	}
	if err := CheckTrustedRoot(chain[1], root); err != nil {
		return "", err
	}
	return checkPCKCA(chain[0], root)
}

// checkPCKCA requires ca to be the Processor or Platform CA, issued and signed by root.
func checkPCKCA(ca, root *x509.Certificate) (CAType, error) {
	caType, err := CATypeOf(ca)
	if err != nil {
		return "", err
	}
	return caType, CheckIssued(ca, root, "", DocPCKCA)
}

// VerifyTCBSigningChain checks the issuer chain of a TCB Info or QE Identity (QVL
// TCBSigningChain semantics, dcap spec §5.3 steps 1–2): exactly two certificates, signer then
// root; the root's CN contains "SGX Root CA" and it is self-signed; the signer's CN contains
// "SGX TCB Signing" and it is issued and signed by the root; the chain's root is the trusted
// root (same subject and public key); rootCRL verifies against the trusted root and does not
// list the signer. Times are not checked (see Validity). On success chain[0] is the key to
// pass to CheckSignature.
func VerifyTCBSigningChain(chain []*x509.Certificate, root *x509.Certificate, rootCRL *x509.RevocationList) error {
	if len(chain) != 2 {
		return newErr(KindChain, DocTCBSigningCert, fmt.Sprintf("want 2 certificates, got %d", len(chain)), nil)
	}
	signer := chain[0]
	if err := checkSelfSignedRoot(chain[1], root); err != nil {
		return err
	}
	if err := CheckIssued(signer, root, CNFragmentTCBSigning, DocTCBSigningCert); err != nil {
		return err
	}
	if err := VerifyCRL(rootCRL, root); err != nil {
		return err
	}
	return CheckRevocation(rootCRL, signer, DocTCBSigningCert)
}

// VerifyPCKChain checks the PCK certificate chain from a quote (QVL PckCertVerifier
// semantics, dcap spec §5.2 steps 1–6): exactly three certificates, leaf, intermediate, root;
// the root is self-signed with a CN containing "SGX Root CA" and is the trusted root;
// CheckPCKLinks holds (the intermediate is the Processor or Platform CA, links signed, names,
// the leaf's required extensions); rootCRL verifies against the root and pckCRL against the
// intermediate; neither the intermediate (root CRL) nor the leaf (PCK CRL) is revoked. Times
// are not checked (see Validity). It returns the intermediate's CA type.
func VerifyPCKChain(chain []*x509.Certificate, root *x509.Certificate, rootCRL, pckCRL *x509.RevocationList) (CAType, error) {
	if len(chain) != 3 {
		return "", newErr(KindChain, DocPCKCert, fmt.Sprintf("want 3 certificates, got %d", len(chain)), nil)
	}
	leaf, ca := chain[0], chain[1]
	if err := checkSelfSignedRoot(chain[2], root); err != nil {
		return "", err
	}
	caType, err := CheckPCKLinks(leaf, ca, root)
	if err != nil {
		return "", err
	}
	if err := VerifyCRL(rootCRL, root); err != nil {
		return "", err
	}
	if err := VerifyCRL(pckCRL, ca); err != nil {
		return "", err
	}
	if err := CheckRevocation(rootCRL, ca, DocPCKCA); err != nil {
		return "", err
	}
	return caType, CheckRevocation(pckCRL, leaf, DocPCKCert)
}

// checkSelfSignedRoot requires c to be a self-signed "SGX Root CA" that is the trusted root
// (QVL checks the chain's root this way; CheckTrustedRoot alone is enough when everything
// below is verified with the trusted root's key).
func checkSelfSignedRoot(c, trusted *x509.Certificate) error {
	if c == nil {
		return newErr(KindChain, DocRootCA, "missing root certificate", nil)
	}
	if err := CheckIssued(c, c, CNFragmentRootCA, DocRootCA); err != nil {
		return err
	}
	return CheckTrustedRoot(c, trusted)
}

// signatureKind classifies an x509 CheckSignatureFrom error: a parent that may not sign
// (not a CA, no certSign/cRLSign key usage) is a chain error, anything else a signature error.
func signatureKind(err error) Kind {
	if _, ok := errors.AsType[x509.ConstraintViolationError](err); ok {
		return KindChain
	}
	return KindSignature
}
