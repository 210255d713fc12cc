package sim

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Azure's two caching services speak Intel's v4 paths with their own query parameters, header
// names and CRL encodings (dcap spec §6.3). What the simulator relies on, and where from:
//
//   - Requests. microsoft/Azure-DCAP-Client (src/dcap_provider.cpp: build_tcb_info_url,
//     build_pck_crl_url, build_enclave_id_url) adds clientid= and api-version= to every request
//     for the global cache https://global.acccache.azure.net/sgx/certification/vN/...; the logs
//     quoted in its issues #154 and #174 show the URLs as sent, e.g. .../v3/tcb?fmspc=...&
//     clientid=production_client&api-version=2018-10-01-preview and .../v3/pckcrl?uri=
//     https%253a%252f%252fcertificates.trustedservices.intel.com%252fintelsgxrootca.crl&... —
//     the CRL name percent-encoded twice, which the simulator therefore also accepts.
//   - api-version values in that source: 2018-10-01-preview (TCB Info, QE Identity, revocation
//     info), 2020-02-12-preview (its comment: "New API version used to request PEM encoded
//     CRLs"), 2021-07-22-preview (PCK certificates from the THIM agent). The simulator answers
//     pckcrl?uri= with PEM for 2020-02-12-preview and later and with DER for
//     2018-10-01-preview: inferred from that comment, not documented by Microsoft.
//   - Headers. Every CRL answer of the global cache, root CA CRL included, carries
//     SGX-PCK-CRL-Issuer-Chain (the client fails without it) and Cache-Control: max-age=86400
//     (logged in issue #154; the client's get_collateral also fails without Cache-Control). The
//     client reads the SGX TCB Info chain from SGX-TCB-Info-Issuer-Chain. For the regional THIM
//     service (https://<region>.thim.azure.net), intel/MigTD
//     tools/migtd-collateral-generator/src/pcs_client.rs (test_thim_headers, run against THIM)
//     expects tcb-info-issuer-chain on TDX TCB Info, sgx-enclave-identity-issuer-chain and
//     sgx-pck-crl-issuer-chain, and notes "THIM only supports DER encoding" for pckcrl?ca=.
//     So, in both Azure dialects: SGX TCB Info under SGX-TCB-Info-Issuer-Chain, TDX TCB Info
//     under TCB-Info-Issuer-Chain, Cache-Control on every document; THIM CRLs always DER. The
//     format of THIM's rootcacrl is not documented: DER, like its other CRLs.
//   - Missing parameters. Not documented for these services, and they do answer requests
//     without them: Microsoft's THIM article (MicrosoftDocs/azure-docs, articles/security/
//     fundamentals/trusted-hardware-identity-management.md, "How do I use Intel QPL with
//     Trusted Hardware Identity Management?") points Intel's QPL, which sends none, at
//     global.acccache.azure.net, and MigTD's tool fetches THIM without them. Such requests are
//     served in Intel's layout (DialectIntel). A request in Azure's shape (api-version or
//     clientid present, or pckcrl?uri=) that lacks api-version or names an unknown one is
//     refused with 400 as Azure REST services do (learn.microsoft.com, Azure App Configuration
//     "REST API versioning": 400 for an unspecified or unsupported API version), with Azure
//     Resource Manager's error codes. Requiring a non-empty clientid is the simulator's own
//     strictness: Azure's clients always send one. With WithDialects excluding DialectIntel,
//     requests without api-version are refused the same way.
//   - Errors keep the simulator's Error-Code/Error-Message headers: Azure's error bodies are
//     not documented. Azure's PCK certificate endpoint (JSON with pckCert,
//     sgx-Pck-Certificate-Issuer-Chain, sgx-Tcbm) is not simulated.

// Dialect is a URL and header layout that PCSHandler speaks.
type Dialect string

// The dialects. PCSHandler speaks all three unless WithDialects says otherwise.
const (
	// DialectIntel is Intel's PCS v4 layout, which a PCCS serves too (dcap spec §6.1, §6.2).
	DialectIntel Dialect = "intel"
	// DialectAzure is Azure's global ACC cache: Azure's query parameters, CRLs by
	// pckcrl?uri=<CRL distribution point> (collateral.ServiceAzure).
	DialectAzure Dialect = "azure"
	// DialectAzureTHIM is Azure's regional THIM service: Azure's query parameters, CRLs by
	// pckcrl?ca= and rootcacrl (collateral.ServiceAzure with AzureTHIM).
	DialectAzureTHIM Dialect = "azure-thim"
)

