package pcs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// fakePKI is an Intel-shaped PKI with our own keys, for revocation and trust tests that the
// real (Intel-signed) vectors cannot provide.
type fakePKI struct {
	root, ca, leaf, signer *x509.Certificate
	rootKey, caKey         *ecdsa.PrivateKey
}

var fakeEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newCert(t testing.TB, cn string, serial int64, isCA bool, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	return newCertEdit(t, cn, serial, isCA, parent, parentKey, key, nil)
}

// withPCKExtensions adds what Intel's PCK certificates carry besides key usage, basic
// constraints and the AKI (which crypto/x509 takes from the parent): an SKI and a CRL
// distribution point (CheckPCKLeafExtensions).
func withPCKExtensions(c *x509.Certificate) {
	c.SubjectKeyId = c.SerialNumber.Bytes()
	c.CRLDistributionPoints = []string{"https://pcs.test/sgx/certification/v4/pckcrl?ca=platform"}
}

// newCertEdit is newCert with edit applied to the template before signing.
func newCertEdit(t testing.TB, cn string, serial int64, isCA bool, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey, edit func(*x509.Certificate)) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Intel Corporation"}},
		NotBefore:             fakeEpoch,
		NotAfter:              fakeEpoch.AddDate(10, 0, 0),
		BasicConstraintsValid: true,
		IsCA:                  isCA,
		KeyUsage:              x509.KeyUsageDigitalSignature,
	}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if edit != nil {
		edit(tmpl)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newFakePKI(t testing.TB) *fakePKI {
	t.Helper()
	p := &fakePKI{rootKey: newKey(t), caKey: newKey(t)}
	p.root = newCert(t, "Intel SGX Root CA", 1, true, nil, nil, p.rootKey)
	p.ca = newCert(t, CNPlatformCA, 2, true, p.root, p.rootKey, p.caKey)
	p.leaf = newCertEdit(t, "Intel SGX PCK Certificate", 3, false, p.ca, p.caKey, newKey(t), withPCKExtensions)
	p.signer = newCert(t, "Intel SGX TCB Signing", 4, false, p.root, p.rootKey, newKey(t))
	return p
}

// crl issues a CRL by issuer revoking the given serials, valid for 30 days from fakeEpoch.
func (p *fakePKI) crl(t testing.TB, issuer *x509.Certificate, key *ecdsa.PrivateKey, serials ...int64) *x509.RevocationList {
	t.Helper()
	tmpl := &x509.RevocationList{
		Number:     big.NewInt(1),
		ThisUpdate: fakeEpoch,
		NextUpdate: fakeEpoch.AddDate(0, 0, 30),
	}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: fakeEpoch})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := ParseCRL(der)
	if err != nil {
		t.Fatal(err)
	}
	return crl
}
