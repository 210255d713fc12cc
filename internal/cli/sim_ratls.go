package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/sim"
)

// simIdentityFlags are the flags registerSimIdentityFlags adds, as "sim quote" spells them.
var simIdentityFlags = []string{"mrenclave", "mrsigner", "isv-prod-id", "isv-svn", "mrtd", "debug", "tcb-status", "tdx", "pck-revoked"}

// registerSimIdentityFlags adds the identity and platform flags of "sim quote" to cmd.
func registerSimIdentityFlags(cmd *cobra.Command, f *simQuoteFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.mrenclave, "mrenclave", "", "MRENCLAVE, 64 hex digits (SGX; default: the simulator's demo enclave)")
	fl.StringVar(&f.mrsigner, "mrsigner", "", "MRSIGNER, 64 hex digits (SGX)")
	fl.Uint16Var(&f.prodID, "isv-prod-id", 0, "ISVPRODID (SGX)")
	fl.Uint16Var(&f.svn, "isv-svn", 0, "ISVSVN (SGX)")
	fl.StringVar(&f.mrtd, "mrtd", "", "MRTD, 96 hex digits (TDX)")
	fl.BoolVar(&f.debug, "debug", false, "set the DEBUG attribute (debug enclave or TD)")
	fl.StringVar(&f.status, "tcb-status", string(pcs.StatusUpToDate), "TCB status the verifier will report: "+statusList())
	fl.BoolVar(&f.tdx, "tdx", false, "quote from a simulated TDX platform (TDX v4) instead of SGX (v3)")
	fl.BoolVar(&f.pckRevoked, "pck-revoked", false, "use the platform whose PCK certificate is revoked (pck_revoked)")
}

// simEnclave returns the simulated enclave (or TD) the flags describe, on the platform of the
// world in f.dir that yields f.status.
func simEnclave(f *simQuoteFlags) (*sim.Enclave, error) {
	id, err := f.identity()
	if err != nil {
		return nil, badInput(err)
	}
	p, err := simPlatform(f.dir, f.tdx, f.status, f.pckRevoked)
	if err != nil {
		return nil, err
	}
	return p.Enclave(id), nil
}

func newSimRATLSCmd(s *streams) *cobra.Command {
	var sf simQuoteFlags
	var cf createFlags
	cmd := &cobra.Command{
		Use:   "ratls --dir DIR --cert FILE --key FILE",
		Short: "Write an RA-TLS certificate and key whose quote comes from a simulated platform",
		Long: `Writes an RA-TLS certificate and its private key (PEM), as "secretprov ratls create" does, with quotes
from the world's SGX platform (TDX with --tdx) whose PCK certificate matches --tcb-status, so that
"secretprov ratls verify --root DIR/root.pem" reports exactly that status. Unset identity flags take
the simulator's default identity. The certificate is SIMULATED: it verifies only against DIR/root.pem.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := simEnclave(&sf)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.err, simWarning)
			if err := createRATLS(cmd.Context(), s, e, &cf); err != nil {
				return err
			}
			p := e.Platform
			expect := "TCB status " + string(p.Status())
			if sf.pckRevoked {
				expect = "pck_revoked"
			}
			fmt.Fprintf(s.out, "quotes from simulated %s platform %s (%s); verify with --root %s\n",
				strings.ToUpper(p.TEE().String()), p.Name(), expect, filepath.Join(sf.dir, "root.pem"))
			return nil
		},
	}
	cmd.Flags().StringVar(&sf.dir, "dir", "", "directory of the simulated world")
	_ = cmd.MarkFlagRequired("dir") // the flag exists
	registerSimIdentityFlags(cmd, &sf)
	cf.register(cmd)
	return cmd
}
