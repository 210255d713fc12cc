package verify

import (
	"crypto/x509"
	_ "embed" // the Intel SGX Root CA
	"encoding/pem"
	"errors"
	"sync"
)

// Option configures New and Quote. The set is closed: only this package's constructors make
// Options. Zero options give the strictest behaviour with the Intel SGX Root CA as trust anchor.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Default cache sizes (entries) of a Verifier. One entry is a few KiB at most.
const (
	DefaultPCKCacheSize      = 1024 // verified PCK certificate chains
	DefaultQEReportCacheSize = 1024 // verified QE report signatures
	DefaultBundleCacheSize   = 64   // checked collateral bundles
)

type config struct {
	root         *x509.Certificate
	allowExpired bool
	pckCache     int
	qeCache      int
	err          error
}

// WithRoot replaces the trust anchor (default: the embedded Intel SGX Root CA, IntelRoot).
// Every certificate chain in quotes and collateral must end in a certificate with root's
// public key, and root is the issuer checked for intermediates, TCB Signing certificates and
// the root CA CRL. Use it for simulated platforms and tests only.
func WithRoot(root *x509.Certificate) Option {
	return optionFunc(func(c *config) {
		if root == nil {
			c.err = errors.New("verify: WithRoot: nil certificate")
			return
		}
		c.root = root
	})
}

// WithExpiredCollateralAllowed makes collateral outside its validity window acceptable: the
// Result still has CollateralExpired set, but no ReasonCollateralExpired error is returned.
// This is the CLI's --allow-expired-collateral; it weakens freshness guarantees (revocations
// published after the collateral was issued are not seen).
func WithExpiredCollateralAllowed() Option {
	return optionFunc(func(c *config) { c.allowExpired = true })
}

// WithCacheSize bounds a Verifier's caches of verified PCK chains and verified QE report
// signatures (entries, least recently used evicted first). Zero disables a cache; negative
// sizes are an error. Quote ignores it.
func WithCacheSize(pck, qeReports int) Option {
	return optionFunc(func(c *config) {
		if pck < 0 || qeReports < 0 {
			c.err = errors.New("verify: WithCacheSize: negative size")
			return
		}
		c.pckCache, c.qeCache = pck, qeReports
	})
}

func newConfig(opts []Option) (*config, error) {
	c := &config{pckCache: DefaultPCKCacheSize, qeCache: DefaultQEReportCacheSize}
	for _, o := range opts {
		if o == nil {
			return nil, errors.New("verify: nil Option")
		}
		o.apply(c)
		if c.err != nil {
			return nil, c.err
		}
	}
	if c.root == nil {
		c.root = IntelRoot()
	}
	return c, nil
}

//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

var intelRoot = sync.OnceValue(func() *x509.Certificate {
	block, _ := pem.Decode(intelRootPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		panic("verify: embedded Intel SGX Root CA is not a PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic("verify: embedded Intel SGX Root CA: " + err.Error())
	}
	return cert
})

// IntelRoot returns the Intel SGX Root CA certificate embedded in this package (SHA-256 of the
// DER 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3, dcap spec §3.1). It is
// parsed once; the returned certificate is shared and must not be modified.
func IntelRoot() *x509.Certificate { return intelRoot() }
