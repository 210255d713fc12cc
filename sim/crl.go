package sim

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"
)

// Validity of the root CA CRL (Intel's is about a year, dcap spec §3.5).
const rootCRLValidity = 365 * 24 * time.Hour

// crlReasonKeyCompromise is the CRL reason code Intel writes on revoked PCK certificates.
const crlReasonKeyCompromise = 1

// revocation is one CRL entry.
type revocation struct {
	serial *big.Int
	date   time.Time
}

// crlSpec is everything a CRL is made of; signCRL turns it into DER.
type crlSpec struct {
	issuer     *authority
	number     *big.Int
	thisUpdate time.Time
	nextUpdate time.Time
	revoked    []revocation
}

type crlEntry struct {
	Serial     *big.Int
	Date       time.Time
	Extensions []pkix.Extension `asn1:"optional,omitempty"`
}

type tbsCRL struct {
	Version    int
	Signature  pkix.AlgorithmIdentifier
	Issuer     asn1.RawValue
	ThisUpdate time.Time
	NextUpdate time.Time
	Revoked    []crlEntry       `asn1:"optional,omitempty"`
	Extensions []pkix.Extension `asn1:"tag:0,optional,explicit"`
}

type signedCRL struct {
	TBS       asn1.RawValue
	Algorithm pkix.AlgorithmIdentifier
	Signature asn1.BitString
}

// signCRL builds and signs a CRL the way Intel's are laid out (dcap spec §3.5): version 2,
// ecdsa-with-SHA256, issuer = the issuing certificate's raw subject, extensions CRL Number then
// Authority Key Identifier, entries with a keyCompromise reason code. crypto/x509 writes the two
// CRL extensions in the opposite order, so the DER is assembled here.
func signCRL(s crlSpec) (*x509.RevocationList, error) {
	num, err := asn1.Marshal(s.number)
	if err != nil {
		return nil, fmt.Errorf("sim: crl: number: %w", err)
	}
	aki, err := asn1.Marshal(struct {
		ID []byte `asn1:"optional,tag:0"`
	}{s.issuer.cert.SubjectKeyId})
	if err != nil {
		return nil, fmt.Errorf("sim: crl: authority key identifier: %w", err)
	}
	reason, err := asn1.Marshal(asn1.Enumerated(crlReasonKeyCompromise))
	if err != nil {
		return nil, fmt.Errorf("sim: crl: reason: %w", err)
	}
	tbs := tbsCRL{
		Version:    1,
		Signature:  pkix.AlgorithmIdentifier{Algorithm: oidSignatureECDSASHA256},
		Issuer:     asn1.RawValue{FullBytes: s.issuer.cert.RawSubject},
		ThisUpdate: s.thisUpdate.UTC(),
		NextUpdate: s.nextUpdate.UTC(),
		Extensions: []pkix.Extension{{Id: oidExtCRLNumber, Value: num}, {Id: oidExtAuthorityKeyID, Value: aki}},
	}
	for _, r := range s.revoked {
		tbs.Revoked = append(tbs.Revoked, crlEntry{
			Serial: r.serial, Date: r.date.UTC(),
			Extensions: []pkix.Extension{{Id: oidExtCRLReason, Value: reason}},
		})
	}
	tbsDER, err := asn1.Marshal(tbs)
	if err != nil {
		return nil, fmt.Errorf("sim: crl: encode: %w", err)
	}
	sig, err := signDER(s.issuer.key, tbsDER)
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(signedCRL{
		TBS:       asn1.RawValue{FullBytes: tbsDER},
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidSignatureECDSASHA256},
		Signature: asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		return nil, fmt.Errorf("sim: crl: encode: %w", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("sim: crl: parse: %w", err)
	}
	return crl, nil
}

// signDER returns the ASN.1 ECDSA-SHA256 signature of b.
func signDER(key *ecdsa.PrivateKey, b []byte) ([]byte, error) {
	h := sha256.Sum256(b)
	sig, err := ecdsa.SignASN1(rand.Reader, key, h[:])
	if err != nil {
		return nil, fmt.Errorf("sim: sign: %w", err)
	}
	return sig, nil
}

// crlSpecOf recovers the spec of an issued CRL, to re-sign it with changes.
func crlSpecOf(crl *x509.RevocationList, issuer *authority) crlSpec {
	s := crlSpec{
		issuer:     issuer,
		number:     new(big.Int).Set(crl.Number),
		thisUpdate: crl.ThisUpdate,
		nextUpdate: crl.NextUpdate,
	}
	for _, e := range crl.RevokedCertificateEntries {
		s.revoked = append(s.revoked, revocation{serial: new(big.Int).Set(e.SerialNumber), date: e.RevocationTime})
	}
	return s
}

// revokes reports whether crl lists serial.
func revokes(crl *x509.RevocationList, serial *big.Int) bool {
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}

func bigOne() *big.Int { return big.NewInt(1) }

func bigOf(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
