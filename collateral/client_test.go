package collateral

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

var testFMSPC = pcs.FMSPC{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}

func TestClientURL(t *testing.T) {
	const intel = "https://api.trustedservices.intel.com"
	const azure = "https://global.acccache.azure.net/sgx/certification/v4"
	az := "&api-version=2018-10-01-preview&clientid=production_client"
	tests := []struct {
		name string
		cfg  ClientConfig
		item Item
		want string
	}{
		{"intel sgx tcb", ClientConfig{BaseURL: IntelPCSURL}, TCBInfoItem(quote.TEESGX, testFMSPC, ""),
			intel + "/sgx/certification/v4/tcb?fmspc=00A067110000&update=standard"},
		{"intel tdx tcb early", ClientConfig{BaseURL: IntelPCSURL + "/"}, TCBInfoItem(quote.TEETDX, testFMSPC, UpdateEarly),
			intel + "/tdx/certification/v4/tcb?fmspc=00A067110000&update=early"},
		{"intel sgx qe", ClientConfig{BaseURL: IntelPCSURL}, QEIdentityItem(quote.TEESGX, UpdateStandard),
			intel + "/sgx/certification/v4/qe/identity?update=standard"},
		{"intel td_qe", ClientConfig{BaseURL: IntelPCSURL}, QEIdentityItem(quote.TEETDX, UpdateStandard),
			intel + "/tdx/certification/v4/qe/identity?update=standard"},
		{"intel pck crl", ClientConfig{BaseURL: IntelPCSURL}, PCKCRLItem(pcs.CAPlatform),
			intel + "/sgx/certification/v4/pckcrl?ca=platform&encoding=der"},
		{"intel root crl", ClientConfig{BaseURL: IntelPCSURL}, RootCRLItem(), IntelRootCRLURL},
		{"intel root crl mirror", ClientConfig{BaseURL: IntelPCSURL, RootCRLURL: "http://mirror/root.der"}, RootCRLItem(), "http://mirror/root.der"},
		{"explicit tdx base", ClientConfig{BaseURL: "https://pccs:8081/sgx/certification/v4", TDXBaseURL: "https://other/tdx/v4"},
			QEIdentityItem(quote.TEETDX, UpdateStandard), "https://other/tdx/v4/qe/identity?update=standard"},
		{"pccs root crl", ClientConfig{BaseURL: "https://pccs:8081/sgx/certification/v4", Kind: ServicePCCS}, RootCRLItem(),
			"https://pccs:8081/sgx/certification/v4/rootcacrl"},
		{"pccs tdx tcb", ClientConfig{BaseURL: "https://pccs:8081/sgx/certification/v4", Kind: ServicePCCS}, TCBInfoItem(quote.TEETDX, testFMSPC, ""),
			"https://pccs:8081/tdx/certification/v4/tcb?fmspc=00A067110000&update=standard"},
		{"azure tcb", ClientConfig{BaseURL: azure, Kind: ServiceAzure}, TCBInfoItem(quote.TEESGX, testFMSPC, ""),
			azure + "/tcb?" + az[1:] + "&fmspc=00A067110000"},
		{"azure tcb early", ClientConfig{BaseURL: azure, Kind: ServiceAzure}, TCBInfoItem(quote.TEESGX, testFMSPC, UpdateEarly),
			azure + "/tcb?" + az[1:] + "&fmspc=00A067110000&update=early"},
		{"azure qe", ClientConfig{BaseURL: azure, Kind: ServiceAzure, AzureClientID: "me", AzureAPIVersion: "v9"}, QEIdentityItem(quote.TEESGX, ""),
			azure + "/qe/identity?api-version=v9&clientid=me"},
		{"azure pck crl", ClientConfig{BaseURL: azure, Kind: ServiceAzure}, PCKCRLItem(pcs.CAProcessor),
			azure + "/pckcrl?" + az[1:] + "&uri=https%3A%2F%2Fapi.trustedservices.intel.com%2Fsgx%2Fcertification%2Fv4%2Fpckcrl%3Fca%3Dprocessor%26encoding%3Dder"},
		{"azure root crl", ClientConfig{BaseURL: azure, Kind: ServiceAzure}, RootCRLItem(),
			azure + "/pckcrl?" + az[1:] + "&uri=https%3A%2F%2Fcertificates.trustedservices.intel.com%2Fintelsgxrootca.crl"},
		{"azure thim pck crl", ClientConfig{BaseURL: "https://weu.thim.azure.net/sgx/certification/v4", Kind: ServiceAzure, AzureTHIM: true}, PCKCRLItem(pcs.CAPlatform),
			"https://weu.thim.azure.net/sgx/certification/v4/pckcrl?api-version=2018-10-01-preview&ca=platform&clientid=production_client"},
		{"azure thim root crl", ClientConfig{BaseURL: "https://weu.thim.azure.net/sgx/certification/v4", Kind: ServiceAzure, AzureTHIM: true}, RootCRLItem(),
			"https://weu.thim.azure.net/sgx/certification/v4/rootcacrl?" + az[1:]},
		{"azure thim tdx tcb", ClientConfig{BaseURL: "https://weu.thim.azure.net/sgx/certification/v4", Kind: ServiceAzure, AzureTHIM: true}, TCBInfoItem(quote.TEETDX, testFMSPC, ""),
			"https://weu.thim.azure.net/tdx/certification/v4/tcb?" + az[1:] + "&fmspc=00A067110000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.URL(tc.item)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("URL(%s)\n got %s\nwant %s", tc.item, got, tc.want)
			}
		})
	}
}

