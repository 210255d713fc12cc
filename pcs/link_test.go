package pcs

import (
	"crypto/x509"
	"encoding/asn1"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/quote"
)

// pckQuotes are the quote vectors whose PCK chains the link primitives must accept.
var pckQuotes = []string{
	"phala-dcap-qvl/sgx_quote",
	"phala-dcap-qvl/tdx_quote",
	"phala-dcap-qvl/tdx_quote_outdated",
	"go-tdx-guest/quote_v5_sample.dat",
	"go-tdx-guest/tdx_prod_quote_SPR_E4.dat",
}

func TestCheckIssued(t *testing.T) {
	p := newFakePKI(t)
	other := newFakePKI(t)
	sha384 := newCertEdit(t, "Intel SGX PCK Certificate", 10, false, p.ca, p.caKey, newKey(t), func(c *x509.Certificate) {
		c.SignatureAlgorithm = x509.ECDSAWithSHA384
	})
	notCA := newCert(t, CNPlatformCA, 11, false, p.root, p.rootKey, p.caKey)
	tests := []struct {
		name          string
		child, parent *x509.Certificate
		fragment      string
		kind          Kind // "" = accepted
	}{
		{"pck ca by root", p.ca, p.root, "CA", ""},
		{"leaf by ca", p.leaf, p.ca, CNFragmentPCKCert, ""},
		{"signer by root", p.signer, p.root, CNFragmentTCBSigning, ""},
		{"root by itself", p.root, p.root, CNFragmentRootCA, ""},
		{"no fragment", p.leaf, p.ca, "", ""},
		{"fragment missing", p.leaf, p.ca, CNFragmentTCBSigning, KindChain},
		{"fragment is case-sensitive", p.leaf, p.ca, "sgx pck certificate", KindChain},
		{"issuer is another name", p.leaf, p.root, CNFragmentPCKCert, KindChain},
		{"same names, other key", other.leaf, p.ca, CNFragmentPCKCert, KindSignature},
		{"look-alike root", p.ca, other.root, "", KindSignature},
		{"ECDSA-SHA384", sha384, p.ca, CNFragmentPCKCert, KindSignature},
		{"parent not a CA", p.leaf, notCA, CNFragmentPCKCert, KindChain},
		{"no child", nil, p.ca, "", KindChain},
		{"no parent", p.leaf, nil, "", KindChain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckIssued(tt.child, tt.parent, tt.fragment, DocPCKCert)
			if tt.kind == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.kind, DocPCKCert)
		})
	}
	// The real chains: every link of every vector.
	root := intelRoot(t)
	for _, name := range pckQuotes {
		chain := pckChain(t, name)
		for i, link := range []struct {
			child, parent *x509.Certificate
			fragment      string
		}{{chain[0], chain[1], CNFragmentPCKCert}, {chain[1], root, "SGX PCK"}, {chain[2], root, CNFragmentRootCA}} {
			if err := CheckIssued(link.child, link.parent, link.fragment, DocPCKCert); err != nil {
				t.Errorf("%s link %d: %v", name, i, err)
			}
		}
	}
}

func TestCheckTrustedRoot(t *testing.T) {
	p := newFakePKI(t)
	other := newFakePKI(t)
	// The same key under another name.
	renamed := newCert(t, "Intel SGX Root CA 2", 1, true, nil, nil, p.rootKey)
	if err := CheckTrustedRoot(p.root, p.root); err != nil {
		t.Fatal(err)
	}
	root := intelRoot(t)
	for _, name := range pckQuotes {
		if err := CheckTrustedRoot(pckChain(t, name)[2], root); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	wantErr(t, CheckTrustedRoot(other.root, p.root), KindUntrusted, DocRootCA)
	wantErr(t, CheckTrustedRoot(renamed, p.root), KindUntrusted, DocRootCA)
	wantErr(t, CheckTrustedRoot(p.root, root), KindUntrusted, DocRootCA)
	wantErr(t, CheckTrustedRoot(nil, p.root), KindChain, DocRootCA)
	wantErr(t, CheckTrustedRoot(p.root, nil), KindChain, DocRootCA)
}

// TestPCKLeafExtensions drops each standard extension QVL requires from a PCK certificate: the
// leaf check, CheckPCKLinks and VerifyPCKChain refuse it; the real vectors carry them all.
func TestPCKLeafExtensions(t *testing.T) {
	root := intelRoot(t)
	for _, name := range pckQuotes {
		chain := pckChain(t, name)
		if err := CheckPCKLeafExtensions(chain[0]); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := CheckPCKLinks(chain[0], chain[1], root); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	p := newFakePKI(t)
	rootCRL, pckCRL := p.crl(t, p.root, p.rootKey), p.crl(t, p.ca, p.caKey)
	// crypto/x509 takes a leaf's AKI from its parent's SKI: a copy of the CA without one signs
	// a leaf without AKI (same issuer name, same key).
	caNoSKI := *p.ca
	caNoSKI.SubjectKeyId = nil
	tests := []struct {
		name   string
		oid    asn1.ObjectIdentifier
		parent *x509.Certificate
		edit   func(*x509.Certificate)
	}{
		{"authority key identifier", asn1.ObjectIdentifier{2, 5, 29, 35}, &caNoSKI, nil},
		{"CRL distribution points", asn1.ObjectIdentifier{2, 5, 29, 31}, p.ca, func(c *x509.Certificate) { c.CRLDistributionPoints = nil }},
		{"subject key identifier", asn1.ObjectIdentifier{2, 5, 29, 14}, p.ca, func(c *x509.Certificate) { c.SubjectKeyId = nil }},
		{"key usage", asn1.ObjectIdentifier{2, 5, 29, 15}, p.ca, func(c *x509.Certificate) { c.KeyUsage = 0 }},
		{"basic constraints", asn1.ObjectIdentifier{2, 5, 29, 19}, p.ca, func(c *x509.Certificate) { c.BasicConstraintsValid = false }},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := newCertEdit(t, "Intel SGX PCK Certificate", int64(20+i), false, tt.parent, p.caKey, newKey(t), func(c *x509.Certificate) {
				withPCKExtensions(c)
				if tt.edit != nil {
					tt.edit(c)
				}
			})
			if hasExtension(leaf, tt.oid) || len(leaf.Extensions) != len(p.leaf.Extensions)-1 {
				t.Fatalf("the forged leaf still has the extension or lost another: %d extensions", len(leaf.Extensions))
			}
			if err := CheckIssued(leaf, p.ca, CNFragmentPCKCert, DocPCKCert); err != nil {
				t.Fatalf("the forged leaf is not otherwise valid: %v", err)
			}
			wantErr(t, CheckPCKLeafExtensions(leaf), KindFormat, DocPCKCert)
			_, err := CheckPCKLinks(leaf, p.ca, p.root)
			wantErr(t, err, KindFormat, DocPCKCert)
			_, err = VerifyPCKChain([]*x509.Certificate{leaf, p.ca, p.root}, p.root, rootCRL, pckCRL)
			wantErr(t, err, KindFormat, DocPCKCert)
		})
	}
	if ca, err := CheckPCKLinks(p.leaf, p.ca, p.root); err != nil || ca != CAPlatform {
		t.Errorf("complete fake leaf: %q, %v", ca, err)
	}
	wantErr(t, CheckPCKLeafExtensions(nil), KindChain, DocPCKCert)
	// The intermediate must be a PCK CA, by exact name and by signature.
	_, err := CheckPCKLinks(p.leaf, p.signer, p.root)
	wantErr(t, err, KindChain, DocPCKCA)
	other := newFakePKI(t)
	_, err = CheckPCKLinks(p.leaf, other.ca, p.root)
	wantErr(t, err, KindSignature, DocPCKCA)
}

