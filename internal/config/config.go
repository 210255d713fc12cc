package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
)

// MaxFileSize bounds the configuration file.
const MaxFileSize = 1 << 20

// Config is a loaded, fully checked configuration. Relative paths in the file are resolved
// against the file's directory.
type Config struct {
	Path        string // the file it was loaded from
	Listen      string
	AdminListen string // empty: no admin listener
	TLS         TLS
	Verifier    Verifier
	Limits      Limits
	Log         Log
	AuditPath   string // empty: audit records go to the log stream
	Workloads   []policy.Workload
	Secrets     map[string]SecretSpec
	SecretsDir  string
}

// TLS is the server's own certificate.
type TLS struct{ Cert, Key string }

// Verifier configures quote verification and where collateral comes from.
type Verifier struct {
	PCSURL          string // SGX base URL, e.g. https://api.trustedservices.intel.com/sgx/certification/v4
	TDXPCSURL       string // TDX base URL; empty: PCSURL with /sgx/ replaced by /tdx/
	PCSKind         string // intel | pccs | azure
	TrustRoot       string // PEM file of the trust anchor; empty: the built-in Intel SGX Root CA
	CacheDir        string // on-disk collateral cache; empty: memory only
	CollateralGrace time.Duration
	Update          string // standard | early
	// EarlyWarning also verifies every granted quote with Intel's early TCB data and warns when
	// its platform's status would be worse (never a refusal). Only with Update standard and a PCS.
	EarlyWarning   bool
	CollateralFile string // offline collateral JSON instead of a PCS (air-gapped)
	// Prefetch are the platforms whose collateral is fetched at start; /readyz waits for them.
	Prefetch []pcs.Key
}

// Limits bound what one client or many can cost the server.
type Limits struct {
	MaxConnections      int
	MaxConnectionsPerIP int
	HandshakeTimeout    time.Duration
	IdleTimeout         time.Duration
	MaxSecretSize       int64
}

// Log selects the log level (debug|info|warn|error) and format (json|text).
type Log struct{ Level, Format string }

// SecretSpec is where one named secret comes from: exactly one of File, Env or Value.
type SecretSpec struct{ File, Env, Value string }

// Default returns the configuration every file starts from.
func Default() *Config {
	return &Config{
		Listen:      "0.0.0.0:4433",
		AdminListen: "0.0.0.0:9090",
		Verifier: Verifier{
			PCSURL:  "https://api.trustedservices.intel.com/sgx/certification/v4",
			PCSKind: "intel",
			Update:  "standard",
		},
		Limits: Limits{
			MaxConnections:      1024,
			MaxConnectionsPerIP: 64,
			HandshakeTimeout:    10 * time.Second,
			IdleTimeout:         30 * time.Second,
			MaxSecretSize:       1 << 20,
		},
		Log:     Log{Level: "info", Format: "json"},
		Secrets: map[string]SecretSpec{},
	}
}

// Options change what Load and Parse require of a file. The zero value is the strict default.
type Options struct {
	// NoWorkloads accepts a file without workloads, for a policy that comes from elsewhere (the
	// Gramine RA_TLS_* environment: secretprov server --gramine-env).
	NoWorkloads bool
}

// Load reads, decodes and checks the configuration file at path.
func Load(path string) (*Config, error) { return LoadWith(path, Options{}) }

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	if buf.Len() > MaxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, MaxFileSize)
	}
	return ParseWith(path, buf.Bytes(), opts)
}

// Parse decodes and checks a configuration document; name is used in error messages and to
// resolve relative paths.
func Parse(name string, data []byte) (*Config, error) { return ParseWith(name, data, Options{}) }

// ParseWith is Parse with options.
func ParseWith(name string, data []byte, opts Options) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, yamlErr(name, err))
	}
	var raw file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	// An empty document decodes to io.EOF: all defaults, refused below for having no workloads.
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", yamlErr(name, err))
	}
	c := Default()
	c.Path = name
	v := &validator{name: name, root: &root, base: filepath.Dir(name), opts: opts}
	v.apply(c, &raw)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return c, nil
}

// yamlErr prefixes the YAML library's "line N: ..." messages with the file name.
func yamlErr(name string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		errs := make([]error, len(te.Errors))
		for i, e := range te.Errors {
			errs[i] = errors.New(name + ":" + strings.TrimPrefix(e, "line "))
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// checkHostPort reports whether addr is a host:port the server can listen on.
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if port == "" {
		return fmt.Errorf("want host:port, got %q (no port)", addr)
	}
	return nil
}
