package cli

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/attest"
	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/wire"
)

// Gramine's client environment variables (spec §2.3), the fallbacks of the client flags.
const (
	envServers = "SECRET_PROVISION_SERVERS"
	envCAChain = "SECRET_PROVISION_CA_CHAIN_PATH"
	envSetKey  = "SECRET_PROVISION_SET_KEY"
)

// Test seams: where Gramine keys go and how the process is replaced.
var (
	newKeySetter = func() client.KeySetter { return attest.NewGramine() }
	execProcess  = client.Exec
)

// clientFlags are the flags of "client get" and "client exec".
type clientFlags struct {
	servers    []string
	ca         string
	attester   string
	simDir     string
	sim        simQuoteFlags // identity and platform of --attester sim
	names      []string
	outDir     string
	timeout    time.Duration
	protocol   string
	serverName string
	// exec only
	env           []string
	setKeys       []string
	gramineString bool
}

func (f *clientFlags) register(cmd *cobra.Command, exec bool) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.servers, "servers", nil, "servers to try in order, HOST:PORT[,HOST:PORT...] (';' and spaces separate too; IPv6 as [ADDR]:PORT); default $"+envServers+", else "+client.DefaultServers)
	fl.StringVar(&f.ca, "ca", "", "CA certificates (PEM or DER) that verify the server; default $"+envCAChain)
	fl.StringVar(&f.attester, "attester", "", "quote provider: gramine (/dev/attestation), tdx (configfs-tsm) or sim (simulator, tests only)")
	fl.StringVar(&f.simDir, "sim-dir", "", "simulated world directory (--attester sim)")
	registerSimIdentityFlags(cmd, &f.sim)
	fl.StringSliceVar(&f.names, "secret", nil, "secret to fetch, repeatable (default: default)")
	fl.StringVar(&f.outDir, "out-dir", "", "write each secret to DIR/NAME, mode 0400 (DIR created 0700; put it on a tmpfs)")
	fl.DurationVar(&f.timeout, "timeout", client.DefaultTimeout, "give up after this long, retries included")
	fl.StringVar(&f.protocol, "protocol", string(client.Secretprov), "secretprov (named secrets, refusal reasons) or gramine (V1: the default secret only; works with Gramine's server)")
	fl.StringVar(&f.serverName, "server-name", "", "name to check in every server's certificate (default: the host of each server entry)")
	if exec {
		fl.StringArrayVar(&f.env, "env", nil, "set environment variable VAR to secret SECRET, VAR=SECRET, repeatable")
		fl.StringArrayVar(&f.setKeys, "set-key", nil, "install secret SECRET (16 bytes) as Gramine encrypted-files key KEYNAME, KEYNAME=SECRET, repeatable")
		fl.BoolVar(&f.gramineString, "gramine-string", false, "set "+client.GramineStringVar+" to the default secret, as Gramine's constructor does")
	}
}

func newClientCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "client",
		Short: "Receive secrets inside an enclave: attest over RA-TLS, fetch, deliver (get, exec)",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newClientGetCmd(s), newClientExecCmd(s))
	return cmd
}

const clientExitCodes = `

Exit status: 0 when the secrets were received and delivered; 1 when they were not (the server
refused, with its reason code and a hint, or no server answered before --timeout); 2 for unusable
input (flags, files, attester).`

func newClientGetCmd(s *streams) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "get --servers HOST:PORT[,...] --ca FILE --attester gramine|sim|tdx [flags]",
		Short: "Fetch secrets; print them (like Gramine's example) or write them to --out-dir",
		Long: `Creates an RA-TLS certificate with the attester's quote, then tries the servers in order, again
and again with backoff until --timeout, and receives the secrets named by --secret ("default" if
none). Without --out-dir (and without $` + envSetKey + `), each secret is printed on standard
output as Gramine's example prints it:

  --- Received secret = '<value>'          (the default secret)
  --- Received secret <name> = '<value>'   (any other)

With $` + envSetKey + `=KEYNAME the default secret becomes Gramine encrypted-files key KEYNAME
(/dev/attestation/keys/KEYNAME, exactly 16 bytes) instead.` + clientExitCodes,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runClient(cmd, s, &f, nil) },
	}
	f.register(cmd, false)
	return cmd
}

