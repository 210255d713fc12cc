package verify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

const stepPCKChain = "pck chain"

// pckChain is a PCK certificate chain from a quote that verified up to the trusted root
// (dcap spec §5.2 steps 1–4; revocation is checked per quote against the collateral's CRLs).
// It is immutable and may be shared by concurrent verifications.
type pckChain struct {
	leaf, inter *x509.Certificate
	key         *ecdsa.PublicKey // the PCK key, which signs the QE report
	ext         *pcs.PCKExtensions
	ca          pcs.CAType
	leafSerial  string // serial number bytes, the revocation-set key
	interSerial string
	valid       pcs.Window // leaf, intermediate and trusted root
}

// chainPEM returns the quote's PCK chain PEM without copying; the chain is trusted only after
// checkPCKChain. A certification data type other than 5 is ReasonQuoteUnsupported.
func chainPEM(q *quote.Quote) ([]byte, error) {
	if q.CertDataType != quote.CertDataPCKChain {
		return nil, &Error{Reason: ReasonQuoteUnsupported, Step: "certification data",
			Want: "type 5 (PCK certificate chain)", Got: "type " + strconv.Itoa(int(q.CertDataType)),
			Err: errors.New("certification data is not a PCK certificate chain")}
	}
	return bytes.TrimRight(q.CertData, "\x00"), nil
}

// checkPCKChain parses the PEM chain leaf ‖ intermediate ‖ root and verifies it up to root.
func checkPCKChain(pemChain []byte, root *x509.Certificate) (*pckChain, error) {
	certs, err := pcs.ParseChainPEM(pemChain)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	if len(certs) != 3 {
		return nil, mismatch(ReasonPCKChainInvalid, stepPCKChain, "wrong number of certificates",
			"3", strconv.Itoa(len(certs)))
	}
	leaf, inter := certs[0], certs[1]
	if err := checkRootPin(ReasonPCKChainInvalid, stepPCKChain, certs[2], root); err != nil {
		return nil, err
	}
	if err := checkIssuedBy(inter, root, "pck ca", "CA"); err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	if err := checkIssuedBy(leaf, inter, "pck certificate", "SGX PCK Certificate"); err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	return newPCKChain(leaf, inter, root)
}

func newPCKChain(leaf, inter, root *x509.Certificate) (*pckChain, error) {
	key, err := certP256Key(leaf)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, fmt.Errorf("pck certificate: %w", err))
	}
	ext, err := pcs.ParsePCKExtensions(leaf)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	ca, err := pcs.CATypeOf(inter)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	c := &pckChain{
		leaf: leaf, inter: inter, key: key, ext: ext, ca: ca,
		leafSerial:  string(leaf.SerialNumber.Bytes()),
		interSerial: string(inter.SerialNumber.Bytes()),
		valid: pcs.WindowOf(pcs.CertValidity(pcs.DocPCKCert, leaf), pcs.CertValidity(pcs.DocPCKCA, inter),
			pcs.CertValidity(pcs.DocRootCA, root)),
	}
	return c, nil
}

// checkRootPin checks that presented, the copy of the trusted root shipped with a chain,
// carries the trusted root's subject and key (the QvE pins the key, dcap spec §5.1 step 4).
// Its self-signature is not checked: every certificate below it is verified with the trusted
// root's key, so the presented copy contributes nothing but its identity.
func checkRootPin(r Reason, step string, presented, root *x509.Certificate) error {
	if bytes.Equal(presented.RawSubjectPublicKeyInfo, root.RawSubjectPublicKeyInfo) &&
		bytes.Equal(presented.RawSubject, root.RawSubject) {
		return nil
	}
	return &Error{Reason: r, Step: step, Want: "root key " + keyID(root), Got: "root key " + keyID(presented),
		Err: errors.New("chain does not end in the trusted root")}
}

// checkIssuedBy checks that cert's subject CN contains cn, that it names issuer as its issuer
// and carries issuer's signature (x509 also checks issuer's CA constraints and key usage).
func checkIssuedBy(cert, issuer *x509.Certificate, what, cn string) error {
	if !strings.Contains(cert.Subject.CommonName, cn) {
		return fmt.Errorf("%s: common name %q does not contain %q", what, cert.Subject.CommonName, cn)
	}
	if !bytes.Equal(cert.RawIssuer, issuer.RawSubject) {
		return fmt.Errorf("%s: issuer %q is not %q", what, cert.Issuer, issuer.Subject)
	}
	if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return fmt.Errorf("%s: signature algorithm %v, want ECDSA-SHA256", what, cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("%s: signature by %q: %w", what, issuer.Subject.CommonName, err)
	}
	return nil
}

// keyID is a short fingerprint of a certificate's public key for messages.
func keyID(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(h[:8])
}
