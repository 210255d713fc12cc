package deploytest

import (
	"encoding/hex"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// serverConfig mirrors the server configuration contract (docs: "Contracts for the CLI and the
// server configuration"). The main module's internal/config cannot be imported from this module,
// so the schema is copied here; decoding is strict, so a key the contract does not have fails.
type serverConfig struct {
	Listen      string `json:"listen"`
	AdminListen string `json:"admin_listen"`
	TLS         struct {
		Cert     string `json:"cert"`
		Key      string `json:"key"`
		ClientCA string `json:"client_ca"`
	} `json:"tls"`
	Verifier verifierConfig `json:"verifier"`
	Limits   struct {
		MaxConnections      int    `json:"max_connections"`
		MaxConnectionsPerIP int    `json:"max_connections_per_ip"`
		HandshakeTimeout    string `json:"handshake_timeout"`
		IdleTimeout         string `json:"idle_timeout"`
		MaxSecretSize       string `json:"max_secret_size"`
	} `json:"limits"`
	Log struct {
		Level  string `json:"level"`
		Format string `json:"format"`
	} `json:"log"`
	Audit struct {
		Path string `json:"path"`
	} `json:"audit"`
	Workloads  []workload              `json:"workloads"`
	Secrets    map[string]secretSource `json:"secrets"`
	SecretsDir string                  `json:"secrets_dir"`
}

// verifierConfig is the verifier section of the contract.
type verifierConfig struct {
	PCSURL          string   `json:"pcs_url"`
	TDXPCSURL       string   `json:"tdx_pcs_url"`
	PCSKind         string   `json:"pcs_kind"`
	TrustRoot       string   `json:"trust_root"`
	CacheDir        string   `json:"cache_dir"`
	CollateralGrace string   `json:"collateral_grace"`
	Update          string   `json:"update"`
	EarlyWarning    bool     `json:"early_warning"`
	Collateral      string   `json:"collateral"`
	Prefetch        []string `json:"prefetch"`
}

type workload struct {
	Name        string            `json:"name"`
	MREnclave   []string          `json:"mrenclave,omitempty"`
	MRSigner    string            `json:"mrsigner,omitempty"`
	ISVProdID   *int              `json:"isv_prod_id,omitempty"`
	MinISVSVN   *int              `json:"min_isv_svn,omitempty"`
	MRTD        []string          `json:"mrtd,omitempty"`
	RTMRs       map[string]string `json:"rtmrs,omitempty"`
	TCBStatuses []string          `json:"tcb_statuses,omitempty"`
	AdvisoryIDs []string          `json:"advisory_ids,omitempty"`
	AllowDebug  bool              `json:"allow_debug"`
	// CollateralGrace is this workload's grace; the server uses the larger of it and
	// verifier.collateral_grace.
	CollateralGrace string            `json:"collateral_grace,omitempty"`
	Secrets         map[string]string `json:"secrets,omitempty"`
}

type secretSource struct {
	File string `json:"file,omitempty"`
	Env  string `json:"env,omitempty"`
}

// contractTopLevel are the contract's top-level keys; the shipped configurations set every one
// explicitly, so that nothing depends on a default that may change.
var contractTopLevel = []string{
	"admin_listen", "audit", "limits", "listen", "log", "secrets", "secrets_dir", "tls", "verifier", "workloads",
}

var (
	tcbStatuses = []string{
		"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
		"OutOfDate", "OutOfDateConfigurationNeeded",
	}
	sizeRE     = regexp.MustCompile(`^[0-9]+ ?([KMG]i?B|B)?$`)
	advisoryRE = regexp.MustCompile(`^([A-Z]+-[A-Z]+-[0-9]+|\*)$`)
	// platformRE is a verifier.prefetch entry: TEE/FMSPC/CA, as pcs.Key.String writes it.
	platformRE = regexp.MustCompile(`^(sgx|tdx)/[0-9A-Fa-f]{12}/(processor|platform)$`)
)

// parseConfig decodes a configuration file strictly and checks its values against the contract.
func parseConfig(b []byte) (*serverConfig, error) {
	var top map[string]any
	if err := yaml.Unmarshal(b, &top); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var keys []string
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, contractTopLevel) {
		return nil, fmt.Errorf("config: top-level keys %v, want exactly %v", keys, contractTopLevel)
	}
	var c serverConfig
	if err := yaml.UnmarshalStrict(b, &c); err != nil {
		return nil, fmt.Errorf("config: strict decode: %w", err)
	}
	return &c, c.validate()
}

