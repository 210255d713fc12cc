package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

// maxInputFile bounds every file the CLI reads (quotes, collateral, certificates).
const maxInputFile = 4 << 20

func newQuoteCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{Use: "quote", Short: "Inspect and verify SGX/TDX DCAP quotes"}
	cmd.AddCommand(newQuoteVerifyCmd(s))
	return cmd
}

// verifyFlags are the flags shared by every command that verifies a quote.
type verifyFlags struct {
	collateral   string
	src          pcsSource // --pcs-url and its companions
	at           string
	root         string
	allowExpired bool
	json         bool
}

func (f *verifyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.collateral, "collateral", "", "collateral JSON file (dcap-qvl layout, see `secretprov collateral fetch`)")
	f.src.register(cmd)
	fl.StringVar(&f.at, "at", "", "verification time, RFC 3339 (default: now)")
	fl.StringVar(&f.root, "root", "", "trust anchor, PEM or DER (default: the built-in Intel SGX Root CA)")
	fl.BoolVar(&f.allowExpired, "allow-expired-collateral", false, "report expired collateral but do not refuse because of it")
	fl.BoolVar(&f.json, "json", false, "print one JSON object")
}

// time returns the verification time.
func (f *verifyFlags) time() (time.Time, error) {
	if f.at == "" {
		return time.Now(), nil
	}
	t, err := time.Parse(time.RFC3339, f.at)
	if err != nil {
		return time.Time{}, badInput(fmt.Errorf("--at %q: want an RFC 3339 time such as 2025-07-01T00:00:00Z", f.at))
	}
	return t, nil
}

// options returns the verifier options for the flags, warning on w when the trust anchor is not
// Intel's.
func (f *verifyFlags) options(w io.Writer) ([]verify.Option, error) {
	var opts []verify.Option
	if f.root != "" {
		root, err := loadCertificate(f.root)
		if err != nil {
			return nil, badInput(fmt.Errorf("--root: %w", err))
		}
		warnIfNotIntel(w, root)
		opts = append(opts, verify.WithRoot(root))
	}
	if f.allowExpired {
		opts = append(opts, verify.WithExpiredCollateralAllowed())
	}
	return opts, nil
}

func (f *verifyFlags) checkSource() error {
	switch {
	case f.collateral == "" && f.src.url == "":
		return badInput(errors.New("give --collateral FILE or --pcs-url URL"))
	case f.collateral != "" && f.src.url != "":
		return badInput(errors.New("give only one of --collateral and --pcs-url"))
	}
	return nil
}

