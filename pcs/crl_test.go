package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
)

func TestParseCRLEncodings(t *testing.T) {
	der := testvectors.Read(t, "go-tdx-guest/pckcrl")
	h := hex.EncodeToString(der)
	pemText := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	tests := []struct {
		name string
		in   []byte
	}{
		{"DER", der},
		{"hex", []byte(h)},
		{"hex upper case", []byte(strings.ToUpper(h))},
		{"hex 0x and newline", []byte("0x" + h + "\n")},
		{"hex with NUL", []byte(h + "\x00")},
		{"PEM", pemText},
		{"PEM with NULs and blank lines", append(append([]byte("\n\n"), pemText...), 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			crl, err := ParseCRL(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(crl.Raw, der) {
				t.Error("Raw differs from the DER")
			}
			// vectors README: 44 entries, 2023-06-08T07:27:52Z → 2023-07-08T07:27:52Z.
			if n := len(crl.RevokedCertificateEntries); n != 44 {
				t.Errorf("%d entries, want 44", n)
			}
			if !crl.ThisUpdate.Equal(mustTime(t, "2023-06-08T07:27:52Z")) || !crl.NextUpdate.Equal(mustTime(t, "2023-07-08T07:27:52Z")) {
				t.Errorf("window %s..%s", crl.ThisUpdate, crl.NextUpdate)
			}
		})
	}
	root, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		t.Fatal(err)
	}
	if crlDoc(root) != DocRootCRL || len(root.RevokedCertificateEntries) != 0 {
		t.Errorf("root CRL: doc %s, %d entries", crlDoc(root), len(root.RevokedCertificateEntries))
	}
}

func TestParseCRLRejects(t *testing.T) {
	der := testvectors.Read(t, "go-tdx-guest/pckcrl")
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"whitespace", []byte(" \n\x00")},
		{"trailing byte after DER", append(bytes.Clone(der), 0)},
		{"truncated DER", der[:len(der)-1]},
		{"odd hex", []byte(hex.EncodeToString(der)[1:])},
		{"hex of garbage", []byte("00112233")},
		{"bare 0x", []byte("0x")},
		{"PEM wrong type", []byte(strings.ReplaceAll(pemText, "X509 CRL", "CERTIFICATE"))},
		{"PEM garbage before", []byte("hello\n" + pemText)},
		{"PEM garbage after", []byte(pemText + "hello")},
		{"two PEM blocks", []byte(pemText + pemText)},
		{"PEM with headers", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Headers: map[string]string{"A": "b"}, Bytes: der})},
		{"broken PEM", []byte("-----BEGIN X509 CRL-----\nAAAA\n")},
		{"certificate DER", testvectors.Read(t, intelRootDER)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCRL(tt.in)
			wantErr(t, err, KindFormat, "")
		})
	}
}

func TestVerifyCRLVectors(t *testing.T) {
	root := intelRoot(t)
	platformChain, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/pckCrlIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	platform := platformChain[0]
	pckCRL, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/pckcrl"))
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCRL(pckCRL, platform); err != nil {
		t.Errorf("PCK CRL: %v", err)
	}
	if err := VerifyCRL(rootCRL, root); err != nil {
		t.Errorf("root CRL: %v", err)
	}
	wantErr(t, VerifyCRL(rootCRL, platform), KindMismatch, DocPCKCRL)
	wantErr(t, VerifyCRL(pckCRL, root), KindMismatch, DocRootCRL)
	wantErr(t, VerifyCRL(nil, root), KindFormat, DocCRL)

	// Same CRL, processor CA: the SGX bundle's PCK CRL must not verify against the Platform CA.
	sgx := loadBundle(t, sgxCollateral)
	if err := VerifyCRL(sgx.PCKCRL, sgx.PCKCRLIssuerChain[0]); err != nil {
		t.Errorf("processor CRL: %v", err)
	}
	wantErr(t, VerifyCRL(sgx.PCKCRL, platform), KindMismatch, DocPCKCRL)

	// A tampered signature.
	bad := *pckCRL
	bad.Signature = bytes.Clone(bad.Signature)
	bad.Signature[len(bad.Signature)-1] ^= 1
	wantErr(t, VerifyCRL(&bad, platform), KindSignature, DocPCKCRL)
}

