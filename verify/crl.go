package verify

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/secretprov/secretprov/pcs"
)

// revoked is the set of serial numbers (big-endian bytes as a string) listed by a CRL, built
// once when the CRL is checked so that a revocation check is one map lookup.
type revoked map[string]struct{}

func (r revoked) has(serial string) bool {
	_, ok := r[serial]
	return ok
}

// checkCRL verifies a CRL against its issuing certificate with pcs.VerifyCRL (dcap spec §3.5,
// §5.2 step 5: issuer name, CRL Number and Authority Key Identifier, nextUpdate, ECDSA-SHA256
// signature) and returns its revoked serials. Time is not judged here; the caller records
// ThisUpdate/NextUpdate.
func checkCRL(crl *x509.RevocationList, issuer *x509.Certificate, step string) (revoked, error) {
	if crl == nil {
		return nil, fail(ReasonCRLInvalid, step, errors.New("missing"))
	}
	if err := pcs.VerifyCRL(crl, issuer); err != nil {
		return nil, fail(ReasonCRLInvalid, step, err)
	}
	set := make(revoked, len(crl.RevokedCertificateEntries))
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber != nil {
			set[string(e.SerialNumber.Bytes())] = struct{}{}
		}
	}
	return set, nil
}

// checkRevocation is the per-quote part of dcap spec §5.2 steps 5–6 and §5.5 step 2: the PCK
// CRL must be the one of the quote's PCK CA, and neither that CA (root CA CRL) nor the PCK
// certificate (PCK CRL) may be revoked.
func checkRevocation(c *pckChain, col *collateral) error {
	if col.rootRevoked.has(c.interSerial) {
		return mismatch(ReasonPCKRevoked, "pck revocation", "pck ca certificate is revoked by the root ca crl",
			"not revoked", "serial "+serialHex(c.interSerial))
	}
	if !bytes.Equal(col.pckCRLIssuer.RawSubject, c.inter.RawSubject) ||
		!bytes.Equal(col.pckCRLIssuer.RawSubjectPublicKeyInfo, c.inter.RawSubjectPublicKeyInfo) {
		return mismatch(ReasonCollateralMismatch, "pck crl", "pck crl is not issued by the pck certificate's ca",
			c.inter.Subject.CommonName+" "+keyID(c.inter), col.pckCRLIssuer.Subject.CommonName+" "+keyID(col.pckCRLIssuer))
	}
	if col.pckRevoked.has(c.leafSerial) {
		return mismatch(ReasonPCKRevoked, "pck revocation", "pck certificate is revoked by the pck crl",
			"not revoked", "serial "+serialHex(c.leafSerial))
	}
	return nil
}

func serialHex(s string) string { return fmt.Sprintf("%x", s) }
