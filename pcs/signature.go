package pcs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
)

// checkDocSignature verifies an ECDSA P-256 / SHA-256 r||s signature over raw.
func checkDocSignature(doc Doc, raw []byte, sig *[64]byte, signer *x509.Certificate) error {
	if signer == nil {
		return newErr(KindSignature, doc, "no signer certificate", nil)
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return newErr(KindSignature, doc, "signer key is not ECDSA P-256", nil)
	}
	digest := sha256.Sum256(raw)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return newErr(KindSignature, doc, "signature does not verify", nil)
	}
	return nil
}
