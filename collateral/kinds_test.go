package collateral

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// TestServiceKinds: the PCCS and Azure dialects fetch complete, verifying collateral for SGX
// and TDX platforms. The PCCS dialect talks to the simulator as is (root CRL as hex from
// rootcacrl); for Azure, a middleware checks the Azure request shape (clientid, api-version,
// CRLs by uri=, no update=standard) and answers with Azure's header names and PEM CRLs.
func TestServiceKinds(t *testing.T) {
	for _, kind := range []ServiceKind{ServicePCCS, ServiceAzure} {
		t.Run(string(kind), func(t *testing.T) {
			s := newSimPCS(t)
			var mu sync.Mutex
			var bad []string
			if kind == ServiceAzure {
				s.setMiddleware(func(w http.ResponseWriter, r *http.Request, next http.Handler) {
					if problem := azureShape(r); problem != "" {
						mu.Lock()
						bad = append(bad, r.URL.String()+": "+problem)
						mu.Unlock()
						http.Error(w, problem, http.StatusBadRequest)
						return
					}
					next.ServeHTTP(renameHeader{w, sim.HeaderTCBInfoIssuerChain, "SGX-TCB-Info-Issuer-Chain"}, r)
				})
			}
			cfg := s.clientConfig()
			cfg.Kind, cfg.RootCRLURL = kind, ""
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
			if kind == ServicePCCS && s.faults.Requests(sim.SGXBasePath+"/rootcacrl") != 1 {
				t.Error("PCCS root CRL not fetched from rootcacrl")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(bad) > 0 {
				t.Errorf("requests not in Azure's shape: %v", bad)
			}
		})
	}
}

// azureShape checks an Azure cache request (dcap spec §6.3) and rewrites the CRL requests to
// the simulator's paths. It returns a description of what is wrong, or "".
func azureShape(r *http.Request) string {
	q := r.URL.Query()
	if q.Get("clientid") != AzureClientID || q.Get("api-version") != AzureAPIVersion {
		return "missing clientid or api-version"
	}
	if q.Has("update") {
		return "update= sent to Azure"
	}
	if !strings.HasSuffix(r.URL.Path, "/pckcrl") {
		return ""
	}
	uri := q.Get("uri")
	switch uri {
	case AzureRootCRLURL:
		r.URL.Path, r.URL.RawQuery = sim.RootCRLPath, ""
		return ""
	case IntelPCKCRLURL(pcs.CAProcessor), IntelPCKCRLURL(pcs.CAPlatform):
		u, _ := url.Parse(uri)
		r.URL.RawQuery = "ca=" + u.Query().Get("ca") // PEM, the service's default
		return ""
	}
	return "unexpected CRL uri " + uri
}

// renameHeader moves a response header to another name before the response is written.
type renameHeader struct {
	http.ResponseWriter
	from, to string
}

func (rh renameHeader) WriteHeader(code int) {
	if v := rh.Header().Get(rh.from); v != "" {
		rh.Header().Del(rh.from)
		rh.Header().Set(rh.to, v)
	}
	rh.ResponseWriter.WriteHeader(code)
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
