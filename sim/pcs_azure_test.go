package sim_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// Intel's CRL names as Azure's clients send them in uri= (dcap spec §6.3).
const (
	intelRootCRLName      = "https://certificates.trustedservices.intel.com/intelsgxrootca.crl"
	intelRootCRLCDP       = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	intelProcessorCRLName = "https://certificates.trustedservices.intel.com/intelsgxpckprocessor.crl"
	intelPlatformCRLV4    = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
)

// azureQuery is the query Azure's clients add: clientid and api-version, plus extra.
func azureQuery(apiVersion string, extra ...string) string {
	q := url.Values{"clientid": {"production_client"}, "api-version": {apiVersion}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Add(extra[i], extra[i+1])
	}
	return "?" + q.Encode()
}

// azureWant checks a successful Azure answer: status, Cache-Control, and the body.
type azureWant func(t *testing.T, w *sim.World, r got)

func wantTCBInfo(tee quote.TEE, header string) azureWant {
	return func(t *testing.T, w *sim.World, r got) {
		t.Helper()
		want, _ := w.TCBInfo(tee)
		ti, err := pcs.ParseTCBInfo(r.body)
		if err != nil || !bytes.Equal(ti.Raw, want.Raw) {
			t.Fatalf("not the world's TCB Info: %v", err)
		}
		signer, _ := w.Certificate(sim.RoleTCBSigning)
		chainHeader(t, r.header, header, signer, w.Root())
		for _, other := range []string{sim.HeaderTCBInfoIssuerChain, sim.HeaderSGXTCBInfoIssuerChain} {
			if other != header && r.header.Get(other) != "" {
				t.Errorf("%s sent besides %s", other, header)
			}
		}
	}
}

func wantQEIdentity(tee quote.TEE) azureWant {
	return func(t *testing.T, w *sim.World, r got) {
		t.Helper()
		qe, err := pcs.ParseQEIdentity(r.body)
		if err != nil || qe.CheckFor(tee) != nil {
			t.Fatalf("not the %s QE Identity: %v", tee, err)
		}
		signer, _ := w.Certificate(sim.RoleTCBSigning)
		chainHeader(t, r.header, sim.HeaderEnclaveIdentityIssuerChain, signer, w.Root())
	}
}

// wantCRL checks a CRL answer: the encoding, the CRL (root CRL when ca is ""), and, unless
// chain is false, the issuer chain header.
func wantCRL(ca pcs.CAType, asPEM, chain bool) azureWant {
	return func(t *testing.T, w *sim.World, r got) {
		t.Helper()
		want, issuerRole := w.RootCRL(), sim.RoleRoot
		if ca != "" {
			want, _ = w.PCKCRL(ca)
			issuerRole = map[pcs.CAType]sim.Role{pcs.CAProcessor: sim.RoleProcessorCA, pcs.CAPlatform: sim.RolePlatformCA}[ca]
		}
		der := r.body
		if block, _ := pem.Decode(r.body); asPEM {
			if block == nil || block.Type != "X509 CRL" {
				t.Fatalf("not a PEM CRL: %.30q", r.body)
			}
			der = block.Bytes
		}
		if !bytes.Equal(der, want.Raw) {
			t.Fatalf("not the CRL of %q (PEM %v)", ca, asPEM)
		}
		if !chain {
			return
		}
		issuer, _ := w.Certificate(issuerRole)
		if ca == "" {
			chainHeader(t, r.header, sim.HeaderPCKCRLIssuerChain, issuer)
			return
		}
		chainHeader(t, r.header, sim.HeaderPCKCRLIssuerChain, issuer, w.Root())
	}
}