func (c *serverConfig) validate() error {
	var errs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	for _, addr := range []string{c.Listen, c.AdminListen} {
		_, port, err := net.SplitHostPort(addr)
		check(err == nil && port != "", "listen address %q is not host:port", addr)
	}
	check(strings.HasPrefix(c.Verifier.PCSURL, "https://"), "verifier.pcs_url %q is not https", c.Verifier.PCSURL)
	check(c.Verifier.TDXPCSURL == "" || strings.HasPrefix(c.Verifier.TDXPCSURL, "https://"), "verifier.tdx_pcs_url %q is not https", c.Verifier.TDXPCSURL)
	for _, k := range c.Verifier.Prefetch {
		check(platformRE.MatchString(k), "verifier.prefetch entry %q is not TEE/FMSPC/CA", k)
	}
	check(len(c.Verifier.Prefetch) == 0 || c.Verifier.Collateral == "", "verifier.prefetch applies to a PCS, not to verifier.collateral")
	check(!c.Verifier.EarlyWarning || (c.Verifier.Update == "standard" && c.Verifier.Collateral == ""),
		"verifier.early_warning needs update standard and a PCS")
	check(slices.Contains([]string{"intel", "pccs", "azure"}, c.Verifier.PCSKind), "verifier.pcs_kind %q", c.Verifier.PCSKind)
	check(slices.Contains([]string{"standard", "early"}, c.Verifier.Update), "verifier.update %q", c.Verifier.Update)
	durations := []string{c.Verifier.CollateralGrace, c.Limits.HandshakeTimeout, c.Limits.IdleTimeout}
	for _, w := range c.Workloads {
		if w.CollateralGrace != "" {
			durations = append(durations, w.CollateralGrace)
		}
	}
	for _, d := range durations {
		_, err := time.ParseDuration(d)
		check(err == nil, "duration %q: %v", d, err)
	}
	check(c.Limits.MaxConnections > 0 && c.Limits.MaxConnectionsPerIP > 0 &&
		c.Limits.MaxConnectionsPerIP <= c.Limits.MaxConnections, "limits: connections %+v", c.Limits)
	check(sizeRE.MatchString(c.Limits.MaxSecretSize), "limits.max_secret_size %q", c.Limits.MaxSecretSize)
	check(slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level), "log.level %q", c.Log.Level)
	check(slices.Contains([]string{"json", "text"}, c.Log.Format), "log.format %q", c.Log.Format)
	check(c.TLS.Cert != "" && c.TLS.Key != "", "tls.cert and tls.key are required")
	check(len(c.Workloads) > 0, "no workloads")
	names := map[string]bool{}
	for _, w := range c.Workloads {
		check(w.Name != "" && !names[w.Name], "workload name %q empty or repeated", w.Name)
		names[w.Name] = true
		if err := w.validate(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for name, src := range c.Secrets {
		check((src.File == "") != (src.Env == ""), "secrets.%s: exactly one of file, env", name)
	}
	if len(errs) > 0 {
		return fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return nil
}

func (w *workload) validate() error {
	sgx := len(w.MREnclave) > 0 || w.MRSigner != ""
	tdx := len(w.MRTD) > 0
	if sgx == tdx {
		return fmt.Errorf("workload %s: needs SGX (mrenclave/mrsigner) or TDX (mrtd) identity, not both or neither", w.Name)
	}
	if w.MRSigner != "" && w.ISVProdID == nil {
		return fmt.Errorf("workload %s: mrsigner without isv_prod_id", w.Name)
	}
	for _, m := range append(slices.Clone(w.MREnclave), w.MRSigner) {
		if m != "" && !isHex(m, 32) {
			return fmt.Errorf("workload %s: %q is not 64 hex digits", w.Name, m)
		}
	}
	for _, m := range w.MRTD {
		if !isHex(m, 48) {
			return fmt.Errorf("workload %s: mrtd %q is not 96 hex digits", w.Name, m)
		}
	}
	for i, m := range w.RTMRs {
		if n, err := strconv.Atoi(i); err != nil || n < 0 || n > 3 || !isHex(m, 48) {
			return fmt.Errorf("workload %s: rtmrs[%s]", w.Name, i)
		}
	}
	for _, s := range w.TCBStatuses {
		if !slices.Contains(tcbStatuses, s) {
			return fmt.Errorf("workload %s: tcb status %q", w.Name, s)
		}
	}
	for _, a := range w.AdvisoryIDs {
		if !advisoryRE.MatchString(a) {
			return fmt.Errorf("workload %s: advisory id %q", w.Name, a)
		}
	}
	if len(w.Secrets) == 0 {
		return fmt.Errorf("workload %s: grants no secret", w.Name)
	}
	return nil
}

func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	return n
}

const validConfig = `listen: 0.0.0.0:4433
admin_listen: 0.0.0.0:9090
tls: {cert: /c, key: /k, client_ca: ""}
verifier: {pcs_url: "https://x/sgx/certification/v4", tdx_pcs_url: "", pcs_kind: intel, trust_root: "", cache_dir: /var/cache/secretprov, collateral_grace: 0s, update: standard, collateral: "", prefetch: [sgx/00A067110000/processor]}
limits: {max_connections: 10, max_connections_per_ip: 2, handshake_timeout: 10s, idle_timeout: 30s, max_secret_size: 1MiB}
log: {level: info, format: json}
audit: {path: ""}
workloads:
  - name: demo
    mrenclave: ["` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"]
    tcb_statuses: [UpToDate]
    allow_debug: false
    secrets: {default: demo-secret}
secrets: {db: {env: DB_PASSWORD}}
secrets_dir: /var/run/secretprov/secrets
`

// TestParseConfigRejects proves the contract mirror is strict: each mutation of a valid file
// must fail.
func TestParseConfigRejects(t *testing.T) {
	if _, err := parseConfig([]byte(validConfig)); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct{ name, old, new string }{
		{"unknown top-level key", "secrets_dir:", "secret_dir:"},
		{"missing top-level key", "audit: {path: \"\"}\n", ""},
		{"unknown nested key", "pcs_kind: intel", "pcs_kind: intel, pcs_type: intel"},
		{"unknown workload key", "allow_debug: false", "allow_debug: false\n    mrenclaves: []"},
		{"bad pcs_kind", "pcs_kind: intel", "pcs_kind: amd"},
		{"bad duration", "idle_timeout: 30s", "idle_timeout: 30"},
		{"bad measurement", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "0123"},
		{"bad tcb status", "[UpToDate]", "[Revoked]"},
		{"bad size", "1MiB", "lots"},
		{"bad log level", "level: info", "level: verbose"},
		{"no secrets granted", "secrets: {default: demo-secret}", "secrets: {}"},
		{"two secret sources", "{env: DB_PASSWORD}", "{env: DB_PASSWORD, file: /x}"},
		{"wrong type", "max_connections: 10", "max_connections: many"},
		{"prefetch not a list", "prefetch: [sgx/00A067110000/processor]", "prefetch: sgx/00A067110000/processor"},
		{"prefetch bad fmspc", "sgx/00A067110000/processor", "sgx/00A0671100/processor"},
		{"prefetch bad ca", "sgx/00A067110000/processor", "sgx/00A067110000/intermediate"},
		{"prefetch with offline collateral", `collateral: ""`, "collateral: /c.json"},
		{"early_warning not a bool", "update: standard", "update: standard, early_warning: sometimes"},
		{"early_warning with update early", "update: standard", "update: early, early_warning: true"},
		{"early_warning with offline collateral", `collateral: "", prefetch: [sgx/00A067110000/processor]`, "collateral: /c.json, early_warning: true"},
		{"tdx_pcs_url not https", `tdx_pcs_url: ""`, "tdx_pcs_url: ftp://x"},
		{"bad workload grace", "allow_debug: false", "allow_debug: false\n    collateral_grace: a-day"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mutated := strings.Replace(validConfig, tc.old, tc.new, 1)
			if mutated == validConfig {
				t.Fatalf("mutation %q did not apply", tc.old)
			}
			if _, err := parseConfig([]byte(mutated)); err == nil {
				t.Errorf("parseConfig accepted the config with %s", tc.name)
			}
		})
	}
}
