package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
)

// TestIntelRootFingerprint pins the trust anchor the tests rely on (dcap spec §3.1).
func TestIntelRootFingerprint(t *testing.T) {
	const want = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
	sum := sha256.Sum256(testvectors.Read(t, intelRootDER))
	if got := hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("Intel root SHA-256 = %s, want %s", got, want)
	}
	// dcap spec §3.1: the public key the QvE hard-codes.
	const key = "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f5" +
		"67918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394"
	pub, err := intelRoot(t).PublicKey.(*ecdsa.PublicKey).Bytes()
	if err != nil || hex.EncodeToString(pub) != key {
		t.Errorf("Intel root key = %x, %v", pub, err)
	}
	for _, name := range []string{"go-tdx-guest/trusted_root.pem", "intel-root/intel_sgx_root_ca.pem"} {
		chain, err := ParseChainPEM(testvectors.Read(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if s := sha256.Sum256(chain[0].Raw); hex.EncodeToString(s[:]) != want {
			t.Errorf("%s is another certificate", name)
		}
	}
}

func TestParseChainPEM(t *testing.T) {
	for _, name := range []string{"tcbInfoIssuerChain", "qeIdentityIssuerChain", "pckCrlIssuerChain"} {
		t.Run(name, func(t *testing.T) {
			fromPEM, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/"+name+".pem"))
			if err != nil {
				t.Fatal(err)
			}
			fromHeader, err := ParseIssuerChainHeader(string(testvectors.Read(t, "go-tdx-guest/"+name+".urlencoded.txt")))
			if err != nil {
				t.Fatal(err)
			}
			if len(fromPEM) != 2 || len(fromHeader) != 2 {
				t.Fatalf("%d and %d certificates, want 2", len(fromPEM), len(fromHeader))
			}
			for i := range fromPEM {
				if !bytes.Equal(fromPEM[i].Raw, fromHeader[i].Raw) {
					t.Errorf("certificate %d differs", i)
				}
			}
			if !fromPEM[1].Equal(intelRoot(t)) {
				t.Error("second certificate is not the Intel root")
			}
		})
	}
	// The quote's certification data ends in a NUL (vectors README V1).
	q := testvectors.Read(t, "phala-dcap-qvl/sgx_quote")
	start := bytes.Index(q, []byte("-----BEGIN CERTIFICATE-----"))
	end := bytes.LastIndex(q, []byte("-----END CERTIFICATE-----")) + len("-----END CERTIFICATE-----")
	withNUL := q[start : end+2]
	if !bytes.HasSuffix(withNUL, []byte{0}) {
		t.Fatalf("vector: chain is followed by %q", withNUL[len(withNUL)-2:])
	}
	if chain, err := ParseChainPEM(withNUL); err != nil || len(chain) != 3 {
		t.Fatalf("chain with trailing NUL: %d certificates, %v", len(chain), err)
	}
}

func TestParseChainPEMRejects(t *testing.T) {
	good := string(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	root := testvectors.Read(t, intelRootDER)
	block := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root}))
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only NULs", "\x00\x00"},
		{"garbage before", "x" + good},
		{"garbage between", block + "junk\n" + block},
		{"garbage after", good + "junk"},
		{"NUL between", block + "\x00" + block},
		{"private key block", strings.Replace(block, "CERTIFICATE", "PRIVATE KEY", 2)},
		{"CRL block", strings.Replace(block, "CERTIFICATE", "X509 CRL", 2)},
		{"headers", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: root}))},
		{"bad DER", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root[:100]}))},
		{"unterminated", block[:len(block)-30]},
		{"nine certificates", strings.Repeat(block, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseChainPEM([]byte(tt.in))
			wantErr(t, err, KindFormat, DocChain)
		})
	}
	if _, err := ParseChainPEM([]byte(strings.Repeat(block, 8))); err != nil {
		t.Errorf("eight certificates: %v", err)
	}
	for name, v := range map[string]string{"bad escape": "%zz", "empty": "", "PEM garbage": "%41%42"} {
		t.Run("header "+name, func(t *testing.T) {
			_, err := ParseIssuerChainHeader(v)
			wantErr(t, err, KindFormat, DocChain)
		})
	}
	// An unescaped header value (some proxies decode it) is still accepted.
	if _, err := ParseIssuerChainHeader(good); err != nil {
		t.Errorf("plain PEM header: %v", err)
	}
}

