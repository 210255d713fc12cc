package verify

// Forge helpers: a throw-away test PKI that re-roots a real quote and re-signs real collateral,
// so that any certificate, CRL or document field can be changed for a negative case. They are
// deliberately small; package sim will replace them.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// forge holds a test root, a PCK CA, a TCB Signing certificate and a PCK leaf carrying the
// SGX extension of a real vector's PCK certificate, plus that vector's quote and collateral.
type forge struct {
	t                                 testing.TB
	rootKey, caKey, signKey, pckKey   *ecdsa.PrivateKey
	root, ca, signer                  *x509.Certificate
	real                              *quote.Quote
	realBundle                        *pcs.Bundle
	realExt                           *pcs.PCKExtensions
	caCN                              string
	certFrom, certUntil               time.Time
	nextSerial                        int64
	pckSerial, caSerial, signerSerial *big.Int
}

// leafSpec overrides fields of the forged PCK certificate.
type leafSpec struct {
	cn       string                   // default "Intel SGX PCK Certificate"
	notAfter time.Time                // default: the forge's certUntil
	ext      func(*pcs.PCKExtensions) // edits a copy of the real PCK's SGX extension
	badSig   bool                     // corrupt the CA's signature
}

// bundleSpec overrides the forged collateral.
type bundleSpec struct {
	revokePCK, revokeCA, revokeSigner bool
	rootCRLWindow, pckCRLWindow       [2]time.Time // zero: a window around the vector's time
	pckCRLKey                         *ecdsa.PrivateKey
	tcbEdit, qeEdit                   func([]byte) []byte // edits of the real signed JSON
	tcbKey                            *ecdsa.PrivateKey   // default: the TCB Signing key
}

func newForge(t testing.TB, quoteName, collName string) *forge {
	t.Helper()
	f := &forge{t: t, real: parseQuote(t, readQuote(t, quoteName)), realBundle: loadBundle(t, collName),
		certFrom: mustTime(t, "2020-01-01T00:00:00Z"), certUntil: mustTime(t, "2040-01-01T00:00:00Z")}
	realChain, err := pcs.ParseChainPEM(f.real.CertData)
	if err != nil {
		t.Fatal(err)
	}
	if f.realExt, err = pcs.ParsePCKExtensions(realChain[0]); err != nil {
		t.Fatal(err)
	}
	f.caCN = realChain[1].Subject.CommonName
	f.rootKey, f.caKey, f.signKey, f.pckKey = newKey(t), newKey(t), newKey(t), newKey(t)
	f.root = f.cert(&x509.Certificate{Subject: name("Test SGX Root CA"), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, f.rootKey, f.rootKey)
	f.ca = f.cert(&x509.Certificate{Subject: name(f.caCN), IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, f.root, f.caKey, f.rootKey)
	f.signer = f.cert(&x509.Certificate{Subject: name("Intel SGX TCB Signing"), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature}, f.root, f.signKey, f.rootKey)
	f.caSerial, f.signerSerial = f.ca.SerialNumber, f.signer.SerialNumber
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Test"}, Country: []string{"US"}}
}

// cert signs tmpl (self-signed when parent is nil) after filling serial and validity.
func (f *forge) cert(tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	f.t.Helper()
	f.nextSerial++
	tmpl.SerialNumber = big.NewInt(0x1000 + f.nextSerial)
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = f.certFrom
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = f.certUntil
	}
	tmpl.SignatureAlgorithm = x509.ECDSAWithSHA256
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		f.t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// leaf issues a PCK certificate for the forge's PCK key.
func (f *forge) leaf(s leafSpec) *x509.Certificate {
	f.t.Helper()
	ext := *f.realExt
	if s.ext != nil {
		s.ext(&ext)
	}
	der, err := pcs.MarshalPCKExtensions(&ext)
	if err != nil {
		f.t.Fatal(err)
	}
	cn := "Intel SGX PCK Certificate"
	if s.cn != "" {
		cn = s.cn
	}
	// Like Intel's, the leaf carries AKI (from the CA), SKI, CRL distribution points, key usage
	// and basic constraints: QVL requires them (pcs.CheckPCKLeafExtensions).
	pub, err := f.pckKey.PublicKey.Bytes()
	if err != nil {
		f.t.Fatal(err)
	}
	ski := sha256.Sum256(pub)
	c := f.cert(&x509.Certificate{Subject: name(cn), NotAfter: s.notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, SubjectKeyId: ski[:20],
		CRLDistributionPoints: []string{"https://pcs.test/sgx/certification/v4/pckcrl?ca=processor&encoding=der"},
		ExtraExtensions:       []pkix.Extension{{Id: pcs.OIDSGXExtensions, Value: der}}}, f.ca, f.pckKey, f.caKey)
	f.pckSerial = c.SerialNumber
	if s.badSig { // the last DER byte belongs to the signature's s value
		raw := bytes.Clone(c.Raw)
		raw[len(raw)-1] ^= 1
		if c, err = x509.ParseCertificate(raw); err != nil {
			f.t.Fatal(err)
		}
	}
	return c
}

// quote re-roots the real quote: PCK chain leaf ‖ CA ‖ test root, QE report re-signed by the
// forged PCK key. The attestation key, binding and quote signature stay Intel's.
func (f *forge) quote(s leafSpec) []byte {
	f.t.Helper()
	q := *f.real
	var chain bytes.Buffer
	for _, c := range []*x509.Certificate{f.leaf(s), f.ca, f.root} {
		_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	q.CertData, q.CertDataType = chain.Bytes(), quote.CertDataPCKChain
	q.QEReportSignature = simtest.SignRS(f.t, f.pckKey, q.QEReportBytes())
	return q.Marshal()
}

// crl issues a CRL listing serials.
func (f *forge) crl(issuer *x509.Certificate, key *ecdsa.PrivateKey, window [2]time.Time, serials ...*big.Int) *x509.RevocationList {
	f.t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: window[0], NextUpdate: window[1],
		SignatureAlgorithm: x509.ECDSAWithSHA256}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: window[0]})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		f.t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		f.t.Fatal(err)
	}
	return crl
}

