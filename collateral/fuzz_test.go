package collateral

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// FuzzDecodeIssuerChain: header decoding never panics, and a chain it returns re-encodes to
// a header that decodes to the same certificates.
func FuzzDecodeIssuerChain(f *testing.F) {
	for _, name := range []string{"tcbInfoIssuerChain", "qeIdentityIssuerChain", "pckCrlIssuerChain"} {
		enc := testvectors.Read(f, "go-tdx-guest/"+name+".urlencoded.txt")
		f.Add(string(enc))
		f.Add(url.QueryEscape(string(testvectors.Read(f, "go-tdx-guest/"+name+".pem"))))
		f.Add(string(enc[:len(enc)/3]))
	}
	f.Add("%")
	f.Add("-----BEGIN+CERTIFICATE-----%2B")
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := DecodeIssuerChain(v)
		if err != nil {
			return
		}
		again, err := DecodeIssuerChain(url.PathEscape(chainText(chain)))
		if err != nil || len(again) != len(chain) {
			t.Fatalf("re-encoded chain does not decode: %v", err)
		}
		for i := range chain {
			if !bytes.Equal(chain[i].Raw, again[i].Raw) {
				t.Fatalf("certificate %d differs after re-encoding", i)
			}
		}
	})
}

func chainText(chain []*x509.Certificate) string {
	e := &entry{doc: &Document{IssuerChain: chain}}
	b, _ := marshalRecord(e, time.Time{})
	var r record
	_ = json.Unmarshal(b, &r)
	return r.IssuerChain
}

// FuzzIssuerChainHeader: any header map, in any key case, never panics the lookup.
func FuzzIssuerChainHeader(f *testing.F) {
	enc := string(testvectors.Read(f, "go-tdx-guest/tcbInfoIssuerChain.urlencoded.txt"))
	f.Add("TCB-Info-Issuer-Chain", enc, "")
	f.Add("tcb-info-issuer-chain", enc, enc)
	f.Add("SGX-TCB-Info-Issuer-Chain", "x", "")
	f.Fuzz(func(t *testing.T, key, v1, v2 string) {
		h := http.Header{key: {v1}}
		if v2 != "" {
			h[key] = append(h[key], v2)
		}
		chain, err := IssuerChain(h, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
		if err == nil && len(chain) == 0 {
			t.Fatal("no error and no certificate")
		}
	})
}

// FuzzParseRecord: cache files are read back without panics; an accepted record round-trips.
func FuzzParseRecord(f *testing.F) {
	chain, err := pcs.ParseChainPEM(testvectors.Read(f, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if err != nil {
		f.Fatal(err)
	}
	it := TCBInfoItem(quote.TEETDX, pcs.FMSPC{0x50, 0x80, 0x6f}, "")
	doc := &Document{Item: it, URL: "https://x/tcb", Body: testvectors.Read(f, "go-tdx-guest/sample_tcbInfo_response"), IssuerChain: chain}
	seed, err := marshalRecord(&entry{item: it, doc: doc}, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, it.fileName())
	f.Add([]byte(`{"format":1,"item":"root_crl/global","fetched":"2030-01-01T00:00:00Z","body":""}`), "root_crl_global.json")
	f.Fuzz(func(t *testing.T, b []byte, name string) {
		d, fetched, err := parseRecord(b, name)
		if err != nil {
			return
		}
		out, err := marshalRecord(&entry{item: d.Item, doc: d}, fetched)
		if err != nil {
			t.Fatal(err)
		}
		d2, _, err := parseRecord(out, name)
		if err != nil || !sameDocument(d, d2) || d2.Item != d.Item {
			t.Fatalf("record does not round-trip: %v", err)
		}
	})
}

// FuzzParseItem: item names (from cache files) parse back to themselves.
func FuzzParseItem(f *testing.F) {
	for _, s := range []string{"root_crl/global", "pck_crl/platform", "tcb_info/sgx/00A067110000", "qe_identity/tdx/early", "tcb_info/tdx/b0c06f000000/early"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		it, err := parseItem(s)
		if err != nil {
			return
		}
		if err := it.validate(); err != nil {
			t.Fatalf("parsed item %q is invalid: %v", s, err)
		}
		back, err := parseItem(it.String())
		if err != nil || back != it {
			t.Fatalf("%q -> %s does not round-trip", s, it)
		}
	})
}

// FuzzCheck: any response body, for any item, is refused or accepted without panicking, and
// never accepted for the wrong item.
func FuzzCheck(f *testing.F) {
	rootCRL, err := pcs.ParseCRL(testvectors.Read(f, "go-tdx-guest/rootcrl.der"))
	if err != nil {
		f.Fatal(err)
	}
	chain, err := pcs.ParseChainPEM(testvectors.Read(f, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(testvectors.Read(f, "go-tdx-guest/sample_tcbInfo_response"), uint8(0))
	f.Add(testvectors.Read(f, "go-tdx-guest/sample_qeIdentity_response"), uint8(1))
	f.Add(testvectors.Read(f, "go-tdx-guest/pckcrl"), uint8(2))
	f.Add(testvectors.Read(f, "go-tdx-guest/rootcrl.der"), uint8(3))
	fmspc := pcs.FMSPC{0x50, 0x80, 0x6f}
	items := []Item{TCBInfoItem(quote.TEETDX, fmspc, ""), QEIdentityItem(quote.TEETDX, ""), PCKCRLItem(pcs.CAPlatform), RootCRLItem()}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		it := items[int(which)%len(items)]
		doc := &Document{Item: it, Body: body, IssuerChain: chain}
		if it.Kind == KindRootCRL {
			doc.IssuerChain = nil
		}
		e, err := check(doc, verify.IntelRoot(), rootCRL)
		if err != nil {
			return
		}
		if it.Kind == KindTCBInfo && (e.tcb == nil || e.tcb.FMSPC != fmspc) {
			t.Fatal("accepted a TCB Info for another FMSPC")
		}
	})
}