func newQuoteVerifyCmd(s *streams) *cobra.Command {
	var quotePath string
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --quote FILE (--collateral FILE | --pcs-url URL)",
		Short: "Verify a DCAP quote against Intel's collateral",
		Long: `Verify an SGX v3 or TDX v4/v5 quote (binary or hex) the way Intel's QVL does: PCK chain to the
Intel SGX Root CA, CRLs, TCB info and QE identity signatures, QE report and binding, quote
signature, TCB level. Exit status 0 when verified, 1 when refused, 2 for unusable input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.checkSource(); err != nil {
				return err
			}
			raw, err := readInput(quotePath)
			if err != nil {
				return badInput(fmt.Errorf("--quote: %w", err))
			}
			at, err := f.time()
			if err != nil {
				return err
			}
			opts, err := f.options(s.err)
			if err != nil {
				return err
			}
			bundle, err := f.bundle(cmd, raw)
			if err != nil && !isRefusal(err) {
				return err
			}
			res, verr := verify.Quote(raw, bundle, at, opts...)
			if err != nil && bundle == nil && verify.ReasonOf(verr) == verify.ReasonCollateralUnavailable {
				// Say why the collateral could not be had, not only that it could not.
				verr = &verify.Error{Reason: verify.ReasonCollateralUnavailable, Step: "collateral fetch", Err: errors.Unwrap(err)}
			}
			return printVerdict(s.out, f.json, res, verr, nil)
		},
	}
	cmd.Flags().StringVar(&quotePath, "quote", "", "quote file, binary or hex text (required)")
	_ = cmd.MarkFlagRequired("quote")
	f.register(cmd)
	return cmd
}

// bundle loads the collateral for a quote from the file or the PCS the flags name. A quote that
// does not parse gets no collateral (nil, nil): the verifier then reports it as malformed. A PCS
// that cannot deliver is a refusal (isRefusal), unusable flags or files bad input.
func (f *verifyFlags) bundle(cmd *cobra.Command, rawQuote []byte) (*pcs.Bundle, error) {
	if f.collateral != "" {
		b, err := readInput(f.collateral)
		if err != nil {
			return nil, badInput(fmt.Errorf("--collateral: %w", err))
		}
		bundle, err := pcs.ParseBundleJSON(b)
		if err != nil {
			return nil, badInput(fmt.Errorf("--collateral %s: %w", f.collateral, err))
		}
		return bundle, nil
	}
	if _, err := quote.ParseText(rawQuote); err != nil {
		return nil, nil
	}
	root := verify.IntelRoot()
	if f.root != "" {
		var err error
		if root, err = loadCertificate(f.root); err != nil {
			return nil, badInput(fmt.Errorf("--root: %w", err))
		}
	}
	b, _, err := fetchQuoteCollateral(cmd.Context(), &f.src, root, rawQuote)
	return b, err
}

// isRefusal reports whether err is a refusal (exit status 1) rather than bad input.
func isRefusal(err error) bool {
	ee, ok := errors.AsType[*exitError](err)
	return ok && ee.code == ExitRefused
}

// verdict is the JSON contract of `quote verify --json` (issue 2): verified, reason, error, then
// verify.Result's own fields, which carry their JSON names.
type verdict struct {
	Verified bool   `json:"verified"`
	Reason   string `json:"reason"`
	Error    string `json:"error"`
	*verify.Result
	extra map[string]any
}

// printVerdict prints the outcome of a verification and returns the exit error for it. extra
// fields (e.g. the RA-TLS binding) are added to the JSON object and the human summary.
func printVerdict(w io.Writer, asJSON bool, res *verify.Result, verr error, extra map[string]any) error {
	if res == nil {
		res = &verify.Result{AdvisoryIDs: []string{}}
	}
	if res.AdvisoryIDs == nil {
		res.AdvisoryIDs = []string{}
	}
	v := verdict{Verified: verr == nil, Result: res, extra: extra}
	if verr != nil {
		v.Reason = reasonOf(verr)
		v.Error = verr.Error()
	}
	if asJSON {
		if err := writeJSON(w, v); err != nil {
			return err
		}
	} else {
		printHuman(w, v)
	}
	if verr != nil {
		return refused(nil) // the verdict is already printed
	}
	return nil
}

// writeJSON writes the verdict as one JSON object: verify.Result's fields in their declared
// order, then the extra fields sorted by name.
func writeJSON(w io.Writer, v verdict) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(v.extra) > 0 {
		b = b[:len(b)-1] // reopen the object
		for _, k := range slices.Sorted(maps.Keys(v.extra)) {
			val, err := json.Marshal(v.extra[k])
			if err != nil {
				return err
			}
			kj, _ := json.Marshal(k)
			b = append(append(append(append(b, ','), kj...), ':'), val...)
		}
		b = append(b, '}')
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func printHuman(w io.Writer, v verdict) {
	r := v.Result
	if v.Verified {
		fmt.Fprintln(w, "verified")
	} else {
		fmt.Fprintf(w, "refused: %s\n  %s\n", v.Reason, v.Error)
	}
	line := func(k string, val any) { fmt.Fprintf(w, "  %-18s %v\n", k+":", val) }
	if r.TEE != "" {
		line("tee", fmt.Sprintf("%s (quote v%d)", r.TEE, r.QuoteVersion))
	}
	if r.TCBStatus != "" {
		line("tcb status", r.TCBStatus)
		line("advisories", strings.Join(r.AdvisoryIDs, ", "))
	}
	if r.CollateralExpired {
		line("collateral", "EXPIRED (earliest expiry "+r.EarliestExpiry.UTC().Format(time.RFC3339)+")")
	}
	if r.FMSPC != "" {
		line("fmspc", r.FMSPC)
	}
	id := r.Identity
	if id.MREnclave != nil {
		line("mrenclave", id.MREnclave)
		line("mrsigner", id.MRSigner)
		line("isv prod id", *id.ISVProdID)
		line("isv svn", *id.ISVSVN)
	}
	if id.MRTD != nil {
		line("mrtd", id.MRTD)
	}
	if id.Debug != nil && *id.Debug {
		line("debug", "YES (the enclave's memory is readable by the host)")
	}
	for _, k := range slices.Sorted(maps.Keys(v.extra)) {
		line(strings.ReplaceAll(k, "_", " "), v.extra[k])
	}
}

// readInput reads a bounded input file.
func readInput(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInputFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInputFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxInputFile)
	}
	return b, nil
}

// loadCertificate reads one certificate, PEM or DER.
func loadCertificate(path string) (*x509.Certificate, error) {
	b, err := readInput(path)
	if err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimSpace(b); bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		blk, rest := pem.Decode(trimmed)
		switch {
		case blk == nil:
			return nil, fmt.Errorf("%s: malformed PEM", path)
		case blk.Type != "CERTIFICATE":
			return nil, fmt.Errorf("%s: PEM block %q, want CERTIFICATE", path, blk.Type)
		case len(bytes.TrimSpace(rest)) > 0:
			return nil, fmt.Errorf("%s: more than one PEM block, want one certificate", path)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// warnIfNotIntel prints a loud warning when a trust anchor other than the Intel SGX Root CA is in
// use: quotes verified against it prove nothing about real hardware.
func warnIfNotIntel(w io.Writer, root *x509.Certificate) {
	if root.Equal(verify.IntelRoot()) {
		return
	}
	fmt.Fprintf(w, "WARNING: trusting %q, which is not the Intel SGX Root CA.\n"+
		"WARNING: quotes verified against it prove nothing about real SGX/TDX hardware (simulation or testing only).\n",
		root.Subject.String())
}
