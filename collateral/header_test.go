package collateral

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

func TestDecodeIssuerChainVectors(t *testing.T) {
	for _, name := range []string{"tcbInfoIssuerChain", "qeIdentityIssuerChain", "pckCrlIssuerChain"} {
		t.Run(name, func(t *testing.T) {
			enc := testvectors.Read(t, "go-tdx-guest/"+name+".urlencoded.txt")
			want, err := pcs.ParseChainPEM(testvectors.Read(t, "go-tdx-guest/"+name+".pem"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeIssuerChain(string(enc))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 || len(want) != 2 {
				t.Fatalf("%d certificates, want 2", len(got))
			}
			for i := range got {
				if !bytes.Equal(got[i].Raw, want[i].Raw) {
					t.Errorf("certificate %d differs", i)
				}
			}
		})
	}
}

func TestDecodeIssuerChainEncodings(t *testing.T) {
	pemChain := string(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem"))
	if !strings.Contains(pemChain, "+") {
		t.Fatal("test needs a chain with '+' in its base64")
	}
	tests := []struct {
		name    string
		value   string
		wantErr bool
	}{
		{"path escaped", url.PathEscape(pemChain), false},
		{"query escaped", url.QueryEscape(pemChain), false},
		{"surrounding space", "  " + url.PathEscape(pemChain) + " ", false},
		{"bad escape", "%zz" + url.PathEscape(pemChain), true},
		{"not PEM", "hello%20world", true},
		{"empty", "", true},
		{"too large", strings.Repeat("A", MaxHeaderSize+1), true},
		{"truncated", url.PathEscape(pemChain[:len(pemChain)/2]), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			chain, err := DecodeIssuerChain(tc.value)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && len(chain) != 2 {
				t.Errorf("%d certificates", len(chain))
			}
		})
	}
	if _, err := DecodeIssuerChain(strings.Repeat("A", MaxHeaderSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized header: %v", err)
	}
}

func TestIssuerChainHeaderNames(t *testing.T) {
	enc := url.PathEscape(string(testvectors.Read(t, "go-tdx-guest/tcbInfoIssuerChain.pem")))
	tests := []struct {
		name    string
		header  http.Header
		names   []string
		wantErr bool
	}{
		{"canonical", http.Header{"Tcb-Info-Issuer-Chain": {enc}}, []string{"TCB-Info-Issuer-Chain"}, false},
		{"non-canonical key", http.Header{"TCB-INFO-ISSUER-CHAIN": {enc}}, []string{"TCB-Info-Issuer-Chain"}, false},
		{"fallback name", http.Header{"Sgx-Tcb-Info-Issuer-Chain": {enc}}, []string{"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"}, false},
		{"preferred bad, not masked", http.Header{"Tcb-Info-Issuer-Chain": {"junk"}, "Sgx-Tcb-Info-Issuer-Chain": {enc}}, []string{"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"}, true},
		{"missing", http.Header{"Other": {enc}}, []string{"TCB-Info-Issuer-Chain"}, true},
		{"duplicate", http.Header{"Tcb-Info-Issuer-Chain": {enc, enc}}, []string{"TCB-Info-Issuer-Chain"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := IssuerChain(tc.header, tc.names...)
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestItemNames(t *testing.T) {
	items := []Item{
		RootCRLItem(), PCKCRLItem(pcs.CAProcessor), PCKCRLItem(pcs.CAPlatform),
		TCBInfoItem(quote.TEESGX, testFMSPC, ""), TCBInfoItem(quote.TEETDX, testFMSPC, UpdateEarly),
		QEIdentityItem(quote.TEESGX, UpdateStandard), QEIdentityItem(quote.TEETDX, UpdateEarly),
	}
	wantStrings := []string{
		"root_crl/global", "pck_crl/processor", "pck_crl/platform", "tcb_info/sgx/00A067110000",
		"tcb_info/tdx/00A067110000/early", "qe_identity/sgx", "qe_identity/tdx/early",
	}
	for i, it := range items {
		if got := it.String(); got != wantStrings[i] {
			t.Errorf("String() = %q, want %q", got, wantStrings[i])
		}
		back, err := parseItem(it.String())
		if err != nil || back != it {
			t.Errorf("parseItem(%q) = %+v, %v", it.String(), back, err)
		}
		fromFile, err := itemOfFile(it.fileName())
		if err != nil || fromFile != it {
			t.Errorf("itemOfFile(%q) = %+v, %v", it.fileName(), fromFile, err)
		}
	}
	for _, bad := range []string{"", "root_crl", "root_crl/global/early", "pck_crl/other", "tcb_info/sgx", "tcb_info/amd/00A067110000",
		"tcb_info/sgx/00A0671100", "qe_identity/sgx/late", "pckcert/x"} {
		if it, err := parseItem(bad); err == nil {
			t.Errorf("parseItem(%q) = %+v", bad, it)
		}
	}
	if _, err := ParseUpdate("late"); err == nil {
		t.Error("ParseUpdate accepted late")
	}
	if _, err := ParseServiceKind("amd"); err == nil {
		t.Error("ParseServiceKind accepted amd")
	}
}
