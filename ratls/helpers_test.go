package ratls

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// testTime is the verification time of the tests; the test double only checks it is not zero.
var testTime = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

var (
	mrEnclaveA = quote.Measurement{0xaa, 0x01, 0x02}
	mrEnclaveB = quote.Measurement{0xbb, 0x01, 0x02}
	mrSignerA  = quote.Measurement{0x5a, 0x11}
)

// testReport returns a production-like SGX enclave report: INITIALIZED | MODE64BIT.
func testReport(mr quote.Measurement) quote.EnclaveReport {
	r := quote.EnclaveReport{MREnclave: mr, MRSigner: mrSignerA, ISVProdID: 7, ISVSVN: 3}
	r.Attributes[0] = flagInitialized | flagMode64Bit
	r.Attributes[8] = 0x03 // XFRM x87|SSE
	return r
}

// testQuoteStruct builds a structurally valid SGX v3 quote. Its "signature" is SHA-512 of the
// signed data, which fakeVerifier checks, so that tampering with the body is detected.
func testQuoteStruct(r quote.EnclaveReport, certData []byte) *quote.Quote {
	if certData == nil {
		certData = []byte("-----BEGIN CERTIFICATE-----\nnot a real PCK chain\n-----END CERTIFICATE-----\n")
	}
	q := &quote.Quote{
		Header: quote.Header{
			Version: 3, AttestationKeyType: quote.AttestationKeyECDSAP256, TEE: quote.TEESGX,
			QESVN: 8, PCESVN: 13, QEVendorID: quote.IntelQEVendorID(),
		},
		BodyType:     quote.BodyTypeSGX,
		SGX:          &r,
		CertDataType: quote.CertDataPCKChain,
		CertData:     certData,
	}
	q.Signature = fakeSignature(q)
	return q
}

func testQuote(r quote.EnclaveReport) []byte { return testQuoteStruct(r, nil).Marshal() }

func fakeSignature(q *quote.Quote) [64]byte { return sha512.Sum512(q.SignedData()) }

func reportDataFor(b []byte) [64]byte {
	var rd [64]byte
	h := sha256.Sum256(b)
	copy(rd[:], h[:])
	return rd
}

// fakeAttester quotes its report with the requested report data.
type fakeAttester struct {
	report   quote.EnclaveReport
	certData []byte
	err      error
	calls    atomic.Int32
	// wrongReportData makes it ignore the requested report data.
	wrongReportData bool
}

func newAttester(mr quote.Measurement) *fakeAttester { return &fakeAttester{report: testReport(mr)} }

func (a *fakeAttester) Quote(ctx context.Context, rd [64]byte) ([]byte, error) {
	a.calls.Add(1)
	if a.err != nil {
		return nil, a.err
	}
	r := a.report
	if !a.wrongReportData {
		r.ReportData = rd
	}
	return testQuoteStruct(r, a.certData).Marshal(), nil
}

// fakeVerifier stands in for *verify.Verifier: it checks the fake signature and returns a
// Result whose identity comes from the parsed quote.
type fakeVerifier struct {
	status  pcs.TCBStatus
	expired bool
	err     error
	nilRes  bool
	block   bool // wait for the context to end
	calls   atomic.Int32
}

func newVerifier() *fakeVerifier { return &fakeVerifier{status: pcs.StatusUpToDate} }