func TestVerifyTCBSigningChainVectors(t *testing.T) {
	root := intelRoot(t)
	for _, name := range []string{sgxCollateral, tdxCollateral, tdxOutdatedCollateral} {
		t.Run(name, func(t *testing.T) {
			b := loadBundle(t, name)
			for _, chain := range [][]*x509.Certificate{b.TCBInfoIssuerChain, b.QEIdentityIssuerChain} {
				if err := VerifyTCBSigningChain(chain, root, b.RootCRL); err != nil {
					t.Error(err)
				}
			}
			tests := []struct {
				name  string
				chain []*x509.Certificate
				crl   *x509.RevocationList
				kind  Kind
				doc   Doc
			}{
				{"one certificate", b.TCBInfoIssuerChain[:1], b.RootCRL, KindChain, DocTCBSigningCert},
				{"three certificates", append(b.TCBInfoIssuerChain[:2:2], root), b.RootCRL, KindChain, DocTCBSigningCert},
				{"swapped", []*x509.Certificate{b.TCBInfoIssuerChain[1], b.TCBInfoIssuerChain[0]}, b.RootCRL, KindChain, DocRootCA},
				{"PCK CA instead of signer", b.PCKCRLIssuerChain, b.RootCRL, KindChain, DocTCBSigningCert},
				{"PCK CRL as root CRL", b.TCBInfoIssuerChain, b.PCKCRL, KindMismatch, DocRootCRL},
				{"no root CRL", b.TCBInfoIssuerChain, nil, KindFormat, DocCRL},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					wantErr(t, VerifyTCBSigningChain(tt.chain, root, tt.crl), tt.kind, tt.doc)
				})
			}
		})
	}
	// go-tdx-guest: 2018 TCB Signing issuance with the 2023 root CRL.
	chain, err := ParseChainPEM(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyTCBSigningChain(chain, root, rootCRL); err != nil {
		t.Error(err)
	}
}

func TestVerifyTCBSigningChainFake(t *testing.T) {
	p := newFakePKI(t)
	rootCRL := p.crl(t, p.root, p.rootKey)
	chain := []*x509.Certificate{p.signer, p.root}
	if err := VerifyTCBSigningChain(chain, p.root, rootCRL); err != nil {
		t.Fatalf("fake PKI: %v", err)
	}
	revoking := p.crl(t, p.root, p.rootKey, p.signer.SerialNumber.Int64())
	wantErr(t, VerifyTCBSigningChain(chain, p.root, revoking), KindRevoked, DocTCBSigningCert)
	// A look-alike root (same name, other key) is not the trusted Intel root.
	wantErr(t, VerifyTCBSigningChain(chain, intelRoot(t), rootCRL), KindUntrusted, DocRootCA)
	// A signer issued by another key under the same root name.
	other := newFakePKI(t)
	wantErr(t, VerifyTCBSigningChain([]*x509.Certificate{other.signer, p.root}, p.root, rootCRL), KindSignature, DocTCBSigningCert)
	// A root CRL signed by a look-alike root.
	wantErr(t, VerifyTCBSigningChain(chain, p.root, other.crl(t, other.root, other.rootKey)), KindMismatch, DocRootCRL)
}

