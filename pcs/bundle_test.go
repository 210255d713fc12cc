package pcs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/quote"
)

var collaterals = []string{sgxCollateral, tdxCollateral, tdxOutdatedCollateral}

func TestParseBundleJSONVectors(t *testing.T) {
	root := intelRoot(t)
	for _, name := range collaterals {
		t.Run(name, func(t *testing.T) {
			b := loadBundle(t, name)
			for _, chain := range [][]*x509.Certificate{b.PCKCRLIssuerChain, b.TCBInfoIssuerChain, b.QEIdentityIssuerChain} {
				if len(chain) != 2 || !chain[1].Equal(root) {
					t.Fatalf("issuer chain of %d certificates not ending in the Intel root", len(chain))
				}
			}
			if err := VerifyCRL(b.RootCRL, root); err != nil {
				t.Error(err)
			}
			if err := VerifyCRL(b.PCKCRL, b.PCKCRLIssuerChain[0]); err != nil {
				t.Error(err)
			}
			if err := b.TCBInfo.CheckSignature(b.TCBInfoIssuerChain[0]); err != nil {
				t.Error(err)
			}
			if err := b.QEIdentity.CheckSignature(b.QEIdentityIssuerChain[0]); err != nil {
				t.Error(err)
			}
		})
	}
	// vectors README V2: the platform PCK CRL has 44 entries.
	if n := len(loadBundle(t, tdxCollateral).PCKCRL.RevokedCertificateEntries); n != 44 {
		t.Errorf("V2 PCK CRL has %d entries, want 44", n)
	}
}

func TestBundleMarshalJSON(t *testing.T) {
	for _, name := range collaterals {
		t.Run(name, func(t *testing.T) {
			file := testvectors.Read(t, name)
			b := loadBundle(t, name)
			out, err := b.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			// Same key order and formats as dcap-qvl: the files are MarshalJSON's output,
			// either indented by two spaces (no final newline) or compact plus a newline.
			var want bytes.Buffer
			if bytes.HasPrefix(file, []byte("{\n")) {
				if err := json.Indent(&want, out, "", "  "); err != nil {
					t.Fatal(err)
				}
			} else {
				want.Write(out)
				want.WriteByte('\n')
			}
			if !bytes.Equal(want.Bytes(), file) {
				t.Errorf("MarshalJSON differs from %s", name)
			}
			again, err := ParseBundleJSON(out)
			if err != nil {
				t.Fatal(err)
			}
			assertSameBundle(t, b, again)
			if err := again.TCBInfo.CheckSignature(again.TCBInfoIssuerChain[0]); err != nil {
				t.Errorf("re-parsed TCB Info: %v", err)
			}
			// json.Marshal goes through MarshalJSON.
			viaMarshal, err := json.Marshal(b)
			if err != nil || !bytes.Equal(viaMarshal, out) {
				t.Errorf("json.Marshal differs from MarshalJSON: %v", err)
			}
		})
	}
	// A bundle assembled from PCS responses converts to the dcap-qvl layout.
	b := goTDXGuestBundle(t)
	out, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParseBundleJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	assertSameBundle(t, b, again)
	if err := again.QEIdentity.CheckSignature(again.QEIdentityIssuerChain[0]); err != nil {
		t.Error(err)
	}
}