// Azure's api-version values the simulator accepts (see above).
const (
	AzureAPIVersion2018 = "2018-10-01-preview" // DER CRLs from pckcrl?uri=
	AzureAPIVersion2020 = "2020-02-12-preview" // PEM CRLs from pckcrl?uri=
	AzureAPIVersion2021 = "2021-07-22-preview"
)

// Azure-specific response headers and error codes.
const (
	// HeaderSGXTCBInfoIssuerChain carries the SGX TCB Info issuer chain in Azure's dialects
	// (Intel v4: HeaderTCBInfoIssuerChain).
	HeaderSGXTCBInfoIssuerChain = "SGX-TCB-Info-Issuer-Chain"
	// AzureCacheControl is the Cache-Control value of Azure's documents.
	AzureCacheControl = "max-age=86400"

	ErrorCodeMissingAPIVersion = "MissingApiVersionParameter"
	ErrorCodeInvalidAPIVersion = "InvalidApiVersionParameter"
)

var azureAPIVersions = []string{AzureAPIVersion2018, AzureAPIVersion2020, AzureAPIVersion2021}

// dialectSet is a set of dialects.
type dialectSet uint8

const (
	bitIntel dialectSet = 1 << iota
	bitAzure
	bitAzureTHIM
	allDialects = bitIntel | bitAzure | bitAzureTHIM
)

func dialectBit(d Dialect) dialectSet {
	switch d {
	case DialectIntel:
		return bitIntel
	case DialectAzure:
		return bitAzure
	case DialectAzureTHIM:
		return bitAzureTHIM
	}
	return 0
}

func (s dialectSet) has(d Dialect) bool { return s&dialectBit(d) != 0 }
func (s dialectSet) azureAny() bool     { return s.has(DialectAzure) || s.has(DialectAzureTHIM) }

// WithDialects restricts PCSHandler to the listed dialects (unknown values are ignored; none
// listed: all three). Without DialectIntel, a request lacking Azure's parameters is refused
// with 400 and ErrorCodeMissingAPIVersion; without an Azure dialect, Azure's parameters are
// ignored and its CRL requests (pckcrl?uri=, or pckcrl?ca= and rootcacrl for THIM) are refused.
// Tests use it to make a client's wrong dialect fail loudly.
func WithDialects(ds ...Dialect) PCSOption {
	return pcsOptionFunc(func(h *pcsHandler) {
		h.dialects = 0
		for _, d := range ds {
			h.dialects |= dialectBit(d)
		}
		if len(ds) == 0 {
			h.dialects = allDialects
		}
	})
}

// isAzureRequest reports whether a request is in Azure's shape: Azure's query parameters, or a
// PCK CRL asked for by distribution point (only the global cache does that on this path).
func isAzureRequest(p string, q url.Values) bool {
	return q.Has("api-version") || q.Has("clientid") || p == SGXBasePath+"/pckcrl" && q.Has("uri")
}

// checkAzureParams validates api-version and clientid.
func checkAzureParams(q url.Values) *response {
	v, ok := single(q, "api-version")
	switch {
	case !q.Has("api-version"):
		return missingAPIVersion()
	case !ok || !slices.Contains(azureAPIVersions, v):
		return errorResponse(http.StatusBadRequest, ErrorCodeInvalidAPIVersion,
			"the api-version is invalid; supported: "+strings.Join(azureAPIVersions, ", "))
	}
	if id, ok := single(q, "clientid"); !ok || id == "" {
		return badParam("clientid is required")
	}
	return nil
}

func missingAPIVersion() *response {
	return errorResponse(http.StatusBadRequest, ErrorCodeMissingAPIVersion, "the api-version query parameter is required")
}

// azure answers a request in Azure's shape.
func (h *pcsHandler) azure(p string, q url.Values, badSig bool) *response {
	if resp := checkAzureParams(q); resp != nil {
		return resp
	}
	var resp *response
	switch p {
	case SGXBasePath + "/tcb":
		resp = h.tcb(quote.TEESGX, q, badSig)
		if v := resp.header.Get(HeaderTCBInfoIssuerChain); v != "" {
			resp.header.Del(HeaderTCBInfoIssuerChain)
			resp.header.Set(HeaderSGXTCBInfoIssuerChain, v)
		}
	case TDXBasePath + "/tcb":
		resp = h.tcb(quote.TEETDX, q, badSig)
	case SGXBasePath + "/qe/identity":
		resp = h.qeIdentity(quote.TEESGX, q, badSig)
	case TDXBasePath + "/qe/identity":
		resp = h.qeIdentity(quote.TEETDX, q, badSig)
	case SGXBasePath + "/pckcrl":
		resp = h.azurePCKCRL(q, badSig)
	case SGXBasePath + "/rootcacrl":
		resp = h.thimRootCRL(badSig)
	default:
		resp = notFound("no such resource in Azure's dialects: " + p)
	}
	if resp.status == http.StatusOK {
		resp.header.Set("Cache-Control", AzureCacheControl)
	}
	return resp
}