func TestVerifyPCKChainVectors(t *testing.T) {
	root := intelRoot(t)
	tests := []struct {
		quote, collateral string
		ca                CAType
	}{
		{"phala-dcap-qvl/sgx_quote", sgxCollateral, CAProcessor},
		{"phala-dcap-qvl/tdx_quote", tdxCollateral, CAPlatform},
		{"phala-dcap-qvl/tdx_quote_outdated", tdxOutdatedCollateral, CAPlatform},
		{"go-tdx-guest/quote_v5_sample.dat", tdxOutdatedCollateral, CAPlatform},
	}
	for _, tt := range tests {
		t.Run(tt.quote, func(t *testing.T) {
			b := loadBundle(t, tt.collateral)
			chain := pckChain(t, tt.quote)
			ca, err := VerifyPCKChain(chain, root, b.RootCRL, b.PCKCRL)
			if err != nil || ca != tt.ca {
				t.Fatalf("got %q, %v; want %q", ca, err, tt.ca)
			}
			_, err = VerifyPCKChain(chain[:2], root, b.RootCRL, b.PCKCRL)
			wantErr(t, err, KindChain, DocPCKCert)
			_, err = VerifyPCKChain([]*x509.Certificate{chain[0], chain[0], chain[2]}, root, b.RootCRL, b.PCKCRL)
			wantErr(t, err, KindChain, DocPCKCA)
			_, err = VerifyPCKChain(chain, root, b.PCKCRL, b.PCKCRL)
			wantErr(t, err, KindMismatch, DocRootCRL)
			_, err = VerifyPCKChain(chain, root, b.RootCRL, b.RootCRL)
			wantErr(t, err, KindMismatch, DocPCKCRL)
		})
	}
	// The SGX quote's Processor-CA PCK against the Platform CA's CRL.
	sgx := pckChain(t, "phala-dcap-qvl/sgx_quote")
	tdx := loadBundle(t, tdxCollateral)
	_, err := VerifyPCKChain(sgx, root, tdx.RootCRL, tdx.PCKCRL)
	wantErr(t, err, KindMismatch, DocPCKCRL)
	// go-tdx-guest V5 with its own CRLs.
	pckCRL, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/pckcrl"))
	if err != nil {
		t.Fatal(err)
	}
	rootCRL, err := ParseCRL(testvectors.Read(t, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyPCKChain(pckChain(t, "go-tdx-guest/tdx_prod_quote_SPR_E4.dat"), root, rootCRL, pckCRL); err != nil {
		t.Errorf("V5: %v", err)
	}
}

func TestVerifyPCKChainFake(t *testing.T) {
	p := newFakePKI(t)
	chain := []*x509.Certificate{p.leaf, p.ca, p.root}
	rootCRL := p.crl(t, p.root, p.rootKey)
	pckCRL := p.crl(t, p.ca, p.caKey)
	if ca, err := VerifyPCKChain(chain, p.root, rootCRL, pckCRL); err != nil || ca != CAPlatform {
		t.Fatalf("fake PKI: %q, %v", ca, err)
	}
	_, err := VerifyPCKChain(chain, p.root, rootCRL, p.crl(t, p.ca, p.caKey, 99, p.leaf.SerialNumber.Int64()))
	wantErr(t, err, KindRevoked, DocPCKCert)
	_, err = VerifyPCKChain(chain, p.root, p.crl(t, p.root, p.rootKey, p.ca.SerialNumber.Int64()), pckCRL)
	wantErr(t, err, KindRevoked, DocPCKCA)
	_, err = VerifyPCKChain(chain, intelRoot(t), rootCRL, pckCRL)
	wantErr(t, err, KindUntrusted, DocRootCA)
	// A leaf whose name is not a PCK certificate.
	odd := newCert(t, "Intel SGX Something", 5, false, p.ca, p.caKey, newKey(t))
	_, err = VerifyPCKChain([]*x509.Certificate{odd, p.ca, p.root}, p.root, rootCRL, pckCRL)
	wantErr(t, err, KindChain, DocPCKCert)
	// An intermediate that is not a CA cannot issue the leaf.
	notCA := newCert(t, CNPlatformCA, 6, false, p.root, p.rootKey, p.caKey)
	_, err = VerifyPCKChain([]*x509.Certificate{p.leaf, notCA, p.root}, p.root, rootCRL, pckCRL)
	wantErr(t, err, KindChain, DocPCKCert)
	// A leaf signed by another key under the same CA name.
	other := newFakePKI(t)
	_, err = VerifyPCKChain([]*x509.Certificate{other.leaf, p.ca, p.root}, p.root, rootCRL, pckCRL)
	wantErr(t, err, KindSignature, DocPCKCert)
}

func TestCATypeOf(t *testing.T) {
	sgx := loadBundle(t, sgxCollateral)
	tdx := loadBundle(t, tdxCollateral)
	for _, tt := range []struct {
		cert *x509.Certificate
		want CAType
	}{{sgx.PCKCRLIssuerChain[0], CAProcessor}, {tdx.PCKCRLIssuerChain[0], CAPlatform}} {
		if got, err := CATypeOf(tt.cert); err != nil || got != tt.want || !got.Valid() {
			t.Errorf("CATypeOf = %q, %v; want %q", got, err, tt.want)
		}
	}
	_, err := CATypeOf(sgx.TCBInfoIssuerChain[0])
	wantErr(t, err, KindChain, DocPCKCA)
	_, err = CATypeOf(nil)
	wantErr(t, err, KindChain, DocPCKCA)
	if CAType("other").Valid() {
		t.Error("unknown CA type is valid")
	}
}
