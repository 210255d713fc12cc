package collateral

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// ServiceKind is the dialect of a collateral service: how URLs and headers are shaped
// (dcap spec §6). All three serve the PCS v4 documents.
type ServiceKind string

// The supported services.
const (
	ServiceIntel ServiceKind = "intel" // Intel PCS (api.trustedservices.intel.com)
	ServicePCCS  ServiceKind = "pccs"  // a Provisioning Certificate Caching Service
	ServiceAzure ServiceKind = "azure" // Azure's caching service (global ACC cache or THIM)
)

// ParseServiceKind accepts "intel", "pccs", "azure" and "" (intel).
func ParseServiceKind(s string) (ServiceKind, error) {
	switch k := ServiceKind(s); k {
	case "":
		return ServiceIntel, nil
	case ServiceIntel, ServicePCCS, ServiceAzure:
		return k, nil
	}
	return "", fmt.Errorf("collateral: service kind %q: want intel, pccs or azure", s)
}

// Well-known URLs and defaults.
const (
	// IntelPCSURL is Intel's SGX PCS v4 base URL.
	IntelPCSURL = "https://api.trustedservices.intel.com/sgx/certification/v4"
	// IntelRootCRLURL is the CRL distribution point of the Intel SGX Root CA (dcap spec §3.1),
	// where the root CA CRL is fetched from for ServiceIntel.
	IntelRootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
	// AzureRootCRLURL is the root CRL name Azure's cache is asked for (dcap spec §6.3).
	AzureRootCRLURL = "https://certificates.trustedservices.intel.com/intelsgxrootca.crl"
	// AzureClientID and AzureAPIVersion are the defaults of the Azure query parameters.
	AzureClientID   = "production_client"
	AzureAPIVersion = "2018-10-01-preview"

	DefaultTimeout     = 30 * time.Second // per attempt
	DefaultAttempts    = 4
	DefaultBackoff     = 500 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultMaxBodySize = 1 << 20
)

// ClientConfig configures a Client. Only BaseURL is required.
type ClientConfig struct {
	// BaseURL is the SGX base, e.g. IntelPCSURL, "https://pccs:8081/sgx/certification/v4" or
	// "https://global.acccache.azure.net/sgx/certification/v4".
	BaseURL string
	// TDXBaseURL serves TDX TCB Info and the TD_QE identity. Empty: BaseURL with "/sgx/"
	// replaced by "/tdx/".
	TDXBaseURL string
	// Kind is the URL/header dialect; empty means ServiceIntel.
	Kind ServiceKind
	// RootCRLURL is where ServiceIntel fetches the root CA CRL (DER); empty: IntelRootCRLURL.
	// Point it at a mirror for tests and air-gapped networks.
	RootCRLURL string
	// AzureTHIM selects the regional THIM layout for Azure's CRLs ("pckcrl?ca=…",
	// "rootcacrl") instead of the global cache's "pckcrl?uri=<Intel CRL URL>".
	AzureTHIM bool
	// AzureClientID and AzureAPIVersion are sent to Azure; empty: the package defaults.
	AzureClientID, AzureAPIVersion string

	// HTTPClient does the requests. Nil: a new http.Client on the default transport (never
	// http.DefaultClient). Its own Timeout, if any, also applies.
	HTTPClient *http.Client
	// Timeout bounds each attempt, body included; zero: DefaultTimeout.
	Timeout time.Duration
	// Attempts is the number of tries for transport errors, timeouts and 5xx answers (4xx
	// answers are not retried); zero: DefaultAttempts.
	Attempts int
	// Backoff is the delay before the second attempt, doubled for each further one up to
	// MaxBackoff, each with random jitter (50–100 %); zero: the defaults.
	Backoff, MaxBackoff time.Duration
	// MaxBodySize bounds a response body; larger ones are refused with ErrTooLarge.
	MaxBodySize int64
	// UserAgent is sent with every request; empty: "secretprov/<module version>".
	UserAgent string
}

// Client fetches collateral documents from one service. It verifies nothing (see Cache) and is
// safe for concurrent use.
type Client struct {
	sgxBase, tdxBase string
	kind             ServiceKind
	rootCRLURL       string
	azureTHIM        bool
	clientID, apiVer string
	hc               *http.Client
	timeout          time.Duration
	attempts         int
	backoff, maxBack time.Duration
	maxBody          int64
	userAgent        string
}

