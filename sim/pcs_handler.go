package sim

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// WithFaults makes the handler count requests in f and apply its fault switches.
func WithFaults(f *Faults) PCSOption { return pcsOptionFunc(func(h *pcsHandler) { h.faults = f }) }

type pcsHandler struct {
	world  *World
	faults *Faults
}

// PCSHandler serves the world's collateral in the shape of Intel's PCS API v4 (dcap spec §6.1,
// §6.2). Every response carries a Request-ID header; errors carry Error-Code and
// Error-Message. GET (and HEAD) only:
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
//
// Issuer-chain headers are percent-encoded PEM exactly as Intel encodes them (IssuerChainHeader).
// The handler reads the world on every request, so forge changes are served at once.
func PCSHandler(w *World, opts ...PCSOption) http.Handler {
	h := &pcsHandler{world: w}
	for _, o := range opts {
		o.applyPCS(h)
	}
	return h
}

// response is a routed answer before faults are applied.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (h *pcsHandler) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var fault Fault
	if h.faults != nil {
		fault = h.faults.take(r.URL.Path)
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
		resp = h.route(r.URL.Path, r.URL.Query(), fault.BadSignature)
	}
	if resp.status != http.StatusOK {
		fault.Body = BodyIntact
	}
	write(rw, r, resp, fault.Body)
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
	case RootCRLPath:
		return h.rootCRL(false, badSig)
	}
	return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no such resource: "+path)
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
		return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no TCB Info for FMSPC "+fmspc.String())
	}
	if n, ok := single(q, "tcbEvaluationDataNumber"); ok && n != strconv.Itoa(t.TCBEvaluationDataNumber) {
		return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no TCB Info with tcbEvaluationDataNumber "+n)
	}
	resp := document("application/json", documentBody("tcbInfo", t.Raw, signature(t.Signature, badSig)))
	resp.header.Set(HeaderTCBInfoIssuerChain, IssuerChainHeader(h.signingChain()))
	return resp
}

func (h *pcsHandler) qeIdentity(tee quote.TEE, q url.Values, badSig bool) *response {
	if resp := checkUpdate(q, false); resp != nil {
		return resp
	}
	qe, err := h.world.QEIdentity(tee)
	if err != nil {
		return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no QE Identity")
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
	crl, err := h.world.PCKCRL(pcs.CAType(ca))
	if err != nil {
		return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no PCK CRL")
	}
	der := crlDER(crl, badSig)
	resp := document("application/x-pem-file", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
	if enc == "der" {
		resp = document("application/pkix-crl", der)
	}
	issuer, _ := h.world.Certificate(map[pcs.CAType]Role{pcs.CAProcessor: RoleProcessorCA, pcs.CAPlatform: RolePlatformCA}[pcs.CAType(ca)])
	resp.header.Set(HeaderPCKCRLIssuerChain, IssuerChainHeader([]*x509.Certificate{issuer, h.world.Root()}))
	return resp
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
			crl, err := h.world.PCKCRL(ca)
			if err != nil {
				break
			}
			return document("application/pkix-crl", crlDER(crl, badSig))
		}
	}
	return errorResponse(http.StatusNotFound, ErrorCodeNotFound, "no CRL at "+uri)
}

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

// single returns the only value of a query parameter.
func single(q url.Values, name string) (string, bool) {
	vs, ok := q[name]
	if !ok || len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

func signature(sig [64]byte, bad bool) [64]byte {
	if bad {
		sig[10] ^= 0x01
	}
	return sig
}

// crlDER returns the CRL's DER; bad flips a bit of the last byte, inside the signature's s.
func crlDER(crl *x509.RevocationList, bad bool) []byte {
	der := bytes.Clone(crl.Raw)
	if bad {
		der[len(der)-1] ^= 0x01
	}
	return der
}

func document(contentType string, body []byte) *response {
	return &response{status: http.StatusOK, header: http.Header{"Content-Type": {contentType}}, body: body}
}

func badParam(msg string) *response {
	return errorResponse(http.StatusBadRequest, ErrorCodeInvalidParameter, msg)
}

func errorResponse(status int, code, msg string) *response {
	return &response{status: status, header: http.Header{HeaderErrorCode: {code}, HeaderErrorMessage: {msg}}}
}

// write sends resp, corrupted as the body fault says.
func write(rw http.ResponseWriter, r *http.Request, resp *response, bf BodyFault) {
	for k, v := range resp.header {
		rw.Header()[k] = v
	}
	body, declared := resp.body, len(resp.body)
	switch bf {
	case BodyGarbage:
		body = garbage(len(body))
		declared = len(body)
	case BodyShort:
		body = body[:len(body)/2]
		declared = len(body)
	case BodyTruncated:
		body = body[:len(body)/2]
	case BodyOversized:
		if len(body) < OversizedBodySize {
			body = append(bytes.Clone(body), bytes.Repeat([]byte{' '}, OversizedBodySize-len(body))...)
		}
		declared = len(body)
	}
	rw.Header().Set("Content-Length", strconv.Itoa(declared))
	rw.WriteHeader(resp.status)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = rw.Write(body) // a client that went away is not the simulator's problem
}

func garbage(n int) []byte {
	pattern := []byte("\x00garbage from the secretprov simulator\xff")
	return bytes.Repeat(pattern, n/len(pattern)+1)[:n]
}

// requestID is a random 32-hex-digit request identifier, the form of Intel's Request-ID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	return hex.EncodeToString(b[:])
}

// IssuerChainHeader encodes certificates as an Intel PCS issuer-chain header value: the PEM
// concatenation, percent-encoded like JavaScript's encodeURIComponent (everything but letters,
// digits and -_.!~*'() is %XX with upper-case hex), which is byte for byte what PCS sends.
func IssuerChainHeader(chain []*x509.Certificate) string {
	var pemText bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&pemText, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // writes to memory
	}
	var b strings.Builder
	const hexDigits = "0123456789ABCDEF"
	for _, c := range pemText.Bytes() {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
