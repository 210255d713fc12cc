package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // RFC 5280 key identifier method 1, not a security use
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// Role names one certificate of the simulated PKI (dcap spec §3).
type Role string

// The certificates of the simulated PKI. Every PCK leaf has RolePCK; the platform name tells
// them apart.
const (
	RoleRoot        Role = "root"         // "Intel SGX Root CA", self-signed, pathlen 1
	RoleProcessorCA Role = "processor-ca" // "Intel SGX PCK Processor CA", pathlen 0
	RolePlatformCA  Role = "platform-ca"  // "Intel SGX PCK Platform CA", pathlen 0
	RoleTCBSigning  Role = "tcb-signing"  // "Intel SGX TCB Signing", signs TCB Info and QE Identity
	RolePCK         Role = "pck"          // "Intel SGX PCK Certificate", one per platform
)

// Subject names. The common names are Intel's, so that the verifier runs exactly the checks it
// runs on real chains (CN "contains" rules, exact CA names); the organisation and locality say,
// in every certificate and CRL issuer name, that this PKI is simulated.
const (
	Organization = "secretprov SIMULATED PKI - not Intel - never trust"
	Locality     = "SIMULATED"

	CNRoot       = "Intel SGX Root CA"
	CNTCBSigning = "Intel SGX TCB Signing"
	CNPCK        = "Intel SGX PCK Certificate"
)

// Distribution points written into the simulated certificates. The host is under the reserved
// .invalid top-level domain: nothing outside a test resolves it. PCSHandler serves the root CRL
// at RootCRLPath, the path of RootCRLURL, and both CRLs via "crl?uri=".
const (
	RootCRLURL  = "https://certificates.sim.secretprov.invalid/IntelSGXRootCA.der"
	RootCRLPath = "/IntelSGXRootCA.der"
	pckCRLURLv4 = "https://api.sim.secretprov.invalid/sgx/certification/v4/pckcrl?ca=%s&encoding=der"
)

// PCKCRLURL returns the distribution point of the PCK CRL of CA type ca, as written into PCK
// certificates.
func PCKCRLURL(ca pcs.CAType) string { return fmt.Sprintf(pckCRLURLv4, ca) }

// rootNotAfter is the Intel root's notAfter, the last instant an X.509 UTCTime can express.
var rootNotAfter = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)

// rootValidityFrom gives the root Intel's notAfter (encoded as UTCTime, like Intel's) while
// that leaves at least ten years, and thirty years otherwise.
func rootValidityFrom(notBefore time.Time) time.Duration {
	if d := rootNotAfter.Sub(notBefore); d >= 10*365*24*time.Hour {
		return d
	}
	return 30 * 365 * 24 * time.Hour
}

// Validity periods, close to Intel's (dcap spec §3).
const (
	caValidity         = 15 * 365 * 24 * time.Hour
	tcbSigningValidity = 7 * 365 * 24 * time.Hour
	pckValidity        = 7 * 365 * 24 * time.Hour
	// certBackdate is how long before the world's reference time the certificates become valid.
	certBackdate = 24 * time.Hour
)

var (
	oidCN                    = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO                     = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidL                     = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidST                    = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidC                     = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidExtSubjectKeyID       = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidExtKeyUsage           = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidExtBasicConstraints   = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidExtCRLNumber          = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidExtCRLReason          = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidExtCRLDistribution    = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidExtAuthorityKeyID     = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidSignatureECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	standardExtensionsInUse  = []asn1.ObjectIdentifier{oidExtAuthorityKeyID, oidExtCRLDistribution, oidExtSubjectKeyID, oidExtKeyUsage, oidExtBasicConstraints}
	keyUsageLeaf             = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	keyUsageCA               = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	errNoCertificateTemplate = fmt.Errorf("sim: pki: no certificate template")
)

// authority is a certificate with its private key.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sim: pki: generate key: %w", err)
	}
	return k, nil
}

// randomSerial returns 20 random bytes with a non-zero first byte, used as a serial number
// (and, for CAs, as the key identifier, as Intel does).
func randomSerial() ([]byte, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("sim: pki: serial: %w", err)
	}
	if b[0] == 0 {
		b[0] = 1
	}
	return b, nil
}

// simName is the subject of a simulated certificate: Intel's common name, marked simulated.
func simName(cn string) pkix.Name {
	return pkix.Name{
		CommonName:   cn,
		Organization: []string{Organization},
		Locality:     []string{Locality},
		Province:     []string{"CA"},
		Country:      []string{"US"},
	}
}