// NewClient checks cfg and returns a Client. It does no I/O.
func NewClient(cfg ClientConfig) (*Client, error) {
	kind, err := ParseServiceKind(string(cfg.Kind))
	if err != nil {
		return nil, err
	}
	sgx, err := checkBase("base URL", cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	tdx := cfg.TDXBaseURL
	if tdx == "" && strings.Contains(sgx, "/sgx/") {
		tdx = strings.Replace(sgx, "/sgx/", "/tdx/", 1)
	}
	if tdx != "" {
		if tdx, err = checkBase("TDX base URL", tdx); err != nil {
			return nil, err
		}
	}
	c := &Client{
		sgxBase: sgx, tdxBase: tdx, kind: kind, azureTHIM: cfg.AzureTHIM,
		rootCRLURL: or(cfg.RootCRLURL, IntelRootCRLURL),
		clientID:   or(cfg.AzureClientID, AzureClientID), apiVer: or(cfg.AzureAPIVersion, AzureAPIVersion),
		hc: cfg.HTTPClient, timeout: orDur(cfg.Timeout, DefaultTimeout), attempts: cfg.Attempts,
		backoff: orDur(cfg.Backoff, DefaultBackoff), maxBack: orDur(cfg.MaxBackoff, DefaultMaxBackoff),
		maxBody: cfg.MaxBodySize, userAgent: or(cfg.UserAgent, "secretprov/"+moduleVersion()),
	}
	if _, err := checkBase("root CRL URL", c.rootCRLURL); err != nil {
		return nil, err
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.attempts <= 0 {
		c.attempts = DefaultAttempts
	}
	if c.maxBody <= 0 {
		c.maxBody = DefaultMaxBodySize
	}
	return c, nil
}

func checkBase(what, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("collateral: %s %q: want an absolute http(s) URL", what, s)
	}
	return strings.TrimRight(s, "/"), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// moduleVersion is the main module's version from the build information.
func moduleVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Kind returns the service dialect.
func (c *Client) Kind() ServiceKind { return c.kind }

// URL returns the request URL of an item (dcap spec §6.1–§6.3).
func (c *Client) URL(it Item) (string, error) {
	if err := it.validate(); err != nil {
		return "", err
	}
	q := url.Values{}
	var base, path string
	switch it.Kind {
	case KindTCBInfo, KindQEIdentity:
		var err error
		if base, path, err = c.documentPath(it, q); err != nil {
			return "", err
		}
	case KindPCKCRL:
		base, path = c.sgxBase, "/pckcrl"
		if c.kind == ServiceAzure && !c.azureTHIM {
			q.Set("uri", IntelPCKCRLURL(it.CA))
			break
		}
		q.Set("ca", string(it.CA))
		if c.kind != ServiceAzure {
			q.Set("encoding", "der") // Azure's THIM documents no encoding parameter
		}
	case KindRootCRL:
		switch {
		case c.kind == ServiceIntel:
			return c.rootCRLURL, nil
		case c.kind == ServiceAzure && !c.azureTHIM:
			base, path = c.sgxBase, "/pckcrl"
			q.Set("uri", AzureRootCRLURL)
		default:
			base, path = c.sgxBase, "/rootcacrl"
		}
	}
	if c.kind == ServiceAzure {
		q.Set("clientid", c.clientID)
		q.Set("api-version", c.apiVer)
	}
	if len(q) == 0 {
		return base + path, nil
	}
	return base + path + "?" + q.Encode(), nil
}

// documentPath returns the base and path of a TCB Info or QE Identity request and sets its
// query parameters: TDX documents come from the TDX base; update= is sent to Intel and PCCS
// always, to Azure only for early data.
func (c *Client) documentPath(it Item, q url.Values) (string, string, error) {
	base := c.sgxBase
	if it.TEE == quote.TEETDX {
		base = c.tdxBase
	}
	if base == "" {
		return "", "", fmt.Errorf("collateral: %s: no TDX base URL configured", it)
	}
	path := "/qe/identity"
	if it.Kind == KindTCBInfo {
		path = "/tcb"
		q.Set("fmspc", it.FMSPC.String())
	}
	if c.kind != ServiceAzure || it.Update == UpdateEarly {
		q.Set("update", string(it.Update))
	}
	return base, path, nil
}

// IntelPCKCRLURL is the CRL distribution point of PCK certificates issued by ca (dcap spec
// §3.3), the name Azure's global cache is asked for.
func IntelPCKCRLURL(ca pcs.CAType) string {
	return IntelPCSURL + "/pckcrl?ca=" + url.QueryEscape(string(ca)) + "&encoding=der"
}

// chainHeaders lists the response headers that may carry an item's issuer chain, preferred
// first (dcap spec §6.1, §6.3). The root CA CRL has none.
func (c *Client) chainHeaders(k ItemKind) []string {
	switch k {
	case KindTCBInfo:
		if c.kind == ServiceAzure {
			return []string{"SGX-TCB-Info-Issuer-Chain", "TCB-Info-Issuer-Chain"}
		}
		return []string{"TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain"}
	case KindQEIdentity:
		return []string{"SGX-Enclave-Identity-Issuer-Chain", "SGX-QE-Identity-Issuer-Chain"}
	case KindPCKCRL:
		return []string{"SGX-PCK-CRL-Issuer-Chain"}
	}
	return nil
}

// Fetch requests one item and returns the response body and the decoded issuer chain. The
// document is not parsed beyond the chain header: see Cache for the checks.
func (c *Client) Fetch(ctx context.Context, it Item) (*Document, error) {
	u, err := c.URL(it)
	if err != nil {
		return nil, err
	}
	h, body, err := c.get(ctx, it, u)
	if err != nil {
		return nil, err
	}
	doc := &Document{Item: it, URL: u, Body: body}
	if names := c.chainHeaders(it.Kind); names != nil {
		doc.IssuerChain, err = IssuerChain(h, names...)
		if err != nil {
			reason := ErrMalformed
			if errors.Is(err, ErrTooLarge) {
				reason = ErrTooLarge
			}
			return nil, &Error{Op: "fetch", Item: it, URL: u, Reason: reason, Err: err}
		}
	}
	return doc, nil
}
