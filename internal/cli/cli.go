// Package cli is the secretprov command tree (cobra). It is the only importer of cobra; it parses
// flags, wires the library packages together and maps outcomes to exit codes. It holds no logic
// of its own beyond wiring and presentation.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	ExitOK       = 0 // success: verified, provisioned, served until stopped
	ExitRefused  = 1 // the input was usable but refused (verification or policy failed)
	ExitBadInput = 2 // unusable input: missing file, bad flag, malformed configuration
)

// exitError carries an exit code through cobra's error return.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as unusable input (exit status 2).
func badInput(err error) error { return &exitError{code: ExitBadInput, err: err} }

// refused marks err as a refusal (exit status 1). A nil err means the refusal was already
// reported on stdout (a printed verdict) and nothing more is written to stderr.
func refused(err error) error { return &exitError{code: ExitRefused, err: err} }

// streams are the command's standard streams, injected so tests run commands in-process.
type streams struct {
	in       io.Reader
	out, err io.Writer
}

// Main runs the secretprov command line with args (without the program name) and returns the
// process exit status. ctx is cancelled on SIGINT/SIGTERM.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	s := &streams{in: stdin, out: stdout, err: stderr}
	root := newRootCmd(s)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "secretprov: %v\n", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors (unknown flag, missing argument) are bad input.
	fmt.Fprintf(stderr, "secretprov: %v\n", err)
	return ExitBadInput
}

func newRootCmd(s *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "secretprov",
		Short: "Attested secret provisioning for Intel SGX enclaves and TDX guests",
		Long: `secretprov verifies Intel SGX/TDX DCAP quotes carried in RA-TLS certificates and, when an
enclave's identity and platform satisfy the policy, hands it its secrets over the same TLS session,
wire-compatible with Gramine's secret provisioning.

Start with "secretprov demo": the whole flow on a simulated SGX platform, on loopback.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
	}
	root.SetVersionTemplate("secretprov {{.Version}}\n")
	for _, add := range commands {
		root.AddCommand(add(s))
	}
	return root
}

// commands are the top-level command constructors, in help order.
var commands = []func(*streams) *cobra.Command{
	newDemoCmd,
	newServerCmd,
	newQuoteCmd,
	newRATLSCmd,
	newCollateralCmd,
	newVersionCmd,
	newSimCmd,
	newClientCmd,
	newBenchCmd,
}

func newVersionCmd(s *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(s.out, "secretprov %s\n", version())
			return nil
		},
	}
}

// version is the module version from the build information ("(devel)" for a source build).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	return bi.Main.Version
}
