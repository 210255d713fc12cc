package collateral

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// TestServiceKinds: each service dialect of the client fetches complete collateral for an SGX
// and a TDX platform from a simulator that speaks only that dialect (sim.WithDialects: a
// request in another layout is refused with 400 or 404), the cache accepts it, and the
// platforms' quotes verify with it. The request counts pin the URL layout of each dialect.
func TestServiceKinds(t *testing.T) {
	pckcrl, rootcacrl := sim.SGXBasePath+"/pckcrl", sim.SGXBasePath+"/rootcacrl"
	tests := []struct {
		name    string
		dialect sim.Dialect
		cfg     ClientConfig // Kind, AzureTHIM, AzureAPIVersion
		want    map[string]int
	}{
		{"pccs", sim.DialectIntel, ClientConfig{Kind: ServicePCCS},
			map[string]int{rootcacrl: 1, pckcrl: 2, sim.RootCRLPath: 0}},
		// Global cache: both PCK CRLs and the root CRL by pckcrl?uri=<Intel CRL URL>, DER.
		{"azure global", sim.DialectAzure, ClientConfig{Kind: ServiceAzure},
			map[string]int{pckcrl: 3, rootcacrl: 0, sim.RootCRLPath: 0}},
		// The same with the API version that makes the cache answer PEM CRLs.
		{"azure global pem crls", sim.DialectAzure, ClientConfig{Kind: ServiceAzure, AzureAPIVersion: sim.AzureAPIVersion2020},
			map[string]int{pckcrl: 3, rootcacrl: 0, sim.RootCRLPath: 0}},
		// Regional THIM: PCK CRLs by pckcrl?ca=, the root CRL from rootcacrl.
		{"azure thim", sim.DialectAzureTHIM, ClientConfig{Kind: ServiceAzure, AzureTHIM: true},
			map[string]int{pckcrl: 2, rootcacrl: 1, sim.RootCRLPath: 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimPCS(t, sim.WithDialects(tc.dialect))
			cfg := s.clientConfig()
			cfg.Kind, cfg.AzureTHIM, cfg.AzureAPIVersion, cfg.RootCRLURL = tc.cfg.Kind, tc.cfg.AzureTHIM, tc.cfg.AzureAPIVersion, ""
			client, err := NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cache := newTestCache(t, s, Config{Source: client})
			for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
				p := s.platform(t, tee)
				if _, err := cache.Collateral(context.Background(), p.Key()); err != nil {
					t.Fatalf("%s: %v", tee, err)
				}
				if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != "" {
					t.Errorf("%s: verification: %s", tee, reason)
				}
			}
			tc.want[sim.SGXBasePath+"/tcb"], tc.want[sim.TDXBasePath+"/tcb"] = 1, 1
			tc.want[sim.SGXBasePath+"/qe/identity"], tc.want[sim.TDXBasePath+"/qe/identity"] = 1, 1
			for path, n := range tc.want {
				if got := s.faults.Requests(path); got != n {
					t.Errorf("%s requested %d times, want %d", path, got, n)
				}
			}
		})
	}
}

// TestServiceKindMismatch: a client whose dialect is not the service's gets the service's
// refusal (an *Error with ErrStatus and the HTTP status), not collateral, so the round trips
// above really exercise each dialect.
func TestServiceKindMismatch(t *testing.T) {
	sgx := TCBInfoItem(quote.TEESGX, sim.DefaultSGXFMSPC, "")
	tests := []struct {
		name    string
		dialect sim.Dialect
		cfg     ClientConfig
		item    Item
		status  int
	}{
		{"intel client, azure cache", sim.DialectAzure, ClientConfig{Kind: ServiceIntel}, sgx, http.StatusBadRequest},
		{"pccs client, thim", sim.DialectAzureTHIM, ClientConfig{Kind: ServicePCCS}, RootCRLItem(), http.StatusBadRequest},
		{"global client, thim: root crl", sim.DialectAzureTHIM, ClientConfig{Kind: ServiceAzure}, RootCRLItem(), http.StatusNotFound},
		{"global client, thim: pck crl", sim.DialectAzureTHIM, ClientConfig{Kind: ServiceAzure}, PCKCRLItem(pcs.CAProcessor), http.StatusNotFound},
		{"thim client, global cache: root crl", sim.DialectAzure, ClientConfig{Kind: ServiceAzure, AzureTHIM: true}, RootCRLItem(), http.StatusNotFound},
		{"thim client, global cache: pck crl", sim.DialectAzure, ClientConfig{Kind: ServiceAzure, AzureTHIM: true}, PCKCRLItem(pcs.CAPlatform), http.StatusBadRequest},
		{"azure client, unknown api-version", sim.DialectAzure, ClientConfig{Kind: ServiceAzure, AzureAPIVersion: "2019-01-01"}, sgx, http.StatusBadRequest},
		{"azure client, unknown fmspc", sim.DialectAzure, ClientConfig{Kind: ServiceAzure}, TCBInfoItem(quote.TEESGX, testFMSPC, ""), http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSimPCS(t, sim.WithDialects(tc.dialect))
			cfg := s.clientConfig()
			cfg.Kind, cfg.AzureTHIM, cfg.AzureAPIVersion = tc.cfg.Kind, tc.cfg.AzureTHIM, tc.cfg.AzureAPIVersion
			client, err := NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.Fetch(context.Background(), tc.item)
			e, ok := errors.AsType[*Error](err)
			if !errors.Is(err, ErrStatus) || !ok || e.Status != tc.status || e.Item != tc.item {
				t.Fatalf("err = %v, want ErrStatus with status %d for %s", err, tc.status, tc.item)
			}
		})
	}
}

func TestKeyOf(t *testing.T) {
	for name, want := range map[string]string{
		"phala-dcap-qvl/sgx_quote":          "sgx/00A067110000/processor",
		"phala-dcap-qvl/tdx_quote":          "tdx/B0C06F000000/platform",
		"phala-dcap-qvl/tdx_quote_outdated": "tdx/90C06F000000/platform",
	} {
		q, err := quote.Parse(testvectors.Read(t, name))
		if err != nil {
			t.Fatal(err)
		}
		key, err := KeyOf(q)
		if err != nil || key.String() != want {
			t.Errorf("KeyOf(%s) = %s, %v; want %s", name, key, err, want)
		}
	}
	q, err := quote.Parse(testvectors.Read(t, "phala-dcap-qvl/sgx_quote"))
	if err != nil {
		t.Fatal(err)
	}
	q.CertData = []byte("not a chain")
	if _, err := KeyOf(q); err == nil {
		t.Error("KeyOf accepted a quote without a PCK chain")
	}
}
