package cli

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// simWarning is printed to stderr by the simulator commands that create or serve simulated trust.
const simWarning = `WARNING: SIMULATED Intel SGX/TDX attestation (secretprov sim).
WARNING: Its root CA (DIR/root.pem) is a test key anyone can use to forge "genuine" quotes.
WARNING: Nothing trusts it unless named explicitly; never name it outside tests and demos.`

func newSimCmd(s *streams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated SGX/TDX platform, collateral and PCS for tests and demos (never trusted by default)",
		Long: `The simulator creates a simulated Intel PKI, SGX and TDX platforms and their collateral in a
directory (the "world"), produces quotes from those platforms and serves the collateral like
Intel's PCS. Quotes verify only when DIR/root.pem is named as the trust root; with the default
Intel root they are refused (pck_chain_invalid).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newSimInitCmd(s), newSimPCSCmd(s), newSimQuoteCmd(s), newSimCollateralCmd(s))
	cmd.AddCommand(newSimRATLSCmd(s))
	return cmd
}

// simEarlyAdvisory is the advisory ID that "sim init --early-recovery" adds to the level whose
// status drops. It is made up, like the rest of the simulated collateral.
const simEarlyAdvisory = "INTEL-SA-99999"

// simInitFlags are the flags of "sim init".
type simInitFlags struct {
	dir, earlyRecovery string
	force              bool
}

func newSimInitCmd(s *streams) *cobra.Command {
	var f simInitFlags
	cmd := &cobra.Command{
		Use:   "init --dir DIR [--force] [--early-recovery STATUS]",
		Short: "Create a simulated world in DIR (DIR/root.pem is its root certificate)",
		Long: `Creates a simulated Intel PKI, one SGX and one TDX platform per TCB status, and their collateral
(valid from now) in DIR. DIR/root.pem is the world's root certificate: name it as the trust root
of whatever should accept the simulated quotes, and of nothing else.

--early-recovery STATUS gives the world Intel's early TCB data of a coming TCB recovery, for SGX
and TDX: the next tcbEvaluationDataNumber, a new UpToDate level above today's, and today's
UpToDate level dropped to STATUS (any TCB status but UpToDate, e.g. OutOfDate) with the
made-up advisory ` + simEarlyAdvisory + `. The standard collateral is unchanged; "sim pcs" serves the
early data for update=early and "sim collateral --update early" writes it.

To see the server's TCB recovery warning end to end: "sim init --dir DIR --early-recovery
OutOfDate"; "sim pcs --dir DIR"; a server with a workload for the simulated enclave,
verifier.pcs_url set to the printed URL, verifier.trust_root: DIR/root.pem and
verifier.early_warning: true; then "client get --attester sim --sim-dir DIR" twice. Both are
granted (the platform is UpToDate today); the first makes the server fetch the early data in
the background, the second is logged as a TCB recovery warning (UpToDate, early STATUS).`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return runSimInit(s, &f) },
	}
	cmd.Flags().StringVar(&f.dir, "dir", "", "directory of the simulated world (created if needed)")
	cmd.Flags().BoolVar(&f.force, "force", false, "replace the world already in DIR")
	cmd.Flags().StringVar(&f.earlyRecovery, "early-recovery", "", "give the world early TCB data in which today's UpToDate platforms drop to this status (empty: none)")
	_ = cmd.MarkFlagRequired("dir") // the flag exists
	return cmd
}

func runSimInit(s *streams, f *simInitFlags) error {
	dropTo, err := parseEarlyRecovery(f.earlyRecovery)
	if err != nil {
		return badInput(err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "world.json")); err == nil && !f.force {
		return badInput(fmt.Errorf("sim init: %s already holds a simulated world (use --force to replace it): %w", f.dir, sim.ErrExist))
	}
	w, err := sim.New(sim.Options{})
	if err != nil {
		return fmt.Errorf("sim init: %w", err)
	}
	if dropTo != "" {
		if err := setEarlyRecovery(w, dropTo); err != nil {
			return fmt.Errorf("sim init: %w", err)
		}
	}
	if err := w.Save(f.dir); err != nil {
		return badInput(fmt.Errorf("sim init: %w", err))
	}
	fmt.Fprintln(s.err, simWarning)
	fmt.Fprintf(s.out, "simulated world created in %s\nroot certificate: %s\ncollateral valid %s to %s\n",
		f.dir, filepath.Join(f.dir, "root.pem"), w.Now().Format(time.RFC3339), w.Now().Add(sim.DefaultCollateralValidity).Format(time.RFC3339))
	if dropTo != "" {
		early, err := w.EarlyTCBInfo(quote.TEESGX)
		if err != nil {
			return fmt.Errorf("sim init: %w", err)
		}
		fmt.Fprintf(s.out, "early TCB data (update=early, tcbEvaluationDataNumber %d): UpToDate platforms drop to %s with %s\n",
			early.TCBEvaluationDataNumber, dropTo, simEarlyAdvisory)
	}
	return nil
}

// earlyRecoveryStatuses are the values of "sim init --early-recovery": the statuses worse than
// UpToDate.
func earlyRecoveryStatuses() []pcs.TCBStatus {
	return slices.DeleteFunc(sim.Statuses(), func(st pcs.TCBStatus) bool { return st == pcs.StatusUpToDate })
}

func earlyRecoveryList() string {
	var names []string
	for _, st := range earlyRecoveryStatuses() {
		names = append(names, string(st))
	}
	return strings.Join(names, ", ")
}

// parseEarlyRecovery validates "sim init --early-recovery": empty (no early TCB data) or a
// status worse than UpToDate.
func parseEarlyRecovery(s string) (pcs.TCBStatus, error) {
	st := pcs.TCBStatus(s)
	if s != "" && !slices.Contains(earlyRecoveryStatuses(), st) {
		return "", fmt.Errorf("sim init: --early-recovery %q: want a status worse than UpToDate: %s", s, earlyRecoveryList())
	}
	return st, nil
}

// setEarlyRecovery gives every TEE of w early TCB data in which the standard levels' UpToDate
// level drops to dropTo with simEarlyAdvisory (sim.RecoveryLevels).
func setEarlyRecovery(w *sim.World, dropTo pcs.TCBStatus) error {
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		std, err := w.TCBInfo(tee)
		if err != nil {
			return err
		}
		if err := w.SetEarlyTCBLevels(tee, sim.RecoveryLevels(std.Levels, dropTo, simEarlyAdvisory)); err != nil {
			return err
		}
	}
	return nil
}

func newSimPCSCmd(s *streams) *cobra.Command {
	var dir, listen, dialects string
	cmd := &cobra.Command{
		Use:   "pcs --dir DIR --listen ADDR [--dialect intel,azure,azure-thim]",
		Short: "Serve the world's collateral like Intel PCS v4, a PCCS or Azure's caches until stopped",
		Long: `Serves the world's collateral under http://ADDR/sgx/certification/v4 and /tdx/certification/v4
until interrupted, in the URL and header dialects named by --dialect (default: all three):

  intel       Intel PCS v4 and PCCS (verifier.pcs_kind intel or pccs): tcb?fmspc=, qe/identity,
              pckcrl?ca=, rootcacrl, crl?uri=, /IntelSGXRootCA.der, and pckcert (the world's
              PCK certificates, by qeid or by raw TCB, for Intel's quote provider)
  azure       Azure's global ACC cache (pcs_kind azure): requests with clientid= and
              api-version=, CRLs by pckcrl?uri=<Intel CRL URL>, Azure's header names
  azure-thim  Azure's regional THIM service (pcs_kind azure with THIM): clientid= and
              api-version=, CRLs by pckcrl?ca= and rootcacrl, always DER

tcb and qe/identity accept update=standard|early in every dialect: update=early serves the
world's early TCB data (Intel's, ahead of a TCB recovery) when it has one, else the standard
documents. The base URL is printed on standard output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ds, err := parseDialects(dialects)
			if err != nil {
				return badInput(err)
			}
			w, err := sim.Open(dir)
			if err != nil {
				return badInput(fmt.Errorf("sim pcs: %w", err))
			}
			var lc net.ListenConfig
			ln, err := lc.Listen(cmd.Context(), "tcp", listen)
			if err != nil {
				return badInput(fmt.Errorf("sim pcs: %w", err))
			}
			fmt.Fprintln(s.err, simWarning)
			warnIfStale(s, w, time.Now())
			fmt.Fprintf(s.out, "http://%s%s\n", ln.Addr(), sim.SGXBasePath)
			return servePCS(cmd.Context(), ln, sim.PCSHandler(w, sim.WithDialects(ds...)))
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the simulated world")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8081", "address to listen on (host:port; port 0 picks one)")
	cmd.Flags().StringVar(&dialects, "dialect", strings.Join(dialectNames(), ","), "comma-separated dialects to serve: "+strings.Join(dialectNames(), ", "))
	_ = cmd.MarkFlagRequired("dir") // the flag exists
	return cmd
}

