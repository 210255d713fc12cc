package verify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"errors"
)

// verifyRS reports whether sig, a 64-byte r‖s pair (big-endian, dcap spec §1), is a valid
// ECDSA signature by pub of the SHA-256 digest.
func verifyRS(pub *ecdsa.PublicKey, digest []byte, sig *[64]byte) bool {
	var buf [72]byte
	return ecdsa.VerifyASN1(pub, digest, appendSigDER(buf[:0], sig))
}

// appendSigDER appends the ASN.1 DER form SEQUENCE { INTEGER r, INTEGER s } of an r‖s pair.
// A zero r or s encodes as INTEGER 0, which every verifier rejects.
func appendSigDER(b []byte, sig *[64]byte) []byte {
	r, s := trimInt(sig[:32]), trimInt(sig[32:])
	b = append(b, 0x30, byte(derIntLen(r)+derIntLen(s)))
	return appendDERInt(appendDERInt(b, r), s)
}

// trimInt drops leading zero bytes of an unsigned big-endian value, keeping at least one.
func trimInt(v []byte) []byte {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	return v
}

// derIntLen is the encoded size (tag, length, content) of trimInt output v.
func derIntLen(v []byte) int {
	if v[0]&0x80 != 0 {
		return 3 + len(v)
	}
	return 2 + len(v)
}

// appendDERInt appends the DER INTEGER of the unsigned value v (output of trimInt).
func appendDERInt(b, v []byte) []byte {
	if v[0]&0x80 != 0 {
		b = append(b, 0x02, byte(len(v)+1), 0)
	} else {
		b = append(b, 0x02, byte(len(v)))
	}
	return append(b, v...)
}

// p256Key converts a 64-byte X‖Y public key (dcap spec §1) to an ECDSA P-256 key, refusing
// points that are not on the curve.
func p256Key(xy *[64]byte) (*ecdsa.PublicKey, error) {
	var buf [65]byte
	buf[0] = 4
	copy(buf[1:], xy[:])
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), buf[:])
}

// certP256Key returns the certificate's public key if it is ECDSA P-256.
func certP256Key(c *x509.Certificate) (*ecdsa.PublicKey, error) {
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("public key is not ECDSA P-256")
	}
	return k, nil
}

func digest(b []byte) []byte {
	d := sha256.Sum256(b)
	return d[:]
}