// bundle re-signs the real collateral under the test PKI. Call after quote (the PCK serial
// is needed for revocation).
func (f *forge) bundle(s bundleSpec) *pcs.Bundle {
	f.t.Helper()
	def := [2]time.Time{mustTime(f.t, "2025-01-01T00:00:00Z"), mustTime(f.t, "2027-01-01T00:00:00Z")}
	if s.rootCRLWindow[1].IsZero() {
		s.rootCRLWindow = def
	}
	if s.pckCRLWindow[1].IsZero() {
		s.pckCRLWindow = def
	}
	var rootRevoked, pckRevoked []*big.Int
	if s.revokeCA {
		rootRevoked = append(rootRevoked, f.caSerial)
	}
	if s.revokeSigner {
		rootRevoked = append(rootRevoked, f.signerSerial)
	}
	if s.revokePCK {
		pckRevoked = append(pckRevoked, big.NewInt(7), f.pckSerial)
	}
	pckCRLKey := f.caKey
	if s.pckCRLKey != nil {
		pckCRLKey = s.pckCRLKey
	}
	signing := []*x509.Certificate{f.signer, f.root}
	return &pcs.Bundle{
		PCKCRLIssuerChain:     []*x509.Certificate{f.ca, f.root},
		RootCRL:               f.crl(f.root, f.rootKey, s.rootCRLWindow, rootRevoked...),
		PCKCRL:                f.crl(f.ca, pckCRLKey, s.pckCRLWindow, pckRevoked...),
		TCBInfoIssuerChain:    signing,
		TCBInfo:               f.tcbInfo(s),
		QEIdentityIssuerChain: signing,
		QEIdentity:            f.qeIdentity(s),
	}
}

func (f *forge) tcbInfo(s bundleSpec) *pcs.TCBInfo {
	f.t.Helper()
	raw, key := bytes.Clone(f.realBundle.TCBInfo.Raw), f.signKey
	if s.tcbEdit != nil {
		raw = s.tcbEdit(raw)
	}
	if s.tcbKey != nil {
		key = s.tcbKey
	}
	sig := simtest.SignRS(f.t, key, raw)
	t, err := pcs.ParseTCBInfoRaw(raw, hex.EncodeToString(sig[:]))
	if err != nil {
		f.t.Fatalf("forged tcb info: %v", err)
	}
	return t
}

func (f *forge) qeIdentity(s bundleSpec) *pcs.QEIdentity {
	f.t.Helper()
	raw := bytes.Clone(f.realBundle.QEIdentity.Raw)
	if s.qeEdit != nil {
		raw = s.qeEdit(raw)
	}
	sig := simtest.SignRS(f.t, f.signKey, raw)
	q, err := pcs.ParseQEIdentityRaw(raw, hex.EncodeToString(sig[:]))
	if err != nil {
		f.t.Fatalf("forged qe identity: %v", err)
	}
	return q
}

// replace returns an edit that replaces old by new exactly once (failing the test otherwise).
func replace(t testing.TB, old, new string) func([]byte) []byte {
	return func(b []byte) []byte {
		if bytes.Count(b, []byte(old)) != 1 {
			t.Fatalf("edit: %q occurs %d times", old, bytes.Count(b, []byte(old)))
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}