func assertSameBundle(t *testing.T, want, got *Bundle) {
	t.Helper()
	raws := func(chain []*x509.Certificate) [][]byte {
		var out [][]byte
		for _, c := range chain {
			out = append(out, c.Raw)
		}
		return out
	}
	for i, pair := range [][2][]*x509.Certificate{
		{want.PCKCRLIssuerChain, got.PCKCRLIssuerChain},
		{want.TCBInfoIssuerChain, got.TCBInfoIssuerChain},
		{want.QEIdentityIssuerChain, got.QEIdentityIssuerChain},
	} {
		if !cmp.Equal(raws(pair[0]), raws(pair[1])) {
			t.Errorf("chain %d differs", i)
		}
	}
	if !bytes.Equal(want.RootCRL.Raw, got.RootCRL.Raw) || !bytes.Equal(want.PCKCRL.Raw, got.PCKCRL.Raw) {
		t.Error("CRLs differ")
	}
	if diff := cmp.Diff(want.TCBInfo, got.TCBInfo); diff != "" {
		t.Errorf("TCB Info (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want.QEIdentity, got.QEIdentity); diff != "" {
		t.Errorf("QE Identity (-want +got):\n%s", diff)
	}
}

func TestParseBundleJSONRejects(t *testing.T) {
	file := testvectors.Read(t, sgxCollateral)
	var m map[string]any
	if err := json.Unmarshal(file, &m); err != nil {
		t.Fatal(err)
	}
	with := func(key string, v any) []byte {
		c := make(map[string]any, len(m))
		for k, x := range m {
			c[k] = x
		}
		if v == nil {
			delete(c, key)
		} else {
			c[key] = v
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	str := func(key string) string { return m[key].(string) }
	pemCRL := "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"
	tests := []struct {
		name string
		in   []byte
		kind Kind
		doc  Doc
	}{
		{"not JSON", []byte("{"), KindFormat, DocBundle},
		{"array", []byte("[]"), KindFormat, DocBundle},
		{"duplicate key", bytes.Replace(file, []byte(`"pck_crl":`), []byte(`"pck_crl":"00","pck_crl":`), 1), KindFormat, DocBundle},
		{"number value", with("pck_crl", 5), KindFormat, DocBundle},
		{"missing pck_crl_issuer_chain", with("pck_crl_issuer_chain", nil), KindFormat, DocBundle},
		{"missing root_ca_crl", with("root_ca_crl", nil), KindFormat, DocBundle},
		{"missing qe_identity_signature", with("qe_identity_signature", nil), KindFormat, DocBundle},
		{"null tcb_info", bytes.Replace(file, []byte(`"tcb_info": "{`), []byte(`"tcb_info": null, "x": "{`), 1), KindFormat, DocBundle},
		{"bad pck_crl_issuer_chain", with("pck_crl_issuer_chain", "junk"), KindFormat, DocPCKCRL},
		{"bad tcb_info_issuer_chain", with("tcb_info_issuer_chain", "junk"), KindFormat, DocTCBInfo},
		{"bad qe_identity_issuer_chain", with("qe_identity_issuer_chain", str("qe_identity_issuer_chain")+"junk"), KindFormat, DocQEIdentity},
		{"root CRL as PEM", with("root_ca_crl", pemCRL), KindFormat, DocRootCRL},
		{"root CRL odd hex", with("root_ca_crl", str("root_ca_crl")[1:]), KindFormat, DocRootCRL},
		{"PCK CRL truncated", with("pck_crl", str("pck_crl")[:100]), KindFormat, DocPCKCRL},
		{"PCK CRL trailing", with("pck_crl", str("pck_crl")+"00"), KindFormat, DocPCKCRL},
		{"tcb_info signature short", with("tcb_info_signature", str("tcb_info_signature")[2:]), KindFormat, DocTCBInfo},
		{"tcb_info broken", with("tcb_info", str("tcb_info")[1:]), KindFormat, DocTCBInfo},
		{"qe_identity signature not hex", with("qe_identity_signature", "x"+str("qe_identity_signature")[1:]), KindFormat, DocQEIdentity},
		{"qe_identity is TCB Info", with("qe_identity", str("tcb_info")), KindFormat, DocQEIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseBundleJSON(tt.in)
			wantErr(t, err, tt.kind, tt.doc)
		})
	}
	// Unknown members are ignored (dcap-qvl may add optional ones).
	if _, err := ParseBundleJSON(with("pck_certificate_chain", "x")); err != nil {
		t.Errorf("unknown member: %v", err)
	}
}

// TestBundleTamperedTCBInfo: a changed byte inside the tcb_info string still parses but no
// longer verifies (vectors README mutation list).
func TestBundleTamperedTCBInfo(t *testing.T) {
	file := testvectors.Read(t, sgxCollateral)
	tampered := bytes.Replace(file, []byte(`\"tcbStatus\":\"OutOfDate\"`), []byte(`\"tcbStatus\":\"UpToDate\"`), 1)
	if bytes.Equal(tampered, file) {
		t.Fatal("mutation did not apply")
	}
	b, err := ParseBundleJSON(tampered)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, b.TCBInfo.CheckSignature(b.TCBInfoIssuerChain[0]), KindSignature, DocTCBInfo)
	tamperedQE := bytes.Replace(file, []byte(`\"isvprodid\":1`), []byte(`\"isvprodid\":2`), 1)
	b, err = ParseBundleJSON(tamperedQE)
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, b.QEIdentity.CheckSignature(b.QEIdentityIssuerChain[0]), KindSignature, DocQEIdentity)
}