func TestVerifyPCKCRLIssuerChain(t *testing.T) {
	root := intelRoot(t)
	for _, tt := range []struct {
		collateral string
		ca         CAType
	}{{sgxCollateral, CAProcessor}, {tdxCollateral, CAPlatform}, {tdxOutdatedCollateral, CAPlatform}} {
		t.Run(tt.collateral, func(t *testing.T) {
			b := loadBundle(t, tt.collateral)
			ca, err := VerifyPCKCRLIssuerChain(b.PCKCRLIssuerChain, root)
			if err != nil || ca != tt.ca {
				t.Fatalf("got %q, %v; want %q", ca, err, tt.ca)
			}
			if err := VerifyCRL(b.PCKCRL, b.PCKCRLIssuerChain[0]); err != nil {
				t.Errorf("PCK CRL against the returned issuer: %v", err)
			}
			tests := []struct {
				name  string
				chain []*x509.Certificate
				kind  Kind
				doc   Doc
			}{
				{"one certificate", b.PCKCRLIssuerChain[:1], KindChain, DocPCKCA},
				{"three certificates", append(b.PCKCRLIssuerChain[:2:2], root), KindChain, DocPCKCA},
				{"swapped", []*x509.Certificate{b.PCKCRLIssuerChain[1], b.PCKCRLIssuerChain[0]}, KindUntrusted, DocRootCA},
				{"tcb signing chain", b.TCBInfoIssuerChain, KindChain, DocPCKCA},
				{"root as its own PCK CA", []*x509.Certificate{root, root}, KindChain, DocPCKCA},
				{"missing ca", []*x509.Certificate{nil, root}, KindChain, DocPCKCA},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					_, err := VerifyPCKCRLIssuerChain(tc.chain, root)
					wantErr(t, err, tc.kind, tc.doc)
				})
			}
		})
	}
	chain, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/pckCrlIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyPCKCRLIssuerChain(chain, root); err != nil {
		t.Errorf("go-tdx-guest: %v", err)
	}
	// Under a look-alike root, and a CA signed by another key under the same names.
	p, other := newFakePKI(t), newFakePKI(t)
	if _, err := VerifyPCKCRLIssuerChain([]*x509.Certificate{p.ca, p.root}, p.root); err != nil {
		t.Fatalf("fake PKI: %v", err)
	}
	_, err = VerifyPCKCRLIssuerChain([]*x509.Certificate{p.ca, p.root}, root)
	wantErr(t, err, KindUntrusted, DocRootCA)
	_, err = VerifyPCKCRLIssuerChain([]*x509.Certificate{other.ca, p.root}, p.root)
	wantErr(t, err, KindSignature, DocPCKCA)
}

// TestQEIdentityCheckForAllocs: CheckFor runs on every bundle lookup of a collateral source; its
// success path allocates nothing.
func TestQEIdentityCheckForAllocs(t *testing.T) {
	q := &QEIdentity{ID: QEIDTDQE}
	if n := testing.AllocsPerRun(100, func() {
		if q.CheckFor(quote.TEETDX) != nil {
			t.Fatal("TD_QE refused for TDX")
		}
	}); n != 0 {
		t.Errorf("CheckFor allocates %v times per call", n)
	}
	wantErr(t, q.CheckFor(quote.TEE(7)), KindMismatch, DocQEIdentity)
}

func BenchmarkQEIdentityCheckFor(b *testing.B) {
	q := &QEIdentity{ID: QEIDQE}
	b.ReportAllocs()
	for b.Loop() {
		if q.CheckFor(quote.TEESGX) != nil {
			b.Fatal("QE refused for SGX")
		}
	}
}
