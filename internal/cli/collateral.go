package cli

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

func newCollateralCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "Fetch Intel collateral (TCB info, QE identity, CRLs) for offline verification",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newCollateralFetchCmd(s))
	return cmd
}

// pcsSource describes a collateral service on the command line.
type pcsSource struct {
	url, tdxURL, kind, rootCRLURL, update string
	timeout                               time.Duration
}

func (p *pcsSource) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&p.url, "pcs-url", "", "PCS v4 SGX base URL, e.g. "+collateral.IntelPCSURL+" (required)")
	fl.StringVar(&p.kind, "pcs-kind", "intel", "URL and header dialect: intel, pccs or azure")
	fl.StringVar(&p.tdxURL, "tdx-pcs-url", "", "TDX base URL (default: --pcs-url with /sgx/ replaced by /tdx/)")
	fl.StringVar(&p.rootCRLURL, "root-crl-url", "", "where --pcs-kind intel fetches the root CA CRL (default: "+collateral.IntelRootCRLURL+")")
	fl.StringVar(&p.update, "update", "standard", "TCB data set: standard or early")
	fl.DurationVar(&p.timeout, "timeout", time.Minute, "overall time limit")
}

// cache returns a memory-only collateral cache over the service, checking documents against
// root.
func (p *pcsSource) cache(root *x509.Certificate) (*collateral.Cache, error) {
	kind, err := collateral.ParseServiceKind(p.kind)
	if err != nil {
		return nil, badInput(fmt.Errorf("--pcs-kind: %w", err))
	}
	update, err := collateral.ParseUpdate(p.update)
	if err != nil {
		return nil, badInput(fmt.Errorf("--update: %w", err))
	}
	client, err := collateral.NewClient(collateral.ClientConfig{
		BaseURL: p.url, TDXBaseURL: p.tdxURL, Kind: kind, RootCRLURL: p.rootCRLURL,
		HTTPClient: &http.Client{}, UserAgent: "secretprov/" + version(),
	})
	if err != nil {
		return nil, badInput(fmt.Errorf("--pcs-url: %w", err))
	}
	c, err := collateral.NewCache(collateral.Config{Source: client, Root: root, Update: update})
	if err != nil {
		return nil, badInput(err)
	}
	return c, nil
}

// fetchQuoteCollateral fetches and checks the collateral of a quote's platform (the key comes
// from the quote's PCK certificate). Unusable input is a badInput error, a service that cannot
// deliver verified collateral a refused one.
func fetchQuoteCollateral(ctx context.Context, p *pcsSource, root *x509.Certificate, rawQuote []byte) (*pcs.Bundle, pcs.Key, error) {
	q, err := quote.ParseText(rawQuote)
	if err != nil {
		return nil, pcs.Key{}, badInput(fmt.Errorf("--quote: %w", err))
	}
	key, err := collateral.KeyOf(q)
	if err != nil {
		return nil, pcs.Key{}, badInput(fmt.Errorf("--quote: %w", err))
	}
	cache, err := p.cache(root)
	if err != nil {
		return nil, key, err
	}
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.timeout)
		defer cancel()
	}
	b, err := cache.Collateral(ctx, key)
	if err != nil {
		return nil, key, refused(err)
	}
	return b, key, nil
}

func newCollateralFetchCmd(s *streams) *cobra.Command {
	var quotePath, rootPath, out string
	var src pcsSource
	cmd := &cobra.Command{
		Use:   "fetch --quote FILE --pcs-url URL --out FILE",
		Short: "Fetch and check the collateral of a quote's platform; write the offline JSON",
		Long: `Fetch the TCB info, QE identity, PCK CRL and root CA CRL for the platform that produced a quote
(TEE, FMSPC and PCK CA type are read from the quote's PCK certificate), check every document's
issuer chain and signature against the trust root, and write them as the collateral JSON that
"secretprov quote verify --collateral" and air-gapped verifiers read ("-" writes to stdout).
The quote itself is not verified. Exit status 0 when written, 1 when the service did not
deliver valid collateral, 2 for unusable input.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := readInput(quotePath)
			if err != nil {
				return badInput(fmt.Errorf("--quote: %w", err))
			}
			root := verify.IntelRoot()
			if rootPath != "" {
				if root, err = loadCertificate(rootPath); err != nil {
					return badInput(fmt.Errorf("--root: %w", err))
				}
				warnIfNotIntel(s.err, root)
			}
			b, key, err := fetchQuoteCollateral(cmd.Context(), &src, root, raw)
			if err != nil {
				return err
			}
			return writeCollateral(s, out, b, key)
		},
	}
	cmd.Flags().StringVar(&quotePath, "quote", "", "quote file, binary or hex text (required)")
	cmd.Flags().StringVar(&rootPath, "root", "", "trust anchor the collateral must chain to, PEM or DER (default: the built-in Intel SGX Root CA)")
	cmd.Flags().StringVar(&out, "out", "", `output file ("-" for stdout) (required)`)
	src.register(cmd)
	for _, name := range []string{"quote", "pcs-url", "out"} {
		_ = cmd.MarkFlagRequired(name)
	}
	return cmd
}

// writeCollateral writes the bundle's JSON to path (atomically, mode 0644: collateral is
// public) or to stdout for "-".
func writeCollateral(s *streams, path string, b *pcs.Bundle, key pcs.Key) error {
	data, err := b.MarshalJSON()
	if err != nil {
		return fmt.Errorf("collateral fetch: %w", err)
	}
	data = append(data, '\n')
	if path == "-" {
		_, err := s.out.Write(data)
		return err
	}
	if err := writeFileAtomic(path, data, 0o644); err != nil {
		return badInput(fmt.Errorf("--out: %w", err))
	}
	fmt.Fprintf(s.out, "wrote collateral for %s to %s (TCB info next update %s)\n",
		key, path, b.TCBInfo.NextUpdate.UTC().Format(time.RFC3339))
	return nil
}

// writeFileAtomic writes data to a temporary file beside path and renames it over path.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