func TestClientConfigErrors(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{},
		{BaseURL: "api.trustedservices.intel.com/sgx/certification/v4"},
		{BaseURL: "ftp://x/sgx/"},
		{BaseURL: IntelPCSURL, Kind: "amd"},
		{BaseURL: IntelPCSURL, TDXBaseURL: "::"},
		{BaseURL: IntelPCSURL, RootCRLURL: "/relative"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) succeeded", cfg)
		}
	}
	c, err := NewClient(ClientConfig{BaseURL: "https://pccs/certification/v4"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.URL(TCBInfoItem(quote.TEETDX, testFMSPC, "")); err == nil {
		t.Error("TDX URL without a derivable TDX base")
	}
	for _, it := range []Item{{Kind: "pckcert"}, {Kind: KindPCKCRL, CA: "other"}, {Kind: KindTCBInfo, TEE: 7, Update: UpdateStandard}, {Kind: KindQEIdentity, Update: "late"}} {
		if _, err := c.URL(it); err == nil {
			t.Errorf("URL(%+v) succeeded", it)
		}
	}
}

// flaky answers with the statuses in order (then 200), counting requests and recording the
// User-Agent.
type flaky struct {
	statuses []int
	delay    []time.Duration
	n        atomic.Int64
	ua       atomic.Value
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(f.n.Add(1)) - 1
	f.ua.Store(r.UserAgent())
	if i < len(f.delay) {
		select {
		case <-time.After(f.delay[i]):
		case <-r.Context().Done():
			return
		}
	}
	if i < len(f.statuses) && f.statuses[i] != http.StatusOK {
		w.Header().Set("Error-Code", "InternalError")
		w.WriteHeader(f.statuses[i])
		_, _ = io.WriteString(w, strings.Repeat("x", 90)+"SECRET-TAIL-NEVER-QUOTED")
		return
	}
	_, _ = w.Write([]byte("root crl bytes"))
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name      string
		statuses  []int
		delay     []time.Duration
		attempts  int
		wantN     int64
		wantErr   error
		wantState int
	}{
		{"ok", nil, nil, 4, 1, nil, 0},
		{"5xx then ok", []int{503, 500}, nil, 4, 3, nil, 0},
		{"5xx exhausted", []int{503, 503, 503}, nil, 3, 3, ErrStatus, 503},
		{"404 not retried", []int{404}, nil, 4, 1, ErrStatus, 404},
		{"429 not retried", []int{429}, nil, 4, 1, ErrStatus, 429},
		{"timeout then ok", nil, []time.Duration{time.Second}, 4, 2, nil, 0},
		{"timeouts exhausted", nil, []time.Duration{time.Second, time.Second}, 2, 2, ErrTransport, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &flaky{statuses: tc.statuses, delay: tc.delay}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c, err := NewClient(ClientConfig{
				BaseURL: srv.URL + "/sgx/certification/v4", RootCRLURL: srv.URL + "/root.der", HTTPClient: srv.Client(),
				Timeout: 100 * time.Millisecond, Attempts: tc.attempts, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
				UserAgent: "test-agent/1",
			})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := c.Fetch(context.Background(), RootCRLItem())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if got := f.n.Load(); got != tc.wantN {
				t.Errorf("%d requests, want %d", got, tc.wantN)
			}
			if got := f.ua.Load(); got != "test-agent/1" {
				t.Errorf("User-Agent %q", got)
			}
			if err != nil {
				e, ok := errors.AsType[*Error](err)
				if !ok || e.Status != tc.wantState || e.Item != RootCRLItem() || e.URL != srv.URL+"/root.der" {
					t.Errorf("error %#v: want status %d, item and URL", err, tc.wantState)
				}
				if strings.Contains(err.Error(), "SECRET-TAIL") {
					t.Errorf("error quotes more than a short body prefix: %v", err)
				}
				return
			}
			if string(doc.Body) != "root crl bytes" || doc.IssuerChain != nil || doc.Item != RootCRLItem() {
				t.Errorf("document %+v", doc)
			}
		})
	}
}