func TestVerifyCRLFake(t *testing.T) {
	p := newFakePKI(t)
	good := p.crl(t, p.ca, p.caKey)
	if err := VerifyCRL(good, p.ca); err != nil {
		t.Fatal(err)
	}
	// Same issuer name and key identifier, signed by another key.
	forged := p.crl(t, p.ca, newKey(t))
	forged.AuthorityKeyId = p.ca.SubjectKeyId
	wantErr(t, VerifyCRL(forged, p.ca), KindSignature, DocPCKCRL)
	noNumber := *good
	noNumber.Number = nil
	wantErr(t, VerifyCRL(&noNumber, p.ca), KindFormat, DocPCKCRL)
	noAKI := *good
	noAKI.AuthorityKeyId = nil
	wantErr(t, VerifyCRL(&noAKI, p.ca), KindFormat, DocPCKCRL)
	otherAKI := *good
	otherAKI.AuthorityKeyId = []byte{1, 2, 3}
	wantErr(t, VerifyCRL(&otherAKI, p.ca), KindMismatch, DocPCKCRL)
	noNext := *good
	noNext.NextUpdate = time.Time{}
	wantErr(t, VerifyCRL(&noNext, p.ca), KindFormat, DocPCKCRL)
	// A leaf cannot sign CRLs.
	leafKey := newKey(t)
	leaf := newCert(t, "Intel SGX PCK Certificate", 9, false, p.ca, p.caKey, leafKey)
	byLeaf := *good
	byLeaf.RawIssuer = leaf.RawSubject
	wantErr(t, VerifyCRL(&byLeaf, leaf), KindChain, DocPCKCRL)
}

func TestCheckCRLTime(t *testing.T) {
	crl, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/pckcrl"))
	if err != nil {
		t.Fatal(err)
	}
	this, next := crl.ThisUpdate, crl.NextUpdate
	tests := []struct {
		name string
		at   time.Time
		ok   bool
	}{
		{"thisUpdate", this, true},
		{"nextUpdate", next, true},
		{"inside", v5Time, true},
		{"before", this.Add(-time.Second), false},
		{"after", next.Add(time.Second), false},
		{"zero", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCRLTime(crl, tt.at)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, KindExpired, DocPCKCRL)
		})
	}
	wantErr(t, CheckCRLTime(nil, v5Time), KindFormat, DocCRL)
}

func TestCheckRevocation(t *testing.T) {
	crl, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/pckcrl"))
	if err != nil {
		t.Fatal(err)
	}
	listed := new(big.Int).Set(crl.RevokedCertificateEntries[7].SerialNumber)
	revoked := &x509.Certificate{SerialNumber: listed}
	wantErr(t, CheckRevocation(crl, revoked, DocPCKCert), KindRevoked, DocPCKCert)
	notListed := &x509.Certificate{SerialNumber: new(big.Int).Add(listed, big.NewInt(1))}
	if err := CheckRevocation(crl, notListed, DocPCKCert); err != nil {
		t.Errorf("unlisted serial: %v", err)
	}
	// The real PCK of V5 is not revoked (vectors README).
	if err := CheckRevocation(crl, pckChain(t, "go-tdx-guest/tdx_prod_quote_SPR_E4.dat")[0], DocPCKCert); err != nil {
		t.Errorf("V5 PCK: %v", err)
	}
	wantErr(t, CheckRevocation(nil, notListed, DocPCKCert), KindFormat, DocPCKCert)
	wantErr(t, CheckRevocation(crl, &x509.Certificate{}, DocPCKCert), KindFormat, DocPCKCert)
}
