package config

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
)

// validator turns the decoded file into a Config, collecting every error with its line.
type validator struct {
	name string
	root *yaml.Node
	base string
	opts Options
	errs []error
}

// errorf records an error at the line of the node at path (dot and [i] separated, e.g.
// "workloads[0].mrenclave[1]").
func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s:%d: %s: %s", v.name, v.line(path), path, fmt.Sprintf(format, args...)))
}

// line finds the line of the value at path, or of its nearest existing ancestor.
func (v *validator) line(path string) int {
	n := v.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, part := range splitPath(path) {
		next := child(n, part)
		if next == nil {
			break
		}
		n, line = next, next.Line
	}
	return line
}

func splitPath(path string) []string {
	var parts []string
	for _, p := range strings.Split(path, ".") {
		name, idx, found := strings.Cut(p, "[")
		parts = append(parts, name)
		for found {
			var i string
			i, idx, _ = strings.Cut(idx, "]")
			parts = append(parts, "["+i)
			idx = strings.TrimPrefix(idx, "[")
			found = idx != ""
		}
	}
	return parts
}

func child(n *yaml.Node, part string) *yaml.Node {
	if i, ok := strings.CutPrefix(part, "["); ok {
		k, err := strconv.Atoi(i)
		if n.Kind != yaml.SequenceNode || err != nil || k < 0 || k >= len(n.Content) {
			return nil
		}
		return n.Content[k]
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == part {
			return n.Content[i+1]
		}
	}
	return nil
}

func (v *validator) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.base, p)
}

func (v *validator) duration(path, s string, dst *time.Duration) {
	if s == "" {
		return
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		v.errorf(path, "want a non-negative duration such as 10s or 5m, got %q", s)
		return
	}
	*dst = d
}

func (v *validator) apply(c *Config, f *file) {
	v.listen(c, f)
	v.tls(c, f)
	v.verifier(c, f)
	v.limits(c, f)
	v.logging(c, f)
	v.secrets(c, f)
	v.workloads(c, f)
}

func (v *validator) listen(c *Config, f *file) {
	if f.Listen != "" {
		c.Listen = f.Listen
	}
	if err := checkHostPort(c.Listen); err != nil {
		v.errorf("listen", "%v", err)
	}
	if f.AdminListen != "" {
		c.AdminListen = f.AdminListen
	}
	if f.AdminListen == "-" {
		c.AdminListen = ""
	} else if err := checkHostPort(c.AdminListen); err != nil {
		v.errorf("admin_listen", "%v", err)
	}
}

func (v *validator) tls(c *Config, f *file) {
	c.TLS = TLS{Cert: v.path(f.TLS.Cert), Key: v.path(f.TLS.Key)}
	if f.TLS.Cert == "" {
		v.errorf("tls.cert", "required: the server's certificate chain (PEM)")
	}
	if f.TLS.Key == "" {
		v.errorf("tls.key", "required: the server's private key (PEM)")
	}
	if f.TLS.ClientCA != "" {
		v.errorf("tls.client_ca", "not supported: RA-TLS client certificates are self-signed and authenticated by their quote")
	}
}

func (v *validator) verifier(c *Config, f *file) {
	vf := f.Verifier
	if vf.PCSURL != "" {
		c.Verifier.PCSURL = vf.PCSURL
	}
	c.Verifier.TDXPCSURL = vf.TDXPCSURL
	for _, p := range []struct{ path, val string }{{"verifier.pcs_url", c.Verifier.PCSURL}, {"verifier.tdx_pcs_url", vf.TDXPCSURL}} {
		if p.val == "" {
			continue
		}
		if u, err := url.Parse(p.val); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			v.errorf(p.path, "want an http(s) base URL such as https://api.trustedservices.intel.com/sgx/certification/v4, got %q", p.val)
		}
	}
	if vf.PCSKind != "" {
		c.Verifier.PCSKind = vf.PCSKind
	}
	if !slices.Contains([]string{"intel", "pccs", "azure"}, c.Verifier.PCSKind) {
		v.errorf("verifier.pcs_kind", "want intel, pccs or azure, got %q", c.Verifier.PCSKind)
	}
	if vf.Update != "" {
		c.Verifier.Update = vf.Update
	}
	if c.Verifier.Update != "standard" && c.Verifier.Update != "early" {
		v.errorf("verifier.update", "want standard or early, got %q", c.Verifier.Update)
	}
	c.Verifier.TrustRoot = v.path(vf.TrustRoot)
	c.Verifier.CacheDir = v.path(vf.CacheDir)
	c.Verifier.CollateralFile = v.path(vf.Collateral)
	v.earlyWarning(c, vf.EarlyWarning)
	v.duration("verifier.collateral_grace", vf.CollateralGrace, &c.Verifier.CollateralGrace)
	for i, k := range vf.Prefetch {
		key, err := parseKey(k)
		if err != nil {
			v.errorf(fmt.Sprintf("verifier.prefetch[%d]", i), "want TEE/FMSPC/CA such as sgx/00A067110000/processor, got %q", k)
			continue
		}
		c.Verifier.Prefetch = append(c.Verifier.Prefetch, key)
	}
	if len(vf.Prefetch) > 0 && c.Verifier.CollateralFile != "" {
		v.errorf("verifier.prefetch", "applies to a PCS (pcs_url), not to the offline collateral file")
	}
}