// TestPCSAzureDialects: each Azure request is answered in Azure's shape by a handler that
// speaks its dialect, and refused by one that speaks only the other Azure dialect.
func TestPCSAzureDialects(t *testing.T) {
	w := sharedWorld(t)
	fmspc := func(tee quote.TEE) string { ti, _ := w.TCBInfo(tee); return ti.FMSPC.String() }
	v18, v20 := sim.AzureAPIVersion2018, sim.AzureAPIVersion2020
	tests := []struct {
		name         string
		url          string
		global, thim bool // served by a handler of only that dialect
		want         azureWant
	}{
		{"sgx tcb", sim.SGXBasePath + "/tcb" + azureQuery(v18, "fmspc", fmspc(quote.TEESGX)), true, true,
			wantTCBInfo(quote.TEESGX, sim.HeaderSGXTCBInfoIssuerChain)},
		{"tdx tcb", sim.TDXBasePath + "/tcb" + azureQuery(v18, "fmspc", fmspc(quote.TEETDX)), true, true,
			wantTCBInfo(quote.TEETDX, sim.HeaderTCBInfoIssuerChain)},
		{"sgx tcb early", sim.SGXBasePath + "/tcb" + azureQuery(v18, "fmspc", fmspc(quote.TEESGX), "update", "early"), true, true,
			wantTCBInfo(quote.TEESGX, sim.HeaderSGXTCBInfoIssuerChain)},
		{"sgx qe", sim.SGXBasePath + "/qe/identity" + azureQuery(v18), true, true, wantQEIdentity(quote.TEESGX)},
		{"td_qe", sim.TDXBasePath + "/qe/identity" + azureQuery(v20), true, true, wantQEIdentity(quote.TEETDX)},
		{"global root crl 2018 der", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "uri", intelRootCRLName), true, false,
			wantCRL("", false, true)},
		{"global root crl 2020 pem", sim.SGXBasePath + "/pckcrl" + azureQuery(v20, "uri", intelRootCRLName), true, false,
			wantCRL("", true, true)},
		{"global root crl by cdp", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "uri", intelRootCRLCDP), true, false,
			wantCRL("", false, true)},
		{"global root crl sim cdp", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "uri", sim.RootCRLURL), true, false,
			wantCRL("", false, true)},
		{"global processor crl", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "uri", intelProcessorCRLName), true, false,
			wantCRL(pcs.CAProcessor, false, true)},
		{"global platform crl 2020", sim.SGXBasePath + "/pckcrl" + azureQuery(v20, "uri", intelPlatformCRLV4), true, false,
			wantCRL(pcs.CAPlatform, true, true)},
		{"global crl sim cdp", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "uri", sim.PCKCRLURL(pcs.CAPlatform)), true, false,
			wantCRL(pcs.CAPlatform, false, true)},
		// az-dcap-client percent-encodes an already encoded name (issue #154's logs).
		{"global crl name encoded twice", sim.SGXBasePath + "/pckcrl" + azureQuery(v20, "uri", url.QueryEscape(intelProcessorCRLName)), true, false,
			wantCRL(pcs.CAProcessor, true, true)},
		{"thim pck crl", sim.SGXBasePath + "/pckcrl" + azureQuery(v18, "ca", "processor"), false, true,
			wantCRL(pcs.CAProcessor, false, true)},
		{"thim pck crl pem asked, der sent", sim.SGXBasePath + "/pckcrl" + azureQuery(v20, "ca", "platform", "encoding", "pem"), false, true,
			wantCRL(pcs.CAPlatform, false, true)},
		{"thim root crl", sim.SGXBasePath + "/rootcacrl" + azureQuery(v18), false, true, wantCRL("", false, false)},
	}
	servers := map[string]*struct {
		opts  []sim.PCSOption
		serve func(global, thim bool) bool
	}{
		"all":    {nil, func(bool, bool) bool { return true }},
		"global": {[]sim.PCSOption{sim.WithDialects(sim.DialectAzure)}, func(g, _ bool) bool { return g }},
		"thim":   {[]sim.PCSOption{sim.WithDialects(sim.DialectAzureTHIM)}, func(_, th bool) bool { return th }},
	}
	for sname, s := range servers {
		srv, _ := newPCS(t, w, s.opts...)
		for _, tc := range tests {
			t.Run(sname+"/"+tc.name, func(t *testing.T) {
				r := get(t, srv, tc.url)
				if !s.serve(tc.global, tc.thim) {
					if r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
						t.Fatalf("served by a handler without the dialect: %d", r.status)
					}
					return
				}
				if r.status != http.StatusOK || r.err != nil {
					t.Fatalf("%d %v %v", r.status, r.header, r.err)
				}
				if got := r.header.Get("Cache-Control"); got != sim.AzureCacheControl {
					t.Errorf("Cache-Control %q", got)
				}
				tc.want(t, w, r)
			})
		}
	}
}

// TestPCSAzureIntelOnly: a handler of Intel's dialect alone ignores Azure's parameters on
// documents and refuses Azure's CRL requests.
func TestPCSAzureIntelOnly(t *testing.T) {
	w := sharedWorld(t)
	srv, _ := newPCS(t, w, sim.WithDialects(sim.DialectIntel))
	sgx, _ := w.TCBInfo(quote.TEESGX)
	r := get(t, srv, sim.SGXBasePath+"/tcb"+azureQuery(sim.AzureAPIVersion2018, "fmspc", sgx.FMSPC.String()))
	if r.status != http.StatusOK || r.header.Get("Cache-Control") != "" {
		t.Fatalf("tcb: %d %v", r.status, r.header)
	}
	wantTCBInfo(quote.TEESGX, sim.HeaderTCBInfoIssuerChain)(t, w, r)
	for _, u := range []string{
		sim.SGXBasePath + "/pckcrl" + azureQuery(sim.AzureAPIVersion2018, "uri", intelRootCRLName),
		sim.SGXBasePath + "/pckcrl?uri=" + url.QueryEscape(intelRootCRLName),
	} {
		if r := get(t, srv, u); r.status != http.StatusBadRequest || r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeInvalidParameter {
			t.Errorf("%s: %d %v", u, r.status, r.header)
		}
	}
}