func (v *fakeVerifier) Verify(ctx context.Context, q *quote.Quote, at time.Time) (*verify.Result, error) {
	v.calls.Add(1)
	if at.IsZero() {
		return nil, errors.New("fake verifier: zero time")
	}
	if v.block {
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &verify.Result{TEE: q.Header.TEE.String(), QuoteVersion: int(q.Header.Version),
		TCBStatus: v.status, CollateralExpired: v.expired, SGX: q.SGX, TDX: q.TDX}
	switch {
	case v.err != nil:
		return res, v.err
	case v.nilRes:
		return nil, nil
	case q.Signature != fakeSignature(q):
		return res, &verify.Error{Reason: verify.ReasonQuoteSignatureInvalid, Step: "quote signature"}
	}
	return res, nil
}

var _ QuoteVerifier = (*verify.Verifier)(nil)

// Keys are expensive (RSA especially): generate each kind once.
var (
	keysOnce sync.Once
	keyP256  *ecdsa.PrivateKey
	keyP384  *ecdsa.PrivateKey
	keyP521  *ecdsa.PrivateKey
	keyRSA3k *rsa.PrivateKey
	keyRSA2k *rsa.PrivateKey
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		keyP256, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keyP384, _ = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		keyP521, _ = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		keyRSA3k, _ = rsa.GenerateKey(rand.Reader, 3072)
		keyRSA2k, _ = rsa.GenerateKey(rand.Reader, 2048)
	})
}

func spkiOf(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	b, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// certParts are the ingredients of a hand-made RA-TLS certificate.
type certParts struct {
	key  crypto.Signer
	exts []pkix.Extension
}

// makeCert signs a certificate with arbitrary extensions (the signature algorithm is chosen by
// crypto/x509, so Ed25519 and others work too).
func makeCert(t testing.TB, p certParts) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), RawSubject: gramineName,
		NotBefore: DefaultNotBefore, NotAfter: DefaultNotAfter, ExtraExtensions: p.exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, p.key.Public(), p.key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// legacyExt returns a legacy extension whose quote binds spki, for the given report.
func legacyExt(spki []byte, r quote.EnclaveReport) pkix.Extension {
	r.ReportData = reportDataFor(spki)
	return pkix.Extension{Id: OIDLegacyQuote, Value: testQuote(r)}
}

// tcgExt returns a TCG extension binding spki with the given report.
func tcgExt(t testing.TB, spki []byte, r quote.EnclaveReport) pkix.Extension {
	t.Helper()
	claims, err := encodeClaims(spki)
	if err != nil {
		t.Fatal(err)
	}
	return tcgExtClaims(t, claims, r)
}

// tcgExtClaims wraps arbitrary claims bytes with a quote that binds them.
func tcgExtClaims(t testing.TB, claims []byte, r quote.EnclaveReport) pkix.Extension {
	t.Helper()
	r.ReportData = reportDataFor(claims)
	ev, err := encodeTaggedEvidence(testQuote(r), claims)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: OIDTaggedEvidence, Value: ev}
}

// newRATLS creates a certificate with NewCertificate and the fake attester.
func newRATLS(t testing.TB, mr quote.Measurement, opts ...CreateOption) *tls.Certificate {
	t.Helper()
	c, err := NewCertificate(context.Background(), newAttester(mr), opts...)
	if err != nil {
		t.Fatalf("NewCertificate: %v", err)
	}
	return c
}

// gramineFind emulates Gramine's find_oid_in_cert_extensions (spec §1.7): memmem for the OID
// pattern, an optional critical=FALSE, then 04 82 hh ll and a length of 128..8192.
func gramineFind(exts, oidTLV []byte) ([]byte, bool) {
	i := bytes.Index(exts, oidTLV)
	if i < 0 {
		return nil, false
	}
	p := exts[i+len(oidTLV):]
	if bytes.HasPrefix(p, []byte{0x01, 0x01, 0x00}) {
		p = p[3:]
	}
	if len(p) < 4 || p[0] != 0x04 || p[1] != 0x82 {
		return nil, false
	}
	n := int(p[2])<<8 | int(p[3])
	if n < 128 || n > 8192 || len(p) < 4+n {
		return nil, false
	}
	return p[4 : 4+n], true
}

func parseQuoteT(t testing.TB, b []byte) *quote.Quote {
	t.Helper()
	q, err := quote.Parse(b)
	if err != nil {
		t.Fatalf("quote: %v", err)
	}
	return q
}
