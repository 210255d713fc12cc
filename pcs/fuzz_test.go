package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/internal/testvectors"
)

var quoteVectors = []string{
	"phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_outdated",
	"go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "go-tdx-guest/quote_v5_sample.dat",
}

func FuzzParseTCBInfo(f *testing.F) {
	f.Add(testvectors.Read(f, "go-tdx-guest/sample_tcbInfo_response"))
	f.Add(testvectors.Read(f, "go-tdx-guest/sample_tcbinfo_response_v5"))
	for _, name := range collaterals {
		m := collateralStrings(f, name)
		f.Add([]byte(`{"tcbInfo":` + m["tcb_info"] + `,"signature":"` + m["tcb_info_signature"] + `"}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ti, err := ParseTCBInfo(body)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !bytes.Contains(body, ti.Raw) {
			t.Fatal("Raw is not a substring of the body")
		}
		again, err := ParseTCBInfoRaw(ti.Raw, hex.EncodeToString(ti.Signature[:]))
		if err != nil {
			t.Fatalf("Raw does not re-parse: %v", err)
		}
		if !cmp.Equal(ti, again) {
			t.Fatal("offline form parses differently")
		}
	})
}

func FuzzParseQEIdentity(f *testing.F) {
	f.Add(testvectors.Read(f, "go-tdx-guest/sample_qeIdentity_response"))
	for _, name := range collaterals {
		m := collateralStrings(f, name)
		f.Add([]byte(`{"enclaveIdentity":` + m["qe_identity"] + `,"signature":"` + m["qe_identity_signature"] + `"}`))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := ParseQEIdentity(body)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ParseQEIdentityRaw(q.Raw, hex.EncodeToString(q.Signature[:]))
		if err != nil {
			t.Fatalf("Raw does not re-parse: %v", err)
		}
		if !cmp.Equal(q, again) {
			t.Fatal("offline form parses differently")
		}
	})
}

func FuzzParsePCKExtensions(f *testing.F) {
	for _, name := range quoteVectors {
		f.Add(sgxExtensionValue(f, pckChain(f, name)[0].Extensions))
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		e, err := UnmarshalPCKExtensions(der)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := MarshalPCKExtensions(e)
		if err != nil {
			t.Fatalf("parsed extensions do not marshal: %v", err)
		}
		again, err := UnmarshalPCKExtensions(out)
		if err != nil {
			t.Fatalf("marshalled extensions do not parse: %v", err)
		}
		if !cmp.Equal(e, again) {
			t.Fatal("round trip changed the extensions")
		}
	})
}

func FuzzParseCRL(f *testing.F) {
	for _, der := range [][]byte{testvectors.Read(f, "go-tdx-guest/pckcrl"), testvectors.Read(f, "go-tdx-guest/rootcrl.der")} {
		f.Add(der)
		f.Add([]byte(hex.EncodeToString(der)))
		f.Add(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	}
	f.Add([]byte(collateralStrings(f, sgxCollateral)["pck_crl"]))
	f.Fuzz(func(t *testing.T, b []byte) {
		crl, err := ParseCRL(b)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ParseCRL(crl.Raw)
		if err != nil || !bytes.Equal(again.Raw, crl.Raw) {
			t.Fatalf("Raw does not re-parse: %v", err)
		}
	})
}

func FuzzParseBundleJSON(f *testing.F) {
	for _, name := range collaterals {
		f.Add(testvectors.Read(f, name))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		bundle, err := ParseBundleJSON(b)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out, err := bundle.MarshalJSON()
		if err != nil {
			t.Fatalf("parsed bundle does not marshal: %v", err)
		}
		again, err := ParseBundleJSON(out)
		if err != nil {
			t.Fatalf("marshalled bundle does not parse: %v", err)
		}
		assertSameBundle(t, bundle, again)
	})
}

func FuzzParseChainPEM(f *testing.F) {
	for _, name := range quoteVectors {
		f.Add(pckChainPEM(f, name))
	}
	f.Add(testvectors.Read(f, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := ParseChainPEM(b)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(chain) == 0 || len(chain) > maxChainCerts {
			t.Fatalf("%d certificates", len(chain))
		}
	})
}

// isPCSError reports whether err is this package's *Error (every parser failure must be).
func isPCSError(err error) bool {
	_, ok := errors.AsType[*Error](err)
	return ok
}

// FuzzParseIssuerChainHeader: the issuer-chain headers of PCS responses (percent-encoded PEM)
// come off the network. No panic; every error is a *Error; an accepted chain has 1 to
// maxChainCerts certificates and, percent-encoded again, parses to the same certificates.
func FuzzParseIssuerChainHeader(f *testing.F) {
	for _, name := range []string{"tcbInfoIssuerChain", "qeIdentityIssuerChain", "pckCrlIssuerChain"} {
		enc := string(testvectors.Read(f, "go-tdx-guest/"+name+".urlencoded.txt"))
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
		f.Add(string(testvectors.Read(f, "go-tdx-guest/"+name+".pem")))
	}
	f.Add("%")
	f.Add("%zz-----BEGIN%20CERTIFICATE-----")
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := ParseIssuerChainHeader(v)
		if err != nil {
			if !isPCSError(err) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if len(chain) == 0 || len(chain) > maxChainCerts {
			t.Fatalf("%d certificates", len(chain))
		}
		var pemText bytes.Buffer
		for _, c := range chain {
			_ = pem.Encode(&pemText, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		again, err := ParseIssuerChainHeader(url.PathEscape(pemText.String()))
		if err != nil || len(again) != len(chain) {
			t.Fatalf("re-encoded chain does not parse: %v", err)
		}
		for i := range chain {
			if !bytes.Equal(chain[i].Raw, again[i].Raw) {
				t.Fatalf("certificate %d differs after re-encoding", i)
			}
		}
	})
}