// rawName encodes n in Intel's attribute order (CN, O, L, ST, C) and string types (UTF8String,
// PrintableString for C), which crypto/x509 would not reproduce on its own.
func rawName(n pkix.Name) ([]byte, error) {
	var rdns pkix.RDNSequence
	add := func(oid asn1.ObjectIdentifier, tag int, values ...string) {
		for _, v := range values {
			rdns = append(rdns, pkix.RelativeDistinguishedNameSET{{
				Type:  oid,
				Value: asn1.RawValue{Tag: tag, Bytes: []byte(v)},
			}})
		}
	}
	if n.CommonName != "" {
		add(oidCN, asn1.TagUTF8String, n.CommonName)
	}
	add(oidO, asn1.TagUTF8String, n.Organization...)
	add(oidL, asn1.TagUTF8String, n.Locality...)
	add(oidST, asn1.TagUTF8String, n.Province...)
	add(oidC, asn1.TagPrintableString, n.Country...)
	b, err := asn1.Marshal(rdns)
	if err != nil {
		return nil, fmt.Errorf("sim: pki: name: %w", err)
	}
	return b, nil
}

// caTemplate is the template of the root or an intermediate CA: serial = key identifier, as in
// Intel's certificates.
func caTemplate(cn string, serial []byte, notBefore time.Time, validity time.Duration, pathLen int) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               simName(cn),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              keyUsageCA,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0,
		SubjectKeyId:          serial,
		CRLDistributionPoints: []string{RootCRLURL},
	}
}

// leafTemplate is the template of a TCB Signing or PCK certificate.
func leafTemplate(cn string, serial []byte, pub *ecdsa.PublicKey, notBefore time.Time, validity time.Duration, crlURL string) (*x509.Certificate, error) {
	ski, err := keyID(pub)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               simName(cn),
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(validity),
		KeyUsage:              keyUsageLeaf,
		BasicConstraintsValid: true,
		SubjectKeyId:          ski,
		CRLDistributionPoints: []string{crlURL},
	}, nil
}

// keyID is the RFC 5280 method-1 key identifier: SHA-1 of the subject public key bits.
func keyID(pub *ecdsa.PublicKey) ([]byte, error) {
	ecdhPub, err := pub.ECDH()
	if err != nil {
		return nil, fmt.Errorf("sim: pki: key identifier: %w", err)
	}
	h := sha1.Sum(ecdhPub.Bytes()) //nolint:gosec // identifier, not a security use
	return h[:], nil
}

// templateOf rebuilds a signable template from an issued certificate (for re-issuing it with
// changes). The standard extensions become template fields again; others are kept as they are.
func templateOf(c *x509.Certificate) *x509.Certificate {
	t := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(c.SerialNumber),
		Subject:               c.Subject,
		NotBefore:             c.NotBefore,
		NotAfter:              c.NotAfter,
		KeyUsage:              c.KeyUsage,
		BasicConstraintsValid: c.BasicConstraintsValid,
		IsCA:                  c.IsCA,
		MaxPathLen:            c.MaxPathLen,
		MaxPathLenZero:        c.MaxPathLenZero,
		SubjectKeyId:          append([]byte(nil), c.SubjectKeyId...),
		AuthorityKeyId:        append([]byte(nil), c.AuthorityKeyId...),
		CRLDistributionPoints: append([]string(nil), c.CRLDistributionPoints...),
	}
	if c.MaxPathLen == -1 {
		t.MaxPathLen = 0
	}
	for _, e := range c.Extensions {
		if !oidIn(e.Id, standardExtensionsInUse) {
			t.ExtraExtensions = append(t.ExtraExtensions, e)
		}
	}
	return t
}

func oidIn(id asn1.ObjectIdentifier, list []asn1.ObjectIdentifier) bool {
	for _, o := range list {
		if id.Equal(o) {
			return true
		}
	}
	return false
}