func TestClientContextCancel(t *testing.T) {
	f := &flaky{delay: []time.Duration{time.Minute}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c, err := NewClient(ClientConfig{BaseURL: srv.URL + "/sgx/certification/v4", RootCRLURL: srv.URL + "/r", HTTPClient: srv.Client(), Attempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Fetch(ctx, RootCRLItem())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the caller's deadline", err)
	}
	if n := f.n.Load(); n != 1 {
		t.Errorf("%d requests after the caller gave up, want 1", n)
	}
}

func TestClientBodyLimit(t *testing.T) {
	const limit = 1000
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		wantErr error
	}{
		{"at limit", limit, false, nil},
		{"declared too large", limit + 1, false, ErrTooLarge},
		{"chunked at limit", limit, true, nil},
		{"chunked too large", 50 * limit, true, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n.Add(1)
				body := strings.Repeat("a", tc.size)
				if tc.chunked {
					for i := 0; i < len(body); i += 100 {
						_, _ = io.WriteString(w, body[i:min(i+100, len(body))])
						w.(http.Flusher).Flush()
					}
					return
				}
				_, _ = io.WriteString(w, body)
			}))
			defer srv.Close()
			c, err := NewClient(ClientConfig{BaseURL: srv.URL + "/sgx/", RootCRLURL: srv.URL, HTTPClient: srv.Client(), MaxBodySize: limit, Backoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := c.Fetch(context.Background(), RootCRLItem())
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && len(doc.Body) != tc.size {
				t.Errorf("body %d bytes, want %d", len(doc.Body), tc.size)
			}
			if n.Load() != 1 {
				t.Errorf("%d requests: an oversized body must not be retried", n.Load())
			}
		})
	}
}

func TestReadLimitedBounded(t *testing.T) {
	// An endless body: readLimited must stop after limit+1 bytes.
	r := &countingReader{}
	if _, err := readLimited(r, -1, 4096); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if r.n > 2*4096 {
		t.Errorf("read %d bytes of an endless body with a 4096-byte limit", r.n)
	}
}

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += len(p)
	return len(p), nil
}

func TestBackoff(t *testing.T) {
	c := &Client{backoff: 100 * time.Millisecond, maxBack: time.Second}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 20 {
			if d := c.backoffFor(n); d < want/2 || d > want {
				t.Errorf("backoffFor(%d) = %v, want in [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestDefaultUserAgent(t *testing.T) {
	c, err := NewClient(ClientConfig{BaseURL: IntelPCSURL})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.userAgent, "secretprov/") || c.hc == http.DefaultClient {
		t.Errorf("user agent %q, client default %v", c.userAgent, c.hc == http.DefaultClient)
	}
}