// simDialects are the values of "sim pcs --dialect".
var simDialects = []sim.Dialect{sim.DialectIntel, sim.DialectAzure, sim.DialectAzureTHIM}

func dialectNames() []string {
	names := make([]string, len(simDialects))
	for i, d := range simDialects {
		names[i] = string(d)
	}
	return names
}

// parseDialects parses the comma-separated --dialect list (at least one, each known).
func parseDialects(list string) ([]sim.Dialect, error) {
	var out []sim.Dialect
	for name := range strings.SplitSeq(list, ",") {
		d := sim.Dialect(strings.TrimSpace(name))
		if !slices.Contains(simDialects, d) {
			return nil, fmt.Errorf("sim pcs: --dialect %q: want a comma-separated list of %s", name, strings.Join(dialectNames(), ", "))
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

// warnIfStale tells the operator when the world's collateral is not valid now.
func warnIfStale(s *streams, w *sim.World, now time.Time) {
	t, err := w.TCBInfo(quote.TEESGX)
	if err != nil || (!now.Before(t.IssueDate) && !now.After(t.NextUpdate)) {
		return
	}
	fmt.Fprintf(s.err, "WARNING: the simulated collateral is valid %s to %s, not now; run \"secretprov sim init --force\"\n",
		t.IssueDate.Format(time.RFC3339), t.NextUpdate.Format(time.RFC3339))
}

// servePCS serves h on ln until ctx is cancelled, then shuts down gracefully.
func servePCS(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("sim pcs: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("sim pcs: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("sim pcs: %w", err)
	}
	return nil
}

// simQuoteFlags are the identity and platform flags of "sim quote".
type simQuoteFlags struct {
	dir, reportData, mrenclave, mrsigner, mrtd, status, out string
	prodID, svn                                             uint16
	debug, tdx, pckRevoked                                  bool
}

func newSimQuoteCmd(s *streams) *cobra.Command {
	var f simQuoteFlags
	cmd := &cobra.Command{
		Use:   "quote --dir DIR --report-data HEX --out FILE",
		Short: "Write a binary quote from a simulated platform at a chosen TCB status",
		Long: `Writes a binary SGX v3 quote (TDX v4 with --tdx) from the world's platform whose PCK certificate
matches the TCB level with --tcb-status, so that "secretprov quote verify --root DIR/root.pem"
reports exactly that status. --report-data is up to 64 bytes of hex, zero-padded on the right.
Unset identity flags take the simulator's default identity.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSimQuote(cmd.Context(), s, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.dir, "dir", "", "directory of the simulated world")
	fl.StringVar(&f.reportData, "report-data", "", "REPORTDATA, up to 64 bytes of hex")
	registerSimIdentityFlags(cmd, &f)
	fl.StringVar(&f.out, "out", "", "file to write the binary quote to")
	for _, name := range []string{"dir", "report-data", "out"} {
		_ = cmd.MarkFlagRequired(name) // the flags exist
	}
	return cmd
}

func statusList() string {
	var names []string
	for _, st := range sim.Statuses() {
		names = append(names, string(st))
	}
	return strings.Join(names, ", ")
}

func runSimQuote(ctx context.Context, s *streams, f *simQuoteFlags) error {
	rd, err := parseReportData(f.reportData)
	if err != nil {
		return badInput(err)
	}
	id, err := f.identity()
	if err != nil {
		return badInput(err)
	}
	p, err := simPlatform(f.dir, f.tdx, f.status, f.pckRevoked)
	if err != nil {
		return err
	}
	raw, err := p.Enclave(id).Quote(ctx, rd)
	if err != nil {
		return fmt.Errorf("sim quote: %w", err)
	}
	if err := os.WriteFile(f.out, raw, 0o644); err != nil {
		return badInput(fmt.Errorf("sim quote: %w", err))
	}
	expect := "pck_revoked"
	if !f.pckRevoked {
		expect = "TCB status " + string(p.Status())
	}
	fmt.Fprintf(s.out, "wrote %s quote (%d bytes) from simulated platform %s (%s) to %s\n",
		strings.ToUpper(p.TEE().String()), len(raw), p.Name(), expect, f.out)
	return nil
}

func parseReportData(s string) ([64]byte, error) {
	var rd [64]byte
	s = strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	b, err := hex.DecodeString(s)
	if err != nil || len(b) > len(rd) {
		return rd, fmt.Errorf("sim quote: --report-data: want up to 64 bytes of hex, got %d characters", len(s))
	}
	copy(rd[:], b)
	return rd, nil
}

func (f *simQuoteFlags) identity() (sim.Identity, error) {
	id := sim.DefaultIdentity()
	id.Debug = f.debug
	sgxOnly := f.mrenclave != "" || f.mrsigner != "" || f.prodID != 0 || f.svn != 0
	switch {
	case f.tdx && sgxOnly:
		return id, errors.New("sim quote: --mrenclave, --mrsigner, --isv-prod-id and --isv-svn apply to SGX quotes; use --mrtd with --tdx")
	case !f.tdx && f.mrtd != "":
		return id, errors.New("sim quote: --mrtd applies to TDX quotes (--tdx)")
	}
	id.ISVProdID, id.ISVSVN = f.prodID, f.svn
	var err error
	if f.mrenclave != "" {
		if id.MREnclave, err = quote.ParseMeasurement(f.mrenclave); err != nil {
			return id, fmt.Errorf("sim quote: --mrenclave: %w", err)
		}
	}
	if f.mrsigner != "" {
		if id.MRSigner, err = quote.ParseMeasurement(f.mrsigner); err != nil {
			return id, fmt.Errorf("sim quote: --mrsigner: %w", err)
		}
	}
	if f.mrtd != "" {
		if id.MRTD, err = quote.ParseTDMeasurement(f.mrtd); err != nil {
			return id, fmt.Errorf("sim quote: --mrtd: %w", err)
		}
	}
	return id, nil
}

// simPlatform opens the world in dir and picks the platform for the TEE and status.
func simPlatform(dir string, tdx bool, status string, pckRevoked bool) (*sim.Platform, error) {
	st := pcs.TCBStatus(status)
	if !st.Valid() {
		return nil, badInput(fmt.Errorf("sim: --tcb-status %q: want one of %s", status, statusList()))
	}
	w, err := sim.Open(dir)
	if err != nil {
		return nil, badInput(fmt.Errorf("sim: %w", err))
	}
	tee := quote.TEESGX
	if tdx {
		tee = quote.TEETDX
	}
	var p *sim.Platform
	if pckRevoked {
		p, err = w.PCKRevokedPlatform(tee)
	} else {
		p, err = w.Platform(tee, st)
	}
	if err != nil {
		return nil, badInput(fmt.Errorf("sim: %w", err))
	}
	return p, nil
}

func newSimCollateralCmd(s *streams) *cobra.Command {
	var dir, status, update, out string
	var tdx bool
	cmd := &cobra.Command{
		Use:   "collateral --dir DIR [--tdx] [--update standard|early] --out FILE",
		Short: "Write the collateral of a simulated platform as offline JSON",
		Long: `Writes the collateral (PCK CRL and its issuer chain, root CA CRL, TCB Info, QE Identity and their
issuer chains) of the world's SGX platforms (TDX with --tdx) in the offline JSON layout that
"secretprov quote verify --collateral" reads. All platforms of a TEE share this collateral;
--tcb-status only selects which platform's PCK CA the CRL is for. --update early writes the
TCB Info and QE Identity of the world's early TCB data (what "sim pcs" serves for
update=early): the standard ones when the world has no early set for the TEE.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if update != "standard" && update != "early" {
				return badInput(fmt.Errorf("sim collateral: --update %q: want standard or early", update))
			}
			p, err := simPlatform(dir, tdx, status, false)
			if err != nil {
				return err
			}
			bundleOf := p.Bundle
			if update == "early" {
				bundleOf = p.EarlyBundle
			}
			b, err := bundleOf()
			if err != nil {
				return fmt.Errorf("sim collateral: %w", err)
			}
			j, err := b.MarshalJSON()
			if err != nil {
				return fmt.Errorf("sim collateral: %w", err)
			}
			if err := os.WriteFile(out, append(j, '\n'), 0o644); err != nil {
				return badInput(fmt.Errorf("sim collateral: %w", err))
			}
			fmt.Fprintf(s.out, "wrote %s %s collateral (FMSPC %s, %s CA, tcbEvaluationDataNumber %d, valid until %s) to %s\n",
				strings.ToUpper(p.TEE().String()), update, b.TCBInfo.FMSPC, p.CA(), b.TCBInfo.TCBEvaluationDataNumber,
				b.TCBInfo.NextUpdate.Format(time.RFC3339), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "directory of the simulated world")
	cmd.Flags().BoolVar(&tdx, "tdx", false, "collateral for TDX platforms")
	cmd.Flags().StringVar(&update, "update", "standard", "TCB data set: standard, or early (Intel's early TCB data)")
	cmd.Flags().StringVar(&status, "tcb-status", string(pcs.StatusUpToDate), "platform whose collateral to write: "+statusList())
	cmd.Flags().StringVar(&out, "out", "", "file to write the collateral JSON to")
	for _, name := range []string{"dir", "out"} {
		_ = cmd.MarkFlagRequired(name) // the flags exist
	}
	return cmd
}