// issue signs tmpl for pub with the issuer's key (issuer nil: self-signed with selfKey). edit,
// if set, may change any field first. The extensions are written in Intel's order and
// encodings; the subject in Intel's attribute order and string types.
func issue(tmpl *x509.Certificate, pub *ecdsa.PublicKey, issuer *authority, selfKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (*x509.Certificate, error) {
	if tmpl == nil {
		return nil, errNoCertificateTemplate
	}
	parent, signer := issuer.certOrNil(), issuer.keyOrNil()
	if issuer == nil {
		parent, signer = tmpl, selfKey
	}
	if tmpl.AuthorityKeyId == nil {
		tmpl.AuthorityKeyId = parent.SubjectKeyId
	}
	if edit != nil {
		edit(tmpl)
	}
	exts, err := intelExtensions(tmpl)
	if err != nil {
		return nil, err
	}
	tmpl.ExtraExtensions = exts
	if tmpl.RawSubject == nil {
		if tmpl.RawSubject, err = rawName(tmpl.Subject); err != nil {
			return nil, err
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("sim: pki: sign %q: %w", tmpl.Subject.CommonName, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("sim: pki: parse %q: %w", tmpl.Subject.CommonName, err)
	}
	return c, nil
}

func (a *authority) certOrNil() *x509.Certificate {
	if a == nil {
		return nil
	}
	return a.cert
}

func (a *authority) keyOrNil() *ecdsa.PrivateKey {
	if a == nil {
		return nil
	}
	return a.key
}

// intelExtensions encodes the template's standard extensions in the order of Intel's
// certificates (AKI, CRL DP, SKI, key usage [critical], basic constraints [critical]) followed
// by the template's other extensions (the SGX extension of PCK certificates).
func intelExtensions(t *x509.Certificate) ([]pkix.Extension, error) {
	var exts []pkix.Extension
	add := func(id asn1.ObjectIdentifier, critical bool, v any) error {
		der, err := asn1.Marshal(v)
		if err != nil {
			return fmt.Errorf("sim: pki: extension %v: %w", id, err)
		}
		exts = append(exts, pkix.Extension{Id: id, Critical: critical, Value: der})
		return nil
	}
	type akid struct {
		ID []byte `asn1:"optional,tag:0"`
	}
	type basicConstraints struct {
		IsCA       bool `asn1:"optional"`
		MaxPathLen int  `asn1:"optional,default:-1"`
	}
	var steps []func() error
	if len(t.AuthorityKeyId) > 0 {
		steps = append(steps, func() error { return add(oidExtAuthorityKeyID, false, akid{t.AuthorityKeyId}) })
	}
	if len(t.CRLDistributionPoints) > 0 {
		steps = append(steps, func() error { return add(oidExtCRLDistribution, false, distributionPoints(t.CRLDistributionPoints)) })
	}
	if len(t.SubjectKeyId) > 0 {
		steps = append(steps, func() error { return add(oidExtSubjectKeyID, false, t.SubjectKeyId) })
	}
	if t.KeyUsage != 0 {
		steps = append(steps, func() error { return add(oidExtKeyUsage, true, keyUsageBits(t.KeyUsage)) })
	}
	if t.BasicConstraintsValid {
		pathLen := t.MaxPathLen
		if !t.IsCA || (pathLen == 0 && !t.MaxPathLenZero) {
			pathLen = -1
		}
		steps = append(steps, func() error { return add(oidExtBasicConstraints, true, basicConstraints{t.IsCA, pathLen}) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	for _, e := range t.ExtraExtensions {
		if !oidIn(e.Id, standardExtensionsInUse) {
			exts = append(exts, e)
		}
	}
	return exts, nil
}

// distributionPoints is the CRLDistributionPoints value: one distribution point per URI, each
// with a fullName of one uniformResourceIdentifier.
func distributionPoints(uris []string) []asn1.RawValue {
	out := make([]asn1.RawValue, 0, len(uris))
	for _, u := range uris {
		uri := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)}
		fullName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(uri)}
		dpName := asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: mustMarshal(fullName)}
		out = append(out, asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: mustMarshal(dpName)})
	}
	return out
}

// mustMarshal encodes a RawValue, which cannot fail.
func mustMarshal(v asn1.RawValue) []byte {
	b, err := asn1.Marshal(v)
	if err != nil {
		panic("sim: pki: marshal raw value: " + err.Error())
	}
	return b
}

// keyUsageBits is the KeyUsage BIT STRING: bit 0 (digitalSignature) is the most significant bit
// of the first byte; trailing zero bits are not counted.
func keyUsageBits(ku x509.KeyUsage) asn1.BitString {
	var b [2]byte
	for bit := range 9 {
		if ku&(1<<bit) != 0 {
			b[bit/8] |= 0x80 >> (bit % 8)
		}
	}
	n := 1
	if b[1] != 0 {
		n = 2
	}
	length := 0
	for i := n*8 - 1; i >= 0; i-- {
		if b[i/8]&(0x80>>(i%8)) != 0 {
			length = i + 1
			break
		}
	}
	return asn1.BitString{Bytes: b[:n], BitLength: length}
}