// azurePCKCRL answers pckcrl?uri= (global cache) or pckcrl?ca= (THIM).
func (h *pcsHandler) azurePCKCRL(q url.Values, badSig bool) *response {
	switch byURI, byCA := q.Has("uri"), q.Has("ca"); {
	case byURI && byCA:
		return badParam("uri and ca are mutually exclusive")
	case byURI && h.dialects.has(DialectAzure):
		return h.globalCRL(q, badSig)
	case byURI:
		return notFound("pckcrl?uri= is the global cache's; this service is THIM")
	case !h.dialects.has(DialectAzureTHIM):
		return badParam("uri is required (the CRL distribution point)")
	}
	if enc, _ := single(q, "encoding"); enc != "" && enc != "pem" && enc != "der" {
		return badParam("encoding must be pem or der")
	}
	ca, ok := single(q, "ca")
	if !ok || !pcs.CAType(ca).Valid() {
		return badParam("ca must be processor or platform")
	}
	der, resp := h.pckCRLDER(pcs.CAType(ca), badSig)
	if resp != nil {
		return resp
	}
	resp = crlDocument(der, true) // THIM sends DER whatever encoding= asks for
	resp.header.Set(HeaderPCKCRLIssuerChain, h.pckCRLChain(pcs.CAType(ca)))
	return resp
}

func (h *pcsHandler) thimRootCRL(badSig bool) *response {
	if !h.dialects.has(DialectAzureTHIM) {
		return notFound("rootcacrl is THIM's; this service is the global cache")
	}
	return crlDocument(crlDER(h.world.RootCRL(), badSig), true)
}

// globalCRL answers the global cache's pckcrl?uri=: the CRL at an Intel (or simulated)
// distribution point, PEM or DER by api-version, with an issuer-chain header.
func (h *pcsHandler) globalCRL(q url.Values, badSig bool) *response {
	uri, ok := single(q, "uri")
	if !ok {
		return badParam("uri must be given once")
	}
	ca, isRoot, known := crlOfURI(uri)
	if !known {
		return notFound("no CRL at " + uri)
	}
	var der []byte
	chain := IssuerChainHeader([]*x509.Certificate{h.world.Root()})
	if isRoot {
		der = crlDER(h.world.RootCRL(), badSig)
	} else {
		var resp *response
		if der, resp = h.pckCRLDER(ca, badSig); resp != nil {
			return resp
		}
		chain = h.pckCRLChain(ca)
	}
	v, _ := single(q, "api-version")
	resp := crlDocument(der, v == AzureAPIVersion2018)
	resp.header.Set(HeaderPCKCRLIssuerChain, chain)
	return resp
}

// crlOfURI maps a CRL distribution point to a CRL of the world: the root CA CRL, or the PCK
// CRL of a CA type. Intel's names (https://certificates.trustedservices.intel.com/
// IntelSGXRootCA.der, .../intelsgxrootca.crl, .../intelsgxpckprocessor.crl, and
// https://api.trustedservices.intel.com/sgx/certification/vN/pckcrl?ca=...) and the
// simulator's own (RootCRLURL, PCKCRLURL) are known, host and file names compared without
// case. A value still percent-encoded (az-dcap-client encodes its names twice) is decoded.
func crlOfURI(raw string) (ca pcs.CAType, root, ok bool) {
	s := raw
	for range 2 {
		if !strings.Contains(s, "%") {
			break
		}
		d, err := url.QueryUnescape(s)
		if err != nil {
			return "", false, false
		}
		s = d
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", false, false
	}
	host := strings.ToLower(u.Hostname())
	if !strings.HasSuffix(host, ".trustedservices.intel.com") && !strings.HasSuffix(host, ".sim.secretprov.invalid") {
		return "", false, false
	}
	switch name := strings.ToLower(path.Base(u.Path)); name {
	case "intelsgxrootca.der", "intelsgxrootca.crl":
		return "", true, true
	case "intelsgxpckprocessor.crl":
		return pcs.CAProcessor, false, true
	case "pckcrl":
		ca := pcs.CAType(u.Query().Get("ca"))
		return ca, false, ca.Valid()
	}
	return "", false, false
}