func TestPCSAzureErrors(t *testing.T) {
	w := sharedWorld(t)
	sgxFMSPC := sim.DefaultSGXFMSPC.String()
	v18 := sim.AzureAPIVersion2018
	tcb := sim.SGXBasePath + "/tcb"
	crl := sim.SGXBasePath + "/pckcrl"
	tests := []struct {
		name     string
		dialects []sim.Dialect // nil: all
		url      string
		status   int
		code     string
	}{
		{"clientid without api-version", nil, tcb + "?fmspc=" + sgxFMSPC + "&clientid=production_client", 400, sim.ErrorCodeMissingAPIVersion},
		{"crl uri without api-version", nil, crl + "?uri=" + url.QueryEscape(intelRootCRLName), 400, sim.ErrorCodeMissingAPIVersion},
		{"unknown api-version", nil, tcb + azureQuery("2019-01-01", "fmspc", sgxFMSPC), 400, sim.ErrorCodeInvalidAPIVersion},
		{"empty api-version", nil, tcb + azureQuery("", "fmspc", sgxFMSPC), 400, sim.ErrorCodeInvalidAPIVersion},
		{"api-version twice", nil, tcb + azureQuery(v18, "fmspc", sgxFMSPC, "api-version", v18), 400, sim.ErrorCodeInvalidAPIVersion},
		{"no clientid", nil, tcb + "?fmspc=" + sgxFMSPC + "&api-version=" + v18, 400, sim.ErrorCodeInvalidParameter},
		{"empty clientid", nil, tcb + "?fmspc=" + sgxFMSPC + "&clientid=&api-version=" + v18, 400, sim.ErrorCodeInvalidParameter},
		{"bad fmspc", nil, tcb + azureQuery(v18, "fmspc", "00A0"), 400, sim.ErrorCodeInvalidParameter},
		{"unknown fmspc", nil, tcb + azureQuery(v18, "fmspc", "00906ED50000"), 404, sim.ErrorCodeNotFound},
		{"unknown crl host", nil, crl + azureQuery(v18, "uri", "https://example.com/intelsgxrootca.crl"), 404, sim.ErrorCodeNotFound},
		{"unknown crl name", nil, crl + azureQuery(v18, "uri", "https://certificates.trustedservices.intel.com/other.crl"), 404, sim.ErrorCodeNotFound},
		{"crl uri not a url", nil, crl + azureQuery(v18, "uri", "intelsgxrootca.crl"), 404, sim.ErrorCodeNotFound},
		{"crl bad ca in uri", nil, crl + azureQuery(v18, "uri", "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=intel"), 404, sim.ErrorCodeNotFound},
		{"crl uri and ca", nil, crl + azureQuery(v18, "uri", intelRootCRLName, "ca", "processor"), 400, sim.ErrorCodeInvalidParameter},
		{"thim bad ca", nil, crl + azureQuery(v18, "ca", "intel"), 400, sim.ErrorCodeInvalidParameter},
		{"thim bad encoding", nil, crl + azureQuery(v18, "ca", "processor", "encoding", "base64"), 400, sim.ErrorCodeInvalidParameter},
		{"pckcert not simulated", nil, sim.SGXBasePath + "/pckcert" + azureQuery(sim.AzureAPIVersion2021, "qeid", "00"), 404, sim.ErrorCodeNotFound},
		{"pccs crl path", nil, sim.SGXBasePath + "/crl" + azureQuery(v18, "uri", sim.RootCRLURL), 404, sim.ErrorCodeNotFound},
		{"azure only: intel request", []sim.Dialect{sim.DialectAzure, sim.DialectAzureTHIM}, tcb + "?fmspc=" + sgxFMSPC, 400, sim.ErrorCodeMissingAPIVersion},
		{"azure only: root crl path", []sim.Dialect{sim.DialectAzure}, sim.RootCRLPath, 400, sim.ErrorCodeMissingAPIVersion},
		{"global only: crl by ca", []sim.Dialect{sim.DialectAzure}, crl + azureQuery(v18, "ca", "processor"), 400, sim.ErrorCodeInvalidParameter},
		{"global only: rootcacrl", []sim.Dialect{sim.DialectAzure}, sim.SGXBasePath + "/rootcacrl" + azureQuery(v18), 404, sim.ErrorCodeNotFound},
		{"thim only: crl by uri", []sim.Dialect{sim.DialectAzureTHIM}, crl + azureQuery(v18, "uri", intelRootCRLName), 404, sim.ErrorCodeNotFound},
		{"unknown dialect only", []sim.Dialect{"amd"}, tcb + "?fmspc=" + sgxFMSPC, 400, sim.ErrorCodeMissingAPIVersion},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []sim.PCSOption
			if tc.dialects != nil {
				opts = append(opts, sim.WithDialects(tc.dialects...))
			}
			srv, _ := newPCS(t, w, opts...)
			r := get(t, srv, tc.url)
			if r.status != tc.status || r.header.Get(sim.HeaderErrorCode) != tc.code || r.header.Get(sim.HeaderErrorMessage) == "" {
				t.Errorf("%d %v, want %d %s", r.status, r.header, tc.status, tc.code)
			}
			if r.header.Get("Cache-Control") != "" {
				t.Error("Cache-Control on an error")
			}
		})
	}
}

