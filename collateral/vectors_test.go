package collateral

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// vectorServer serves one real collateral JSON file in the PCS v4 shape: TCB Info and QE
// Identity bodies rebuilt from the exact signed strings, CRLs as DER, issuer chains
// percent-encoded in Intel's headers, the root CRL at /IntelSGXRootCA.der. Requests for
// another FMSPC, TEE or CA get 404. requests counts every request.
type vectorServer struct {
	*httptest.Server
	requests atomic.Int64
}

func newVectorServer(t *testing.T, collateralJSON []byte) *vectorServer {
	t.Helper()
	var raw map[string]string
	if err := json.Unmarshal(collateralJSON, &raw); err != nil {
		t.Fatal(err)
	}
	b, err := pcs.ParseBundleJSON(collateralJSON)
	if err != nil {
		t.Fatal(err)
	}
	tee := b.TCBInfo.TEE().String()
	ca, err := pcs.CATypeOf(b.PCKCRLIssuerChain[0])
	if err != nil {
		t.Fatal(err)
	}
	der := func(name string) []byte {
		d, err := hex.DecodeString(raw[name])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	vs := &vectorServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /"+tee+"/certification/v4/tcb", func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.URL.Query().Get("fmspc"), b.TCBInfo.FMSPC.String()) || r.URL.Query().Get("update") != "standard" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("TCB-Info-Issuer-Chain", url.PathEscape(raw["tcb_info_issuer_chain"]))
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"tcbInfo":` + raw["tcb_info"] + `,"signature":"` + raw["tcb_info_signature"] + `"}`))
	})
	mux.HandleFunc("GET /"+tee+"/certification/v4/qe/identity", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("SGX-Enclave-Identity-Issuer-Chain", url.PathEscape(raw["qe_identity_issuer_chain"]))
		_, _ = w.Write([]byte(`{"enclaveIdentity":` + raw["qe_identity"] + `,"signature":"` + raw["qe_identity_signature"] + `"}`))
	})
	mux.HandleFunc("GET /sgx/certification/v4/pckcrl", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("ca") != string(ca) || r.URL.Query().Get("encoding") != "der" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("SGX-PCK-CRL-Issuer-Chain", url.PathEscape(raw["pck_crl_issuer_chain"]))
		_, _ = w.Write(der("pck_crl"))
	})
	mux.HandleFunc("GET /IntelSGXRootCA.der", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(der("root_ca_crl"))
	})
	vs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vs.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(vs.Close)
	return vs
}

// intelClient is a Client of kind intel against a test server.
func intelClient(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{
		BaseURL: srv.URL + "/sgx/certification/v4", RootCRLURL: srv.URL + "/IntelSGXRootCA.der",
		HTTPClient: srv.Client(), Timeout: 5 * time.Second, Backoff: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestVectorsOverHTTP: the real vectors verify identically whether their collateral comes from
// the offline JSON or from a PCS-shaped server through the Cache, and the bundle served is
// byte-for-byte the offline one.
func TestVectorsOverHTTP(t *testing.T) {
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, quote, collateral string
		at                      time.Time
		want                    verify.Reason
	}{
		{"sgx", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json", at, ""},
		{"tdx", "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json", at, ""},
		{"tdx-v5-not-supported", "phala-dcap-qvl/tdx_quote_outdated", "phala-dcap-qvl/tdx_quote_outdated_collateral.json",
			time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), verify.ReasonTCBNotSupported},
		{"sgx-expired", "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json",
			time.Date(2025, 7, 19, 10, 1, 19, 0, time.UTC), verify.ReasonCollateralExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rawQuote := testvectors.Read(t, tc.quote)
			offline := testvectors.Read(t, tc.collateral)
			bundle, err := pcs.ParseBundleJSON(offline)
			if err != nil {
				t.Fatal(err)
			}
			want, wantErr := verify.Quote(rawQuote, bundle, tc.at)
			if verify.ReasonOf(wantErr) != tc.want {
				t.Fatalf("offline verification: reason %q, want %q (%v)", verify.ReasonOf(wantErr), tc.want, wantErr)
			}

			srv := newVectorServer(t, offline)
			cache, err := NewCache(Config{Source: intelClient(t, srv.Server), Root: verify.IntelRoot()})
			if err != nil {
				t.Fatal(err)
			}
			v, err := verify.New(cache)
			if err != nil {
				t.Fatal(err)
			}
			q, err := quote.Parse(rawQuote)
			if err != nil {
				t.Fatal(err)
			}
			got, gotErr := v.Verify(context.Background(), q, tc.at)
			if verify.ReasonOf(gotErr) != tc.want {
				t.Fatalf("over HTTP: reason %q, want %q (%v)", verify.ReasonOf(gotErr), tc.want, gotErr)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result differs (-offline +http):\n%s", diff)
			}
			if n := srv.requests.Load(); n != 4 {
				t.Errorf("%d requests, want 4 (one per item)", n)
			}
			key := pcs.Key{TEE: q.Header.TEE, FMSPC: bundle.TCBInfo.FMSPC, CA: caOf(t, bundle)}
			served, err := cache.Collateral(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, err := served.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := bundle.MarshalJSON()
			if !bytes.Equal(gotJSON, wantJSON) {
				t.Error("bundle served over HTTP differs from the offline JSON")
			}
		})
	}
}

func caOf(t *testing.T, b *pcs.Bundle) pcs.CAType {
	t.Helper()
	ca, err := pcs.CATypeOf(b.PCKCRLIssuerChain[0])
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