func newClientExecCmd(s *streams) *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "exec [get flags] [--env VAR=SECRET ...] [--set-key KEYNAME=SECRET ...] -- CMD ARGS...",
		Short: "Fetch secrets, deliver them, then replace this process with CMD",
		Long: `Fetches secrets as "client get" does, delivers them (--out-dir files, --env variables,
--set-key and $` + envSetKey + ` Gramine encrypted-files keys, --gramine-string), then
replaces itself with CMD (same process, same enclave), which inherits the environment with the
--env variables added. Secrets named by --env and --set-key are fetched even without --secret.` + clientExitCodes,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || cmd.ArgsLenAtDash() != 0 {
				return badInput(errors.New("client exec: give the command after --, e.g. client exec --env X=default -- /app/run"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runClient(cmd, s, &f, args) },
	}
	f.register(cmd, true)
	return cmd
}

// delivery is what to do with the received secrets.
type delivery struct {
	outDir        string
	env           map[string]string // VAR → secret
	keys          map[string]string // KEYNAME → secret
	gramineString bool
	argv          []string // exec only
}

func (d *delivery) empty() bool {
	return d.outDir == "" && len(d.env) == 0 && len(d.keys) == 0 && !d.gramineString
}

// runClient is "client get" (argv nil) and "client exec".
func runClient(cmd *cobra.Command, s *streams, f *clientFlags, argv []string) error {
	cfg, d, err := f.resolve(argv)
	if err != nil {
		return badInput(err)
	}
	a, err := createAttester(cmd, s, f.attester, f.simDir, &f.sim)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), cfg.Timeout) // attestation included
	defer cancel()
	cert, err := client.NewCertSource(ctx, a)
	if err != nil {
		return badInput(fmt.Errorf("client: attester %s: %w", f.attester, err))
	}
	cfg.Certificate = cert
	cfg.Logger = slog.New(slog.NewTextHandler(s.err, nil))
	res, err := client.Fetch(ctx, cfg)
	if err != nil {
		return reportFailure(s, err)
	}
	if argv == nil && d.empty() {
		printSecrets(s, res.Secrets)
		return nil
	}
	pairs, err := deliver(s, d, res.Secrets)
	if err != nil || argv == nil {
		return err
	}
	if err := execProcess(d.argv, client.MergeEnv(os.Environ(), pairs)); err != nil {
		return badInput(fmt.Errorf("client exec: %w", err))
	}
	return nil // only a test's execProcess returns
}

// resolve turns the flags and environment into a Fetch configuration (without certificate) and
// the delivery.
func (f *clientFlags) resolve(argv []string) (client.Config, *delivery, error) {
	var cfg client.Config
	d := &delivery{outDir: f.outDir, gramineString: f.gramineString, argv: argv}
	if len(argv) > 0 {
		if _, err := exec.LookPath(argv[0]); err != nil {
			return cfg, nil, fmt.Errorf("client exec: %w", err)
		}
	}
	var err error
	if cfg.Servers, err = f.serverList(); err != nil {
		return cfg, nil, err
	}
	if cfg.Roots, err = f.roots(); err != nil {
		return cfg, nil, err
	}
	if cfg.Protocol, err = client.ParseProtocol(f.protocol); err != nil {
		return cfg, nil, err
	}
	if d.env, err = parseMapping("--env", f.env); err != nil {
		return cfg, nil, err
	}
	if d.keys, err = f.keyMapping(); err != nil {
		return cfg, nil, err
	}
	if err := checkDeliveryNames(d); err != nil {
		return cfg, nil, err
	}
	if argv != nil && d.empty() {
		return cfg, nil, errors.New("client exec: no delivery: give --out-dir, --env, --set-key, --gramine-string or $" + envSetKey + ", or the command gets no secrets")
	}
	cfg.Names = wantedNames(f.names, d)
	for _, n := range cfg.Names {
		if err := wire.CheckName(n, wire.Limits{}); err != nil {
			return cfg, nil, fmt.Errorf("secret name %q: %w", n, err)
		}
	}
	if cfg.Protocol == client.GramineV1 && !slices.Equal(cfg.Names, []string{client.DefaultSecretName}) {
		return cfg, nil, fmt.Errorf("--protocol %s receives only the %q secret, not %s", client.GramineV1, client.DefaultSecretName, strings.Join(cfg.Names, ", "))
	}
	cfg.ServerName, cfg.Timeout = f.serverName, f.timeout
	if f.timeout <= 0 {
		return cfg, nil, fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	}
	return cfg, d, nil
}

