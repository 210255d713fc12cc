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

// checkPCKChain parses the PEM chain leaf ‖ intermediate ‖ root and verifies it up to root:
// the presented root is the trusted one, and pcs.CheckPCKLinks holds (Processor or Platform CA,
// names, signatures, the PCK certificate's required extensions).
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
	if err := pcs.CheckTrustedRoot(certs[2], root); err != nil {
		return nil, chainError(ReasonPCKChainInvalid, stepPCKChain, err, certs, root)
	}
	ca, err := pcs.CheckPCKLinks(leaf, inter, root)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, err)
	}
	return newPCKChain(leaf, inter, root, ca)
}

func newPCKChain(leaf, inter, root *x509.Certificate, ca pcs.CAType) (*pckChain, error) {
	key, err := certP256Key(leaf)
	if err != nil {
		return nil, fail(ReasonPCKChainInvalid, stepPCKChain, fmt.Errorf("pck certificate: %w", err))
	}
	ext, err := pcs.ParsePCKExtensions(leaf)
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

// chainError maps a pcs chain error to reason r. A chain that does not end in the trusted root
// is reported with both root keys (a verifier configured with another root is the usual cause).
func chainError(r Reason, step string, err error, chain []*x509.Certificate, root *x509.Certificate) *Error {
	if !errors.Is(err, pcs.ErrUntrusted) || len(chain) == 0 {
		return fail(r, step, err)
	}
	return mismatch(r, step, "chain does not end in the trusted root",
		"root key "+keyID(root), "root key "+keyID(chain[len(chain)-1]))
}

// keyID is a short fingerprint of a certificate's public key for messages.
func keyID(c *x509.Certificate) string {
	if c == nil {
		return "(none)"
	}
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(h[:8])
}
