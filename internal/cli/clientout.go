package cli

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/verify"
	"github.com/secretprov/secretprov/wire"
)

// clientHints tell the operator of a refused enclave what to check, per reason code. The
// server sends only the code; the expected values are in its log and audit record.
var clientHints = map[string]string{
	string(policy.ReasonIdentityMismatch):         "the server's policy has no workload for this enclave's MRENCLAVE/MRSIGNER (check the workload's mrenclave, mrsigner, isv_prod_id and min_isv_svn against the enclave's signature)",
	string(policy.ReasonAttributesInvalid):        "the enclave's attributes are not what the workload accepts (check the manifest's SGX settings)",
	string(policy.ReasonDebugNotAllowed):          "the enclave runs in debug mode; sign and run it in production mode (sgx.debug = false), or set allow_debug in the workload for tests only",
	string(policy.ReasonTCBStatusNotAccepted):     "the platform's TCB status is not in the workload's tcb_statuses; update the platform (BIOS/microcode) or accept that status",
	string(policy.ReasonAdvisoryNotAccepted):      "the platform is affected by an Intel security advisory the workload does not accept (advisory_ids)",
	string(verify.ReasonCollateralExpired):        "the server's Intel collateral (TCB info, QE identity, CRLs) is past its next update; check the server's PCS/PCCS access",
	string(verify.ReasonCollateralUnavailable):    "the server could not get Intel's collateral for this platform; check its pcs_url and network",
	string(policy.ReasonSecretNotGranted):         "the workload that matched this enclave does not list this secret",
	string(policy.ReasonSecretUnavailable):        "the server could not load this secret from its source; check the server's secrets",
	string(verify.ReasonPCKRevoked):               "Intel revoked this platform's PCK certificate; the platform cannot be trusted",
	string(verify.ReasonPCKChainInvalid):          "the quote's PCK chain does not lead to the server's trust root (a simulated quote sent to a server that trusts Intel, or the reverse)",
	string(verify.ReasonTCBRevoked):               "the platform's TCB level is revoked by Intel; update the platform",
	string(verify.ReasonTCBNotSupported):          "Intel's TCB info has no level for this platform",
	string(verify.ReasonQuoteMalformed):           "the server could not parse the quote; check the attester",
	string(verify.ReasonQuoteUnsupported):         "the quote's version, TEE or key type is not supported by the server",
	string(verify.ReasonQEIdentityMismatch):       "the quoting enclave is not one Intel's QE identity accepts; update the platform software (PSW/DCAP)",
	string(ratls.ReasonBindingInvalid):            "the quote in the RA-TLS certificate does not bind its key; check the attester",
	string(ratls.ReasonExtensionMissing):          "the client certificate carries no quote",
	string(ratls.ReasonVerificationFailed):        "the server could not verify the quote; see the server's log",
	"not_found":                                   "the server has no secret of this name",
	string(verify.ReasonQEReportSignatureInvalid): "the quote's signatures do not verify; the quote is not genuine",
	string(verify.ReasonQuoteSignatureInvalid):    "the quote's signatures do not verify; the quote is not genuine",
}

const defaultHint = "the server's log and audit record for this connection have the details"

func hintFor(reason string) string {
	if h, ok := clientHints[reason]; ok {
		return h
	}
	return defaultHint
}

// reportFailure prints why Fetch failed and returns the exit status: 2 for an unusable
// configuration, 1 otherwise (refused, denied, or no server answered in time).
func reportFailure(s *streams, err error) error {
	if errors.Is(err, client.ErrInvalidConfig) {
		return badInput(err)
	}
	if de, ok := errors.AsType[*client.DeniedError](err); ok {
		fmt.Fprintf(s.err, "secretprov: server %s did not send %d of the secrets:\n", de.Server, len(de.Denials))
		for _, d := range de.Denials {
			reason := d.Reason
			switch {
			case reason != "":
			case d.Status == wire.StatusNotFound:
				reason = "not_found"
			case d.Status == wire.StatusNotGranted:
				reason = string(policy.ReasonSecretNotGranted)
			}
			fmt.Fprintf(s.err, "  %s\n    hint: %s\n", d, hintFor(reason))
		}
		return refused(nil)
	}
	if re, ok := errors.AsType[*client.RefusedError](err); ok {
		fmt.Fprintf(s.err, "secretprov: %v\nreason: %s\nhint: %s\n", err, re.Reason, hintFor(re.Reason))
		return refused(nil)
	}
	if errors.Is(err, client.ErrNoResponse) {
		fmt.Fprintf(s.err, "secretprov: %v\nhint: %s\n", err,
			"a Gramine server closes without a response when it refuses (see its log); with --protocol secretprov a Gramine server never answers: use --protocol gramine")
		return refused(nil)
	}
	return refused(fmt.Errorf("client: not provisioned: %w", err))
}

// printSecrets prints the secrets as Gramine's example does; the one place values are shown.
func printSecrets(s *streams, ss []secrets.Secret) {
	for _, sec := range ss {
		v := sec.Bytes()
		shown := strings.TrimSuffix(string(v), "\x00") // a C string, as Gramine prints it
		clear(v)
		if sec.Name() == client.DefaultSecretName {
			fmt.Fprintf(s.out, "--- Received secret = '%s'\n", shown)
		} else {
			fmt.Fprintf(s.out, "--- Received secret %s = '%s'\n", sec.Name(), shown)
		}
		if !printable(shown) {
			fmt.Fprintf(s.err, "secretprov: secret %s holds binary data; use --out-dir to receive it byte for byte\n", sec.Name())
		}
	}
}

func printable(v string) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if !unicode.IsPrint(r) && r != '\t' {
			return false
		}
	}
	return true
}

// deliver writes files and keys and returns the environment pairs for exec.
func deliver(s *streams, d *delivery, ss []secrets.Secret) ([]string, error) {
	if d.outDir != "" {
		if err := client.WriteFiles(d.outDir, ss); err != nil {
			return nil, badInput(err)
		}
		for _, sec := range ss {
			fmt.Fprintf(s.err, "secretprov: wrote secret %s (%d bytes, version %s) to %s\n", sec.Name(), sec.Len(), sec.Version(), d.outDir)
		}
	}
	if len(d.keys) > 0 {
		if err := client.SetKeys(newKeySetter(), d.keys, ss); err != nil {
			return nil, badInput(err)
		}
	}
	pairs, err := client.EnvPairs(d.env, ss)
	if err != nil {
		return nil, badInput(err)
	}
	if d.gramineString {
		def, _ := findSecret(ss, client.DefaultSecretName)
		kv, err := client.GramineStringEnv(def)
		if err != nil {
			return nil, badInput(err)
		}
		pairs = append(pairs, kv)
	}
	return pairs, nil
}

func findSecret(ss []secrets.Secret, name string) (secrets.Secret, bool) {
	for _, s := range ss {
		if s.Name() == name {
			return s, true
		}
	}
	return secrets.Secret{}, false
}
