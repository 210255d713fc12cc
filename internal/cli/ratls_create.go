package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/attest"
	"github.com/secretprov/secretprov/ratls"
)

// Gramine's RA-TLS attester variables for the certificate validity (spec §1.3).
const (
	envNotBefore = "RA_TLS_CERT_TIMESTAMP_NOT_BEFORE"
	envNotAfter  = "RA_TLS_CERT_TIMESTAMP_NOT_AFTER"
	// gramineTimestamp is their format, YYYYMMDDhhmmss in UTC.
	gramineTimestamp = "20060102150405"
)

// createFlags are the output flags shared by `ratls create` and `sim ratls`.
type createFlags struct {
	keyType, format, certOut, keyOut string
}

func (f *createFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.keyType, "key-type", "p384", "key algorithm: p384 (Gramine >= 1.4), p256, or rsa3072 (for Gramine <= 1.3 verifiers)")
	fl.StringVar(&f.format, "format", "both", "RA-TLS extensions: both (Gramine >= 1.8), tcg, or legacy (read by every Gramine version)")
	fl.StringVar(&f.certOut, "cert", "", "file to write the certificate to (PEM)")
	fl.StringVar(&f.keyOut, "key", "", "file to write the private key to (PEM, mode 0600)")
	for _, name := range []string{"cert", "key"} {
		_ = cmd.MarkFlagRequired(name) // the flags exist
	}
}

// options returns the creation options for the flags and Gramine's validity variables, read
// through lookup (os.LookupEnv).
func (f *createFlags) options(lookup func(string) (string, bool)) ([]ratls.CreateOption, error) {
	var alg ratls.KeyAlgorithm
	switch f.keyType {
	case "p384":
		alg = ratls.ECDSAP384
	case "p256":
		alg = ratls.ECDSAP256
	case "rsa3072":
		alg = ratls.RSA3072
	default:
		return nil, fmt.Errorf("--key-type %q: want p384, p256 or rsa3072", f.keyType)
	}
	var formats ratls.Format
	switch f.format {
	case "both":
		formats = ratls.FormatLegacy | ratls.FormatTCG
	case "tcg":
		formats = ratls.FormatTCG
	case "legacy":
		formats = ratls.FormatLegacy
	default:
		return nil, fmt.Errorf("--format %q: want both, tcg or legacy", f.format)
	}
	notBefore, notAfter, err := validityFromEnv(lookup)
	if err != nil {
		return nil, err
	}
	if filepath.Clean(f.certOut) == filepath.Clean(f.keyOut) {
		return nil, errors.New("--cert and --key name the same file")
	}
	return []ratls.CreateOption{
		ratls.WithKeyAlgorithm(alg), ratls.WithFormats(formats), ratls.WithValidity(notBefore, notAfter),
	}, nil
}