// earlyWarning checks verifier.early_warning: warnings computed with Intel's early TCB data
// need verdicts on the standard data (with update: early they would compare the early data
// with itself) and a PCS to fetch the early data from (the offline file has none).
func (v *validator) earlyWarning(c *Config, on bool) {
	c.Verifier.EarlyWarning = on
	if !on {
		return
	}
	if c.Verifier.Update == "early" {
		v.errorf("verifier.early_warning", "meaningless with update: early, whose verdicts already use Intel's early TCB data; use update: standard to be warned ahead of a TCB recovery")
	}
	if c.Verifier.CollateralFile != "" {
		v.errorf("verifier.early_warning", "needs a PCS (pcs_url): the offline collateral file has no early TCB data")
	}
}

// parseKey parses a platform key as pcs.Key.String writes it: "sgx/00A067110000/processor".
func parseKey(s string) (pcs.Key, error) {
	parts := strings.Split(s, "/")
	if len(parts) != 3 {
		return pcs.Key{}, errors.New("want three parts")
	}
	var k pcs.Key
	switch parts[0] {
	case "sgx":
		k.TEE = quote.TEESGX
	case "tdx":
		k.TEE = quote.TEETDX
	default:
		return pcs.Key{}, errors.New("want sgx or tdx")
	}
	f, err := pcs.ParseFMSPC(parts[1])
	if err != nil {
		return pcs.Key{}, err
	}
	k.FMSPC, k.CA = f, pcs.CAType(parts[2])
	if !k.CA.Valid() {
		return pcs.Key{}, errors.New("want processor or platform")
	}
	return k, nil
}

func (v *validator) limits(c *Config, f *file) {
	l := f.Limits
	positive := func(path string, p *int, dst *int) {
		if p == nil {
			return
		}
		if *p <= 0 {
			v.errorf(path, "want a positive number, got %d", *p)
			return
		}
		*dst = *p
	}
	positive("limits.max_connections", l.MaxConnections, &c.Limits.MaxConnections)
	positive("limits.max_connections_per_ip", l.MaxConnectionsPerIP, &c.Limits.MaxConnectionsPerIP)
	v.duration("limits.handshake_timeout", l.HandshakeTimeout, &c.Limits.HandshakeTimeout)
	v.duration("limits.idle_timeout", l.IdleTimeout, &c.Limits.IdleTimeout)
	if l.MaxSecretSize != "" {
		n, err := parseSize(l.MaxSecretSize)
		if err != nil || n <= 0 || n > 1<<30 {
			v.errorf("limits.max_secret_size", "want a size such as 64KiB or 1MiB (at most 1GiB), got %q", l.MaxSecretSize)
		} else {
			c.Limits.MaxSecretSize = n
		}
	}
}

func (v *validator) logging(c *Config, f *file) {
	if f.Log.Level != "" {
		c.Log.Level = f.Log.Level
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.errorf("log.level", "want debug, info, warn or error, got %q", c.Log.Level)
	}
	if f.Log.Format != "" {
		c.Log.Format = f.Log.Format
	}
	if c.Log.Format != "json" && c.Log.Format != "text" {
		v.errorf("log.format", "want json or text, got %q", c.Log.Format)
	}
	c.AuditPath = v.path(f.Audit.Path)
}