// TestPCSAzureFaults: fault switches match the URL path, so they apply to Azure's requests as
// to Intel's, and Azure's requests are counted.
func TestPCSAzureFaults(t *testing.T) {
	w := sharedWorld(t)
	crlPath := sim.SGXBasePath + "/pckcrl"
	globalURL := crlPath + azureQuery(sim.AzureAPIVersion2018, "uri", intelProcessorCRLName)
	thimURL := crlPath + azureQuery(sim.AzureAPIVersion2018, "ca", "processor")
	tcbURL := sim.SGXBasePath + "/tcb" + azureQuery(sim.AzureAPIVersion2018, "fmspc", sim.DefaultSGXFMSPC.String())
	issuer, _ := w.Certificate(sim.RoleProcessorCA)
	crlErr := func(r got) error {
		if r.err != nil {
			return r.err
		}
		crl, err := pcs.ParseCRL(r.body)
		if err != nil {
			return err
		}
		return pcs.VerifyCRL(crl, issuer)
	}
	tcbErr := tcbInfoCheck(t, w)
	tests := []struct {
		name   string
		prefix string
		fault  sim.Fault
		urls   []string
		check  func(t *testing.T, r got)
	}{
		{"down", "/", sim.Fault{Status: http.StatusServiceUnavailable}, []string{globalURL, thimURL, tcbURL}, func(t *testing.T, r got) {
			if r.status != http.StatusServiceUnavailable || r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeSimulatedFault {
				t.Errorf("%d %v", r.status, r.header)
			}
		}},
		{"garbage crl", crlPath, sim.Fault{Body: sim.BodyGarbage}, []string{globalURL, thimURL}, func(t *testing.T, r got) {
			if r.status != http.StatusOK || crlErr(r) == nil {
				t.Errorf("%d, garbage parsed as a CRL", r.status)
			}
		}},
		{"bad crl signature", crlPath, sim.Fault{BadSignature: true}, []string{globalURL, thimURL}, func(t *testing.T, r got) {
			if err := crlErr(r); !errors.Is(err, pcs.ErrSignature) {
				t.Errorf("CRL check %v, want a signature error", err)
			}
		}},
		{"bad tcb signature", "/sgx/", sim.Fault{BadSignature: true}, []string{tcbURL}, func(t *testing.T, r got) {
			if err := tcbErr(r); !errors.Is(err, pcs.ErrSignature) {
				t.Errorf("TCB Info check %v, want a signature error", err)
			}
		}},
		{"truncated", "/sgx/", sim.Fault{Body: sim.BodyTruncated}, []string{globalURL, tcbURL}, func(t *testing.T, r got) {
			if !errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Errorf("read %v, want unexpected EOF", r.err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv, f := newPCS(t, w)
			f.Set(tc.prefix, tc.fault)
			for _, u := range tc.urls {
				tc.check(t, get(t, srv, u))
			}
			f.ClearAll()
			for _, u := range tc.urls {
				if r := get(t, srv, u); r.status != http.StatusOK || r.err != nil {
					t.Errorf("after ClearAll: %d %v", r.status, r.err)
				}
			}
			if n := f.TotalRequests(); n != 2*len(tc.urls) {
				t.Errorf("%d requests counted, want %d", n, 2*len(tc.urls))
			}
		})
	}
}