// validityFromEnv returns the certificate validity: Gramine's defaults, each overridden by its
// variable when set. A set variable must be exactly YYYYMMDDhhmmss (as mbedTLS requires, so an
// empty value is an error too).
func validityFromEnv(lookup func(string) (string, bool)) (notBefore, notAfter time.Time, err error) {
	notBefore, notAfter = ratls.DefaultNotBefore, ratls.DefaultNotAfter
	if v, ok := lookup(envNotBefore); ok {
		if notBefore, err = parseGramineTimestamp(envNotBefore, v); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if v, ok := lookup(envNotAfter); ok {
		if notAfter, err = parseGramineTimestamp(envNotAfter, v); err != nil {
			return time.Time{}, time.Time{}, err
		}
	}
	if !notAfter.After(notBefore) {
		return time.Time{}, time.Time{}, fmt.Errorf("certificate validity %s to %s: the end is not after the start (%s, %s)",
			notBefore.Format(time.RFC3339), notAfter.Format(time.RFC3339), envNotBefore, envNotAfter)
	}
	return notBefore, notAfter, nil
}

func parseGramineTimestamp(name, v string) (time.Time, error) {
	t, err := time.Parse(gramineTimestamp, v)
	if err != nil || len(v) != len(gramineTimestamp) {
		return time.Time{}, fmt.Errorf("%s=%q: want YYYYMMDDhhmmss in UTC, e.g. 20301231235959", name, v)
	}
	return t, nil
}

func newRATLSCreateCmd(s *streams) *cobra.Command {
	var attester, simDir string
	var cf createFlags
	var sf simQuoteFlags
	cmd := &cobra.Command{
		Use:   "create --attester gramine|sim|tdx --cert FILE --key FILE",
		Short: "Create an RA-TLS certificate and key with a quote of this enclave or TD (like gramine-ratls)",
		Long: `Generates a key, obtains one quote per RA-TLS extension that binds it, and writes the self-signed
certificate and the key in PEM, as Gramine's gramine-ratls does inside an enclave. Attesters:
  gramine  Gramine's /dev/attestation (SGX DCAP), inside a Gramine enclave
  tdx      the Linux configfs-tsm report interface (/sys/kernel/config/tsm/report), in a TDX guest
  sim      a simulated platform of the world in --sim-dir (never trusted unless its root is named);
           the identity and platform flags (--mrenclave ... --pck-revoked) apply to it only
The validity is Gramine's (2001-01-01 to 2030-12-31) unless RA_TLS_CERT_TIMESTAMP_NOT_BEFORE or
RA_TLS_CERT_TIMESTAMP_NOT_AFTER (YYYYMMDDhhmmss, UTC) say otherwise. Exit status 0 when written,
1 when no quote could be obtained, 2 for unusable flags or variables.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := createAttester(cmd, s, attester, simDir, &sf)
			if err != nil {
				return err
			}
			return createRATLS(cmd.Context(), s, a, &cf)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&attester, "attester", "", "quote provider: gramine, tdx or sim (required)")
	fl.StringVar(&simDir, "sim-dir", "", "directory of the simulated world (--attester sim)")
	registerSimIdentityFlags(cmd, &sf)
	cf.register(cmd)
	_ = cmd.MarkFlagRequired("attester") // the flag exists
	return cmd
}

// createAttester returns the quote provider --attester names. The simulator's flags are refused
// with the real attesters, whose identity is whatever the enclave or TD really is.
func createAttester(cmd *cobra.Command, s *streams, name, simDir string, sf *simQuoteFlags) (ratls.Attester, error) {
	if name == "sim" {
		if simDir == "" {
			return nil, badInput(errors.New("--attester sim needs --sim-dir DIR (see `secretprov sim init`)"))
		}
		sf.dir = simDir
		e, err := simEnclave(sf)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(s.err, simWarning)
		return e, nil
	}
	for _, flag := range append([]string{"sim-dir"}, simIdentityFlags...) {
		if cmd.Flags().Changed(flag) {
			return nil, badInput(fmt.Errorf("--%s applies to --attester sim only", flag))
		}
	}
	switch name {
	case "gramine":
		return attest.NewGramine(), nil
	case "tdx":
		return attest.NewTSM(), nil
	case "":
		return nil, badInput(errors.New("give --attester gramine, tdx or sim"))
	}
	return nil, badInput(fmt.Errorf("--attester %q: want gramine, tdx or sim", name))
}

// createRATLS creates the certificate with a and writes it and its key as the flags say.
func createRATLS(ctx context.Context, s *streams, a ratls.Attester, f *createFlags) error {
	opts, err := f.options(os.LookupEnv)
	if err != nil {
		return badInput(fmt.Errorf("ratls create: %w", err))
	}
	cert, err := ratls.NewCertificate(ctx, a, opts...)
	if err != nil {
		return refused(fmt.Errorf("ratls create: %w", err))
	}
	certPEM, keyPEM, err := ratls.EncodePEM(cert)
	if err != nil {
		return fmt.Errorf("ratls create: %w", err)
	}
	if err := writeFileAtomic(f.keyOut, keyPEM, 0o600); err != nil {
		return badInput(fmt.Errorf("ratls create: --key: %w", err))
	}
	if err := writeFileAtomic(f.certOut, certPEM, 0o644); err != nil {
		return badInput(fmt.Errorf("ratls create: --cert: %w", err))
	}
	leaf := cert.Leaf
	fmt.Fprintf(s.out, "wrote RA-TLS certificate (%s, key %s, valid %s to %s) to %s\nwrote its private key (mode 0600) to %s\n",
		strings.Join(raTLSExtensions(leaf), "+"), keyName(leaf.PublicKey),
		leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), f.certOut, f.keyOut)
	return nil
}