func (v *validator) secrets(c *Config, f *file) {
	c.SecretsDir = v.path(f.SecretsDir)
	for name, s := range f.Secrets {
		p := "secrets." + name
		n := 0
		for _, set := range []bool{s.File != "", s.Env != "", s.Value != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			v.errorf(p, "want exactly one of file, env or value")
			continue
		}
		c.Secrets[name] = SecretSpec{File: v.path(s.File), Env: s.Env, Value: s.Value}
	}
}

func (v *validator) workloads(c *Config, f *file) {
	if len(f.Workloads) == 0 {
		if !v.opts.NoWorkloads {
			v.errorf("workloads", "required: at least one workload (an enclave identity and its secrets)")
		}
		return
	}
	for i, wf := range f.Workloads {
		p := fmt.Sprintf("workloads[%d]", i)
		w := v.workload(p, wf)
		for _, src := range w.Secrets {
			if _, ok := c.Secrets[src]; !ok && c.SecretsDir == "" {
				v.errorf(p+".secrets", "secret %q is not defined under secrets (and no secrets_dir is set)", src)
			}
		}
		if _, err := policy.New([]policy.Workload{w}); err != nil {
			for _, e := range unjoin(err) {
				v.errorf(p, "%s", strings.TrimPrefix(e.Error(), "policy: "))
			}
			continue
		}
		c.Workloads = append(c.Workloads, w)
	}
	if len(c.Workloads) == len(f.Workloads) {
		if _, err := policy.New(c.Workloads); err != nil {
			for _, e := range unjoin(err) {
				v.errorf("workloads", "%s", strings.TrimPrefix(e.Error(), "policy: "))
			}
		}
	}
}

func (v *validator) workload(p string, wf workloadFile) policy.Workload {
	w := policy.Workload{Name: wf.Name, AllowDebug: wf.AllowDebug, AdvisoryIDs: wf.AdvisoryIDs, Secrets: wf.Secrets}
	for j, h := range wf.MREnclave {
		m, err := quote.ParseMeasurement(h)
		if err != nil {
			v.errorf(fmt.Sprintf("%s.mrenclave[%d]", p, j), "want 64 hex characters, got %q", h)
		}
		w.MREnclave = append(w.MREnclave, m)
	}
	if wf.MRSigner != "" {
		m, err := quote.ParseMeasurement(wf.MRSigner)
		if err != nil {
			v.errorf(p+".mrsigner", "want 64 hex characters, got %q", wf.MRSigner)
		}
		w.MRSigner = &m
	}
	w.ISVProdID = v.u16(p+".isv_prod_id", wf.ISVProdID)
	if svn := v.u16(p+".min_isv_svn", wf.MinISVSVN); svn != nil {
		w.MinISVSVN = *svn
	}
	for j, h := range wf.MRTD {
		m, err := quote.ParseTDMeasurement(h)
		if err != nil {
			v.errorf(fmt.Sprintf("%s.mrtd[%d]", p, j), "want 96 hex characters, got %q", h)
		}
		w.MRTD = append(w.MRTD, m)
	}
	for k, h := range wf.RTMRs {
		i, err := strconv.Atoi(k)
		m, herr := quote.ParseTDMeasurement(h)
		switch {
		case err != nil || i < 0 || i > 3:
			v.errorf(p+".rtmrs."+k, "want an RTMR index 0..3, got %q", k)
		case herr != nil:
			v.errorf(p+".rtmrs."+k, "want 96 hex characters, got %q", h)
		default:
			if w.RTMRs == nil {
				w.RTMRs = map[int]quote.TDMeasurement{}
			}
			w.RTMRs[i] = m
		}
	}
	for j, s := range wf.TCBStatuses {
		st := pcs.TCBStatus(s)
		if !st.Valid() {
			v.errorf(fmt.Sprintf("%s.tcb_statuses[%d]", p, j), "want one of UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded; got %q", s)
			continue
		}
		w.TCBStatuses = append(w.TCBStatuses, st)
	}
	v.duration(p+".collateral_grace", wf.CollateralGrace, &w.CollateralGrace)
	return w
}

func (v *validator) u16(path string, p *int) *uint16 {
	if p == nil {
		return nil
	}
	if *p < 0 || *p > 0xffff {
		v.errorf(path, "want 0..65535, got %d", *p)
		return nil
	}
	n := uint16(*p)
	return &n
}

// unjoin splits an errors.Join result into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// parseSize parses "123", "64KiB", "1MiB", "1GiB" (also KB/MB/GB as powers of 1000).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, errors.New("bad size")
	}
	return n * mult, nil
}
