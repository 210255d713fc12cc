package sim_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

type got struct {
	status int
	header http.Header
	body   []byte
	err    error // reading the body
}

func get(t *testing.T, srv *httptest.Server, path string) got {
	t.Helper()
	return getCtx(t, context.Background(), srv, path)
}

func getCtx(t *testing.T, ctx context.Context, srv *httptest.Server, path string) got {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return got{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return got{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

func newPCS(t *testing.T, w *sim.World, opts ...sim.PCSOption) (*httptest.Server, *sim.Faults) {
	t.Helper()
	f := sim.NewFaults()
	srv := httptest.NewServer(sim.PCSHandler(w, append([]sim.PCSOption{sim.WithFaults(f)}, opts...)...))
	t.Cleanup(srv.Close)
	return srv, f
}

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// chainHeader parses an issuer-chain header and checks it names these certificates.
func chainHeader(t *testing.T, h http.Header, name string, want ...*x509.Certificate) {
	t.Helper()
	chain, err := pcs.ParseIssuerChainHeader(h.Get(name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(chain) != len(want) {
		t.Fatalf("%s: %d certificates, want %d", name, len(chain), len(want))
	}
	for i := range want {
		if !chain[i].Equal(want[i]) {
			t.Errorf("%s[%d] = %s, want %s", name, i, chain[i].Subject, want[i].Subject)
		}
	}
	if strings.ContainsAny(h.Get(name), " \n+/=") {
		t.Errorf("%s is not percent-encoded like Intel's", name)
	}
}

func TestPCSDocuments(t *testing.T) {
	w := sharedWorld(t)
	srv, f := newPCS(t, w)
	root := w.Root()
	signer, err := w.Certificate(sim.RoleTCBSigning)
	if err != nil {
		t.Fatal(err)
	}
	for _, tee := range tees {
		base := map[quote.TEE]string{quote.TEESGX: sim.SGXBasePath, quote.TEETDX: sim.TDXBasePath}[tee]
		want, _ := w.TCBInfo(tee)
		for _, query := range []string{"", "&update=standard", "&update=early", "&tcbEvaluationDataNumber=19"} {
			r := get(t, srv, base+"/tcb?fmspc="+strings.ToLower(want.FMSPC.String())+query)
			if r.status != http.StatusOK {
				t.Fatalf("%s tcb%s: %d %v", tee, query, r.status, r.header)
			}
			ti, err := pcs.ParseTCBInfo(r.body)
			if err != nil || !bytes.Equal(ti.Raw, want.Raw) || ti.CheckSignature(signer) != nil {
				t.Fatalf("%s tcb: %v", tee, err)
			}
			chainHeader(t, r.header, sim.HeaderTCBInfoIssuerChain, signer, root)
			if !requestIDRE.MatchString(r.header.Get(sim.HeaderRequestID)) {
				t.Errorf("Request-ID %q", r.header.Get(sim.HeaderRequestID))
			}
		}
		r := get(t, srv, base+"/qe/identity?update=standard")
		qe, err := pcs.ParseQEIdentity(r.body)
		if r.status != http.StatusOK || err != nil || qe.CheckFor(tee) != nil || qe.CheckSignature(signer) != nil {
			t.Fatalf("%s qe identity: %d %v", tee, r.status, err)
		}
		chainHeader(t, r.header, sim.HeaderEnclaveIdentityIssuerChain, signer, root)
	}
	for _, ca := range []pcs.CAType{pcs.CAProcessor, pcs.CAPlatform} {
		issuer, _ := w.Certificate(map[pcs.CAType]sim.Role{pcs.CAProcessor: sim.RoleProcessorCA, pcs.CAPlatform: sim.RolePlatformCA}[ca])
		want, _ := w.PCKCRL(ca)
		pemResp := get(t, srv, sim.SGXBasePath+"/pckcrl?ca="+string(ca))
		derResp := get(t, srv, sim.SGXBasePath+"/pckcrl?ca="+string(ca)+"&encoding=der")
		if block, _ := pem.Decode(pemResp.body); block == nil || block.Type != "X509 CRL" || !bytes.Equal(block.Bytes, want.Raw) {
			t.Errorf("%s pckcrl: not the PEM CRL", ca)
		}
		if !bytes.Equal(derResp.body, want.Raw) || derResp.header.Get("Content-Type") != "application/pkix-crl" {
			t.Errorf("%s pckcrl encoding=der: not the DER CRL", ca)
		}
		for _, r := range []got{pemResp, derResp} {
			chainHeader(t, r.header, sim.HeaderPCKCRLIssuerChain, issuer, root)
			crl, err := pcs.ParseCRL(r.body)
			if err != nil || pcs.VerifyCRL(crl, issuer) != nil {
				t.Errorf("%s pckcrl: %v", ca, err)
			}
		}
		if r := get(t, srv, sim.SGXBasePath+"/crl?uri="+url.QueryEscape(sim.PCKCRLURL(ca))); !bytes.Equal(r.body, want.Raw) {
			t.Errorf("%s crl?uri=: not the DER CRL", ca)
		}
	}
	rootCRL := w.RootCRL().Raw
	for path, want := range map[string][]byte{
		sim.SGXBasePath + "/rootcacrl":                                  []byte(hex.EncodeToString(rootCRL)),
		sim.SGXBasePath + "/crl?uri=" + url.QueryEscape(sim.RootCRLURL): rootCRL,
		sim.RootCRLPath: rootCRL,
	} {
		if r := get(t, srv, path); r.status != http.StatusOK || !bytes.Equal(r.body, want) {
			t.Errorf("%s: %d, body %.40q", path, r.status, r.body)
		}
	}
	if n := f.Requests(sim.SGXBasePath + "/tcb"); n != 4 {
		t.Errorf("requests for sgx tcb = %d, want 4", n)
	}
	if n := f.TotalRequests(); n != 19 {
		t.Errorf("total requests = %d, want 19", n)
	}
}

func TestPCSErrors(t *testing.T) {
	w := sharedWorld(t)
	srv, _ := newPCS(t, w)
	sgxFMSPC := sim.DefaultSGXFMSPC.String()
	tests := []struct {
		path   string
		status int
		code   string
	}{
		{sim.SGXBasePath + "/tcb", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=00A0", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=zz0000000000", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=" + sgxFMSPC + "&update=sometimes", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=" + sgxFMSPC + "&update=early&tcbEvaluationDataNumber=19", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=" + sgxFMSPC + "&tcbEvaluationDataNumber=x", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/tcb?fmspc=" + sgxFMSPC + "&tcbEvaluationDataNumber=3", 404, sim.ErrorCodeNotFound},
		{sim.SGXBasePath + "/tcb?fmspc=00906ED50000", 404, sim.ErrorCodeNotFound},
		{sim.TDXBasePath + "/tcb?fmspc=" + sgxFMSPC, 404, sim.ErrorCodeNotFound},
		{sim.SGXBasePath + "/qe/identity?update=late", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/pckcrl", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/pckcrl?ca=intel", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/pckcrl?ca=processor&encoding=base64", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/crl", 400, sim.ErrorCodeInvalidParameter},
		{sim.SGXBasePath + "/crl?uri=https%3A%2F%2Fexample.com%2Fx.crl", 404, sim.ErrorCodeNotFound},
		{sim.SGXBasePath + "/pckcert", 400, sim.ErrorCodeInvalidParameter},
		{sim.TDXBasePath + "/pckcrl?ca=platform", 404, sim.ErrorCodeNotFound},
		{"/", 404, sim.ErrorCodeNotFound},
	}
	for _, tc := range tests {
		r := get(t, srv, tc.path)
		if r.status != tc.status || r.header.Get(sim.HeaderErrorCode) != tc.code || r.header.Get(sim.HeaderErrorMessage) == "" ||
			r.header.Get(sim.HeaderRequestID) == "" {
			t.Errorf("%s: %d %v, want %d %s", tc.path, r.status, r.header, tc.status, tc.code)
		}
	}
	resp, err := srv.Client().Post(srv.URL+sim.SGXBasePath+"/tcb", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	head, err := srv.Client().Head(srv.URL + sim.SGXBasePath + "/qe/identity")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK || head.ContentLength <= 0 {
		t.Errorf("HEAD: %d, length %d", head.StatusCode, head.ContentLength)
	}
}

// tcbInfoCheck returns a check of a fetched TCB Info: the fetch's error, else the error of
// parsing it and checking its signature with w's TCB signing certificate.
func tcbInfoCheck(t *testing.T, w *sim.World) func(got) error {
	t.Helper()
	signer, err := w.Certificate(sim.RoleTCBSigning)
	if err != nil {
		t.Fatal(err)
	}
	return func(r got) error {
		if r.err != nil {
			return r.err
		}
		ti, err := pcs.ParseTCBInfo(r.body)
		if err != nil {
			return err
		}
		return ti.CheckSignature(signer)
	}
}

func TestPCSFaults(t *testing.T) {
	w := sharedWorld(t)
	tcbPath := sim.SGXBasePath + "/tcb"
	tcbURL := tcbPath + "?fmspc=" + sim.DefaultSGXFMSPC.String()
	parses := tcbInfoCheck(t, w)
	tests := []struct {
		name  string
		fault sim.Fault
		check func(t *testing.T, r got)
	}{
		{"status", sim.Fault{Status: 503}, func(t *testing.T, r got) {
			if r.status != 503 || r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeSimulatedFault {
				t.Errorf("got %d %v", r.status, r.header)
			}
		}},
		{"garbage", sim.Fault{Body: sim.BodyGarbage}, func(t *testing.T, r got) {
			if r.status != 200 || !errors.Is(parses(r), pcs.ErrFormat) {
				t.Errorf("got %d, parse %v", r.status, parses(r))
			}
		}},
		{"short", sim.Fault{Body: sim.BodyShort}, func(t *testing.T, r got) {
			if r.err != nil || !errors.Is(parses(r), pcs.ErrFormat) {
				t.Errorf("read %v, parse %v", r.err, parses(r))
			}
		}},
		{"truncated", sim.Fault{Body: sim.BodyTruncated}, func(t *testing.T, r got) {
			if !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("read error %v, want unexpected EOF", r.err)
			}
		}},
		{"oversized", sim.Fault{Body: sim.BodyOversized}, func(t *testing.T, r got) {
			if len(r.body) != sim.OversizedBodySize || !errors.Is(parses(r), pcs.ErrFormat) {
				t.Errorf("%d bytes, parse %v", len(r.body), parses(r))
			}
		}},
		{"bad signature", sim.Fault{BadSignature: true}, func(t *testing.T, r got) {
			if err := parses(r); !errors.Is(err, pcs.ErrSignature) {
				t.Errorf("parse %v, want a signature error", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, f := newPCS(t, w)
			f.Set(tcbPath, tc.fault)
			tc.check(t, get(t, srv, tcbURL))
			if r := get(t, srv, sim.SGXBasePath+"/qe/identity"); r.status != 200 || r.err != nil {
				t.Errorf("other path affected: %d %v", r.status, r.err)
			}
			f.Clear(tcbPath)
			if err := parses(get(t, srv, tcbURL)); err != nil {
				t.Errorf("after Clear: %v", err)
			}
			if f.Requests(tcbPath) != 2 {
				t.Errorf("requests = %d", f.Requests(tcbPath))
			}
		})
	}
}

func TestPCSFaultTimesAndDelay(t *testing.T) {
	w := sharedWorld(t)
	srv, f := newPCS(t, w)
	qePath := sim.TDXBasePath + "/qe/identity"
	f.Set("/tdx/", sim.Fault{Status: 500, Times: 2})
	for i, want := range []int{500, 500, 200} {
		if r := get(t, srv, qePath); r.status != want {
			t.Errorf("request %d: %d, want %d", i, r.status, want)
		}
	}
	f.Set("", sim.Fault{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if r := getCtx(t, ctx, srv, qePath); !errors.Is(r.err, context.DeadlineExceeded) {
		t.Errorf("delayed request: %v, want a deadline error", r.err)
	}
	f.Set("", sim.Fault{Delay: 10 * time.Millisecond})
	start := time.Now()
	if r := get(t, srv, qePath); r.status != 200 || time.Since(start) < 10*time.Millisecond {
		t.Errorf("short delay: %d after %v", r.status, time.Since(start))
	}
	f.ClearAll()
	f.ResetCounters()
	if f.TotalRequests() != 0 {
		t.Error("counters not reset")
	}
	// CRLs with a bad signature still parse but do not verify.
	f.Set(sim.SGXBasePath+"/pckcrl", sim.Fault{BadSignature: true})
	crl, err := pcs.ParseCRL(get(t, srv, sim.SGXBasePath+"/pckcrl?ca=processor").body)
	issuer, _ := w.Certificate(sim.RoleProcessorCA)
	if err != nil || !errors.Is(pcs.VerifyCRL(crl, issuer), pcs.ErrSignature) {
		t.Errorf("bad CRL signature: parse %v", err)
	}
}

// TestPCSConcurrentFaultsAndForge flips faults and changes the world while clients fetch (run
// with -race).
func TestPCSConcurrentFaultsAndForge(t *testing.T) {
	w := newWorld(t, sim.Options{})
	srv, f := newPCS(t, w)
	p := platform(t, w, quote.TEESGX, pcs.StatusUpToDate)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 10 {
				get(t, srv, sim.SGXBasePath+"/pckcrl?ca=processor&encoding=der")
				if i%2 == 0 {
					f.Set("/sgx/", sim.Fault{Status: 503, Times: 1})
				}
			}
		})
	}
	wg.Go(func() {
		if err := w.Revoke(p.PCK()); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	f.ClearAll()
	crl, err := pcs.ParseCRL(get(t, srv, sim.SGXBasePath+"/pckcrl?ca=processor&encoding=der").body)
	if err != nil || pcs.CheckRevocation(crl, p.PCK(), pcs.DocPCKCert) == nil {
		t.Errorf("the revocation is not served: %v", err)
	}
	if n := f.Requests(sim.SGXBasePath + "/pckcrl"); n != 81 {
		t.Errorf("requests = %d, want 81", n)
	}
}