func TestBundleMarshalJSONIncomplete(t *testing.T) {
	full := loadBundle(t, sgxCollateral)
	for name, mutate := range map[string]func(b *Bundle){
		"no TCB Info":    func(b *Bundle) { b.TCBInfo = nil },
		"no QE Identity": func(b *Bundle) { b.QEIdentity = nil },
		"no root CRL":    func(b *Bundle) { b.RootCRL = nil },
		"no PCK CRL":     func(b *Bundle) { b.PCKCRL = nil },
		"no chain":       func(b *Bundle) { b.TCBInfoIssuerChain = nil },
	} {
		t.Run(name, func(t *testing.T) {
			b := *full
			mutate(&b)
			_, err := b.MarshalJSON()
			wantErr(t, err, KindFormat, DocBundle)
		})
	}
	var nilBundle *Bundle
	_, err := nilBundle.MarshalJSON()
	wantErr(t, err, KindFormat, DocBundle)
}

func TestBundleCollateral(t *testing.T) {
	sgx := loadBundle(t, sgxCollateral)
	tdx := loadBundle(t, tdxCollateral)
	sgxFMSPC, _ := ParseFMSPC("00A067110000")
	tdxFMSPC, _ := ParseFMSPC("B0C06F000000")
	ctx := context.Background()
	tests := []struct {
		name string
		b    *Bundle
		key  Key
		ok   bool
	}{
		{"sgx", sgx, Key{quote.TEESGX, sgxFMSPC, CAProcessor}, true},
		{"tdx", tdx, Key{quote.TEETDX, tdxFMSPC, CAPlatform}, true},
		{"sgx wrong CA", sgx, Key{quote.TEESGX, sgxFMSPC, CAPlatform}, false},
		{"sgx wrong FMSPC", sgx, Key{quote.TEESGX, tdxFMSPC, CAProcessor}, false},
		{"sgx asked for tdx", sgx, Key{quote.TEETDX, sgxFMSPC, CAProcessor}, false},
		{"tdx asked for sgx", tdx, Key{quote.TEESGX, tdxFMSPC, CAPlatform}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.b.Collateral(ctx, tt.key)
			if tt.ok {
				if err != nil || got != tt.b {
					t.Fatalf("got %p, %v", got, err)
				}
				return
			}
			wantErr(t, err, KindMismatch, DocBundle)
		})
	}
	// Swapped documents: SGX TCB Info with the TDX QE Identity.
	mixed := *sgx
	mixed.QEIdentity = tdx.QEIdentity
	_, err := mixed.Collateral(ctx, Key{quote.TEESGX, sgxFMSPC, CAProcessor})
	wantErr(t, err, KindMismatch, DocBundle)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sgx.Collateral(cancelled, Key{quote.TEESGX, sgxFMSPC, CAProcessor}); err == nil {
		t.Error("cancelled context accepted")
	}
	if got := (Key{quote.TEESGX, sgxFMSPC, CAProcessor}).String(); got != "sgx/00A067110000/processor" {
		t.Errorf("Key.String() = %q", got)
	}
	if !strings.HasPrefix((Key{TEE: 7}).String(), "tee(0x7)/") {
		t.Errorf("unknown TEE: %q", (Key{TEE: 7}).String())
	}
}
