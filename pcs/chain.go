package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxChainCerts bounds the certificates accepted in one PEM chain.
const maxChainCerts = 8

// Common-name fragments QVL requires (dcap spec §5.2, §5.3).
const (
	cnRootFragment       = "SGX Root CA"
	cnPCKLeafFragment    = "SGX PCK Certificate"
	cnTCBSigningFragment = "SGX TCB Signing"
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
	signer, chainRoot := chain[0], chain[1]
	if err := checkRoot(chainRoot, root); err != nil {
		return err
	}
	if err := checkIssued(DocTCBSigningCert, cnTCBSigningFragment, signer, chainRoot); err != nil {
		return err
	}
	if err := VerifyCRL(rootCRL, root); err != nil {
		return err
	}
	return CheckRevocation(rootCRL, signer, DocTCBSigningCert)
}

// VerifyPCKChain checks the PCK certificate chain from a quote (QVL PckCertVerifier
// semantics, dcap spec §5.2 steps 1–6): exactly three certificates, leaf, intermediate, root;
// the root is self-signed with a CN containing "SGX Root CA" and is the trusted root; the
// intermediate is the Processor or Platform CA issued and signed by the root; the leaf's CN
// contains "SGX PCK Certificate" and it is issued and signed by the intermediate; rootCRL
// verifies against the root and pckCRL against the intermediate; neither the intermediate
// (root CRL) nor the leaf (PCK CRL) is revoked. Times are not checked (see Validity). It
// returns the intermediate's CA type.
func VerifyPCKChain(chain []*x509.Certificate, root *x509.Certificate, rootCRL, pckCRL *x509.RevocationList) (CAType, error) {
	if len(chain) != 3 {
		return "", newErr(KindChain, DocPCKCert, fmt.Sprintf("want 3 certificates, got %d", len(chain)), nil)
	}
	leaf, ca, chainRoot := chain[0], chain[1], chain[2]
	if err := checkRoot(chainRoot, root); err != nil {
		return "", err
	}
	caType, err := CATypeOf(ca)
	if err != nil {
		return "", err
	}
	if err := checkIssued(DocPCKCA, "", ca, chainRoot); err != nil {
		return "", err
	}
	if err := checkIssued(DocPCKCert, cnPCKLeafFragment, leaf, ca); err != nil {
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

// checkRoot requires c to be a self-signed "SGX Root CA" with the trusted root's subject and
// public key.
func checkRoot(c, trusted *x509.Certificate) error {
	if c == nil || trusted == nil {
		return newErr(KindChain, DocRootCA, "missing root certificate", nil)
	}
	if err := checkIssued(DocRootCA, cnRootFragment, c, c); err != nil {
		return err
	}
	pub, ok := trusted.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(c.PublicKey) || !bytes.Equal(c.RawSubject, trusted.RawSubject) {
		return newErr(KindUntrusted, DocRootCA, "chain root is not the trusted root", nil)
	}
	return nil
}

// checkIssued requires child's CN to contain cnFragment (if set), child's issuer to be
// parent's subject, and parent's signature on child to verify (parent must be a CA).
func checkIssued(doc Doc, cnFragment string, child, parent *x509.Certificate) error {
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
		return newErr(signatureKind(err), doc, "", err)
	}
	return nil
}

// signatureKind classifies an x509 CheckSignatureFrom error: a parent that may not sign
// (not a CA, no certSign/cRLSign key usage) is a chain error, anything else a signature error.
func signatureKind(err error) Kind {
	if _, ok := errors.AsType[x509.ConstraintViolationError](err); ok {
		return KindChain
	}
	return KindSignature
}