func (f *clientFlags) serverList() ([]string, error) {
	list := strings.Join(f.servers, ",")
	if list == "" {
		list = os.Getenv(envServers)
	}
	if list == "" {
		list = client.DefaultServers
	}
	return client.ParseServers(list)
}

func (f *clientFlags) roots() (*x509.CertPool, error) {
	path := f.ca
	if path == "" {
		path = os.Getenv(envCAChain)
	}
	if path == "" {
		return nil, errors.New("give --ca FILE or $" + envCAChain + ": the CA certificates that verify the server")
	}
	pool, err := loadCAPool(path)
	if err != nil {
		return nil, fmt.Errorf("--ca: %w", err)
	}
	return pool, nil
}

// loadCAPool reads CA certificates: PEM blocks, or concatenated DER.
func loadCAPool(path string) (*x509.CertPool, error) {
	b, err := readInput(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	if strings.Contains(string(b), "-----BEGIN") {
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			certs = append(certs, c)
		}
	} else if certs, err = x509.ParseCertificates(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// parseMapping parses repeated NAME=SECRET flags.
func parseMapping(flag string, vals []string) (map[string]string, error) {
	m := map[string]string{}
	for _, v := range vals {
		k, name, ok := strings.Cut(v, "=")
		if !ok || k == "" || name == "" {
			return nil, fmt.Errorf("%s %q: want NAME=SECRET", flag, v)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s: %s given twice", flag, k)
		}
		m[k] = name
	}
	return m, nil
}

// checkDeliveryNames checks variable and key names before anything is fetched.
func checkDeliveryNames(d *delivery) error {
	for v := range d.env {
		if err := client.CheckEnvName(v); err != nil {
			return fmt.Errorf("--env: %w", err)
		}
	}
	for k := range d.keys {
		if err := client.CheckKeyName(k); err != nil {
			return fmt.Errorf("--set-key: %w", err)
		}
	}
	return nil
}

// keyMapping is --set-key plus $SECRET_PROVISION_SET_KEY (the default secret).
func (f *clientFlags) keyMapping() (map[string]string, error) {
	m, err := parseMapping("--set-key", f.setKeys)
	if err != nil {
		return nil, err
	}
	if k := os.Getenv(envSetKey); k != "" {
		if prev, dup := m[k]; dup && prev != client.DefaultSecretName {
			return nil, fmt.Errorf("$%s=%s and --set-key %s=%s disagree", envSetKey, k, k, prev)
		}
		m[k] = client.DefaultSecretName
	}
	if len(m) > 0 && f.attester == "tdx" {
		return nil, errors.New("--set-key and $" + envSetKey + " install Gramine keys: they need --attester gramine")
	}
	return m, nil
}

// wantedNames is --secret plus every secret a delivery names, in order, without repeats;
// ["default"] when nothing names any.
func wantedNames(flagNames []string, d *delivery) []string {
	var out []string
	add := func(n string) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	for _, n := range flagNames {
		add(n)
	}
	for _, m := range []map[string]string{d.env, d.keys} {
		for _, k := range sortedKeys(m) {
			add(m[k])
		}
	}
	if d.gramineString || len(out) == 0 {
		add(client.DefaultSecretName)
	}
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
