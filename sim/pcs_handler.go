package sim

import (
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Base paths of the PCS v4 API (dcap spec §6.1). A collateral client configured with
// "http://HOST/sgx/certification/v4" finds the TDX documents by swapping /sgx/ for /tdx/.
const (
	SGXBasePath = "/sgx/certification/v4"
	TDXBasePath = "/tdx/certification/v4"
)

// Response header names, as Intel PCS v4 sends them (dcap spec §6.1).
const (
	HeaderTCBInfoIssuerChain         = "TCB-Info-Issuer-Chain"
	HeaderEnclaveIdentityIssuerChain = "SGX-Enclave-Identity-Issuer-Chain"
	HeaderPCKCRLIssuerChain          = "SGX-PCK-CRL-Issuer-Chain"
	HeaderRequestID                  = "Request-ID"
	HeaderErrorCode                  = "Error-Code"
	HeaderErrorMessage               = "Error-Message"
)

// Error-Code values of the simulated PCS.
const (
	ErrorCodeInvalidParameter = "InvalidParameter"
	ErrorCodeNotFound         = "NotFound"
	ErrorCodeSimulatedFault   = "SimulatedFault"
)

// PCSOption configures PCSHandler.
type PCSOption interface{ applyPCS(*pcsHandler) }

type pcsOptionFunc func(*pcsHandler)

func (f pcsOptionFunc) applyPCS(h *pcsHandler) { f(h) }

// WithFaults makes the handler count requests in f and apply its fault switches. Faults match
// the URL path, so they apply to every dialect alike.
func WithFaults(f *Faults) PCSOption { return pcsOptionFunc(func(h *pcsHandler) { h.faults = f }) }

type pcsHandler struct {
	world    *World
	faults   *Faults
	dialects dialectSet
	noEarly  bool // WithoutEarlyData
}

// PCSHandler serves the world's collateral the way Intel's PCS API v4, a PCCS and Azure's two
// caching services do (dcap spec §6). Every response carries a Request-ID header; errors carry
// Error-Code and Error-Message. GET (and HEAD) only. Intel's layout (DialectIntel):
//
//	/sgx/certification/v4/tcb?fmspc=HEX          SGX TCB Info body, header TCB-Info-Issuer-Chain
//	/tdx/certification/v4/tcb?fmspc=HEX          TDX TCB Info (same header)
//	    update=standard|early or tcbEvaluationDataNumber=N are accepted (not both); 400 for a
//	    missing or malformed fmspc or a bad parameter, 404 for an unknown FMSPC or number
//	/sgx/certification/v4/qe/identity            QE identity, header SGX-Enclave-Identity-Issuer-Chain
//	/tdx/certification/v4/qe/identity            TD_QE identity (same header); update= accepted
//	/sgx/certification/v4/pckcrl?ca=processor|platform[&encoding=pem|der]
//	                                             PCK CRL, PEM by default, DER with encoding=der;
//	                                             header SGX-PCK-CRL-Issuer-Chain (CA ‖ root)
//	/sgx/certification/v4/rootcacrl              root CA CRL as hex of the DER (PCCS API 3.0)
//	/sgx/certification/v4/crl?uri=URL            the CRL at a distribution point URL, DER (PCCS
//	                                             API 3.1): RootCRLURL or PCKCRLURL(ca)
//	/IntelSGXRootCA.der                          root CA CRL, DER (the path of RootCRLURL)
//	/sgx/certification/v4/pckcert?encrypted_ppid=HEX|qeid=HEX&cpusvn=HEX&pcesvn=HEX&pceid=HEX
//	                                             a simulated platform's PCK certificate, PEM, with
//	                                             headers SGX-PCK-Certificate-Issuer-Chain, SGX-TCBm,
//	                                             SGX-FMSPC, SGX-PCK-Certificate-CA-Type: chosen by
//	                                             QE ID (Platform.QEID), else among the SGX
//	                                             platforms by raw TCB, as Intel chooses
//
// update=early is answered with the world's early TCB data (World.SetEarlyTCBLevels; the
// standard documents when the TEE has no early set), tcbEvaluationDataNumber=N with the
// standard or early TCB Info of that number, in every dialect; WithoutEarlyData answers
// update=early with 404 instead.
//
// A request that carries Azure's api-version or clientid parameter, or asks for pckcrl by uri=,
// is answered in Azure's dialects instead (DialectAzure, DialectAzureTHIM): the same tcb and
// qe/identity paths, CRLs as pckcrl?uri=<Intel CRL URL> (global cache) or pckcrl?ca= and
// rootcacrl (regional THIM), with Azure's header names (HeaderSGXTCBInfoIssuerChain for SGX TCB
// Info), Cache-Control and CRL encodings; 400 for a missing or unknown api-version
// (ErrorCodeMissingAPIVersion, ErrorCodeInvalidAPIVersion) or a missing clientid. The comments
// in pcs_azure.go and pcs_pckcert.go say what the simulator relies on and where it is from.
// WithDialects restricts the handler to some dialects.
//
// Issuer-chain headers are percent-encoded PEM exactly as Intel encodes them (IssuerChainHeader).
// The handler reads the world on every request, so forge changes are served at once.
func PCSHandler(w *World, opts ...PCSOption) http.Handler {
	h := &pcsHandler{world: w, dialects: allDialects}
	for _, o := range opts {
		o.applyPCS(h)
	}
	return h
}

func (h *pcsHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var fault Fault
	if h.faults != nil {
		fault = h.faults.take(r.URL.Path, slices.Contains(r.URL.Query()["update"], "early"))
	}
	rw.Header().Set(HeaderRequestID, requestID())
	if fault.Delay > 0 {
		t := time.NewTimer(fault.Delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	var resp *response
	switch {
	case fault.Status != 0:
		resp = errorResponse(fault.Status, ErrorCodeSimulatedFault, "fault injected by the secretprov simulator")
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		resp = errorResponse(http.StatusMethodNotAllowed, ErrorCodeInvalidParameter, "only GET is supported")
		resp.header.Set("Allow", "GET, HEAD")
	default:
		resp = h.dispatch(r.URL.Path, r.URL.Query(), fault.BadSignature)
	}
	if resp.status != http.StatusOK {
		fault.Body = BodyIntact
	}
	write(rw, r, resp, fault.Body)
}

// dispatch picks the dialect of a request (by its query, as Azure's services and Intel's share
// the paths) and routes it.
func (h *pcsHandler) dispatch(path string, q url.Values, badSig bool) *response {
	switch {
	case isAzureRequest(path, q) && h.dialects.azureAny():
		return h.azure(path, q, badSig)
	case !h.dialects.has(DialectIntel):
		return missingAPIVersion()
	}
	return h.route(path, q, badSig)
}

func (h *pcsHandler) route(path string, q url.Values, badSig bool) *response {
	switch path {
	case SGXBasePath + "/tcb":
		return h.tcb(quote.TEESGX, q, badSig)
	case TDXBasePath + "/tcb":
		return h.tcb(quote.TEETDX, q, badSig)
	case SGXBasePath + "/qe/identity":
		return h.qeIdentity(quote.TEESGX, q, badSig)
	case TDXBasePath + "/qe/identity":
		return h.qeIdentity(quote.TEETDX, q, badSig)
	case SGXBasePath + "/pckcrl":
		return h.pckCRL(q, badSig)
	case SGXBasePath + "/rootcacrl":
		return h.rootCRL(true, badSig)
	case SGXBasePath + "/crl":
		return h.crlByURI(q, badSig)
	case SGXBasePath + "/pckcert":
		return h.pckCert(q)
	case RootCRLPath:
		return h.rootCRL(false, badSig)
	}
	return notFound("no such resource: " + path)
}

func (h *pcsHandler) tcb(tee quote.TEE, q url.Values, badSig bool) *response {
	if resp := checkUpdate(q, true); resp != nil {
		return resp
	}
	raw, ok := single(q, "fmspc")
	if !ok {
		return badParam("fmspc is required (12 hex digits)")
	}
	fmspc, err := pcs.ParseFMSPC(raw)
	if err != nil {
		return badParam("fmspc: want 12 hex digits")
	}
	t, err := h.world.TCBInfo(tee)
	if err != nil || t.FMSPC != fmspc {
		return notFound("no TCB Info for FMSPC " + fmspc.String())
	}
	t, resp := h.selectTCBInfo(tee, t, q)
	if resp != nil {
		return resp
	}
	resp = document("application/json", documentBody("tcbInfo", t.Raw, signature(t.Signature, badSig)))
	resp.header.Set(HeaderTCBInfoIssuerChain, IssuerChainHeader(h.signingChain()))
	return resp
}

// selectTCBInfo picks the TCB Info a request for tee asks for, given the standard one std:
// std, the early one (update=early) or the one of a tcbEvaluationDataNumber; or a 404.
func (h *pcsHandler) selectTCBInfo(tee quote.TEE, std *pcs.TCBInfo, q url.Values) (*pcs.TCBInfo, *response) {
	early, err := h.world.EarlyTCBInfo(tee)
	if err != nil || h.noEarly {
		early = nil
	}
	n, byNumber := single(q, "tcbEvaluationDataNumber")
	switch {
	case isEarly(q) && early == nil:
		return nil, notFound("no early TCB data")
	case isEarly(q):
		return early, nil
	case !byNumber || n == strconv.Itoa(std.TCBEvaluationDataNumber):
		return std, nil
	case early != nil && n == strconv.Itoa(early.TCBEvaluationDataNumber):
		return early, nil
	}
	return nil, notFound("no TCB Info with tcbEvaluationDataNumber " + n)
}

func (h *pcsHandler) qeIdentity(tee quote.TEE, q url.Values, badSig bool) *response {
	if resp := checkUpdate(q, false); resp != nil {
		return resp
	}
	get := h.world.QEIdentity
	if isEarly(q) {
		if h.noEarly {
			return notFound("no early TCB data")
		}
		get = h.world.EarlyQEIdentity
	}
	qe, err := get(tee)
	if err != nil {
		return notFound("no QE Identity")
	}
	resp := document("application/json", documentBody("enclaveIdentity", qe.Raw, signature(qe.Signature, badSig)))
	resp.header.Set(HeaderEnclaveIdentityIssuerChain, IssuerChainHeader(h.signingChain()))
	return resp
}

func (h *pcsHandler) signingChain() []*x509.Certificate {
	signer, _ := h.world.Certificate(RoleTCBSigning) // the role always exists
	return []*x509.Certificate{signer, h.world.Root()}
}

func (h *pcsHandler) pckCRL(q url.Values, badSig bool) *response {
	ca, ok := single(q, "ca")
	if !ok || !pcs.CAType(ca).Valid() {
		return badParam("ca must be processor or platform")
	}
	enc, _ := single(q, "encoding")
	if enc != "" && enc != "pem" && enc != "der" {
		return badParam("encoding must be pem or der")
	}
	der, resp := h.pckCRLDER(pcs.CAType(ca), badSig)
	if resp != nil {
		return resp
	}
	resp = crlDocument(der, enc == "der")
	resp.header.Set(HeaderPCKCRLIssuerChain, h.pckCRLChain(pcs.CAType(ca)))
	return resp
}

// pckCRLDER returns the DER of the PCK CRL of ca, or a 404 response.
func (h *pcsHandler) pckCRLDER(ca pcs.CAType, badSig bool) ([]byte, *response) {
	crl, err := h.world.PCKCRL(ca)
	if err != nil {
		return nil, notFound("no PCK CRL for ca " + string(ca))
	}
	return crlDER(crl, badSig), nil
}

// pckCRLChain is the issuer-chain header value of the PCK CRL of ca (a valid CA type): the
// PCK CA and the root.
func (h *pcsHandler) pckCRLChain(ca pcs.CAType) string {
	role := map[pcs.CAType]Role{pcs.CAProcessor: RoleProcessorCA, pcs.CAPlatform: RolePlatformCA}[ca]
	issuer, _ := h.world.Certificate(role) // both roles always exist
	return IssuerChainHeader([]*x509.Certificate{issuer, h.world.Root()})
}

func (h *pcsHandler) rootCRL(asHex, badSig bool) *response {
	der := crlDER(h.world.RootCRL(), badSig)
	if asHex {
		return document("text/plain", []byte(hex.EncodeToString(der)))
	}
	return document("application/pkix-crl", der)
}

func (h *pcsHandler) crlByURI(q url.Values, badSig bool) *response {
	uri, ok := single(q, "uri")
	if !ok {
		return badParam("uri is required")
	}
	if uri == RootCRLURL {
		return h.rootCRL(false, badSig)
	}
	for _, ca := range []pcs.CAType{pcs.CAProcessor, pcs.CAPlatform} {
		if uri == PCKCRLURL(ca) {
			der, resp := h.pckCRLDER(ca, badSig)
			if resp != nil {
				return resp
			}
			return document("application/pkix-crl", der)
		}
	}
	return notFound("no CRL at " + uri)
}

// isEarly reports whether a request (whose update= checkUpdate accepted) asks for early data.
func isEarly(q url.Values) bool { v, _ := single(q, "update"); return v == "early" }

// checkUpdate validates update= (standard|early) and, for TCB Info, its exclusion with
// tcbEvaluationDataNumber= (a non-negative integer).
func checkUpdate(q url.Values, tcb bool) *response {
	if vs, ok := q["update"]; ok && (len(vs) != 1 || vs[0] != "standard" && vs[0] != "early") {
		return badParam("update must be standard or early")
	}
	vs, ok := q["tcbEvaluationDataNumber"]
	if !tcb || !ok {
		return nil
	}
	if _, both := q["update"]; both {
		return badParam("update and tcbEvaluationDataNumber are mutually exclusive")
	}
	if n, err := strconv.Atoi(vs[0]); len(vs) != 1 || err != nil || n < 0 {
		return badParam("tcbEvaluationDataNumber must be a non-negative integer")
	}
	return nil
}
