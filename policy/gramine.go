package policy

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Gramine's verifier environment variables (ra_tls.h).
const (
	EnvMREnclave          = "RA_TLS_MRENCLAVE"
	EnvMRSigner           = "RA_TLS_MRSIGNER"
	EnvISVProdID          = "RA_TLS_ISV_PROD_ID"
	EnvISVSVN             = "RA_TLS_ISV_SVN"
	EnvAllowDebug         = "RA_TLS_ALLOW_DEBUG_ENCLAVE_INSECURE"
	EnvAllowOutdated      = "RA_TLS_ALLOW_OUTDATED_TCB_INSECURE"
	EnvAllowHWConfig      = "RA_TLS_ALLOW_HW_CONFIG_NEEDED"
	EnvAllowSWHardening   = "RA_TLS_ALLOW_SW_HARDENING_NEEDED"
	gramineAny            = "any"
	gramineWorkloadName   = "gramine"
	gramineFlagEnabledVal = "1"
)

// GramineOptions tunes FromGramineEnv.
type GramineOptions struct {
	// Secret is the secret source name the workload's default secret comes from; empty means a
	// source named "default".
	Secret string
	// AllowNoMeasurementInsecure accepts RA_TLS_MRENCLAVE=any together with RA_TLS_MRSIGNER=any,
	// a configuration that "provides no security whatsoever" (Gramine's words).
	AllowNoMeasurementInsecure bool
}

// FromGramineEnv builds the one-workload policy that Gramine's DCAP verifier would apply under
// the given environment (lookup is os.LookupEnv in production). The workload is named "gramine"
// and receives opts.Secret as its default secret. All errors are reported at once.
func FromGramineEnv(lookup func(string) (string, bool), opts GramineOptions) (*Policy, error) {
	if opts.Secret == "" {
		opts.Secret = DefaultSecret
	}
	w := Workload{Name: gramineWorkloadName, Secrets: map[string]string{DefaultSecret: opts.Secret}}
	var errs []error
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		if !ok {
			errs = append(errs, fmt.Errorf("policy: %s is not set: set it to the expected value or to \"any\" (Gramine ≥ 1.8 refuses an unset variable)", name))
			return "", false
		}
		return v, v != gramineAny
	}
	if v, ok := get(EnvMREnclave); ok {
		m, err := quote.ParseMeasurement(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: %s: %w", EnvMREnclave, err))
		}
		w.MREnclave = []quote.Measurement{m}
	}
	if v, ok := get(EnvMRSigner); ok {
		m, err := quote.ParseMeasurement(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: %s: %w", EnvMRSigner, err))
		}
		w.MRSigner = &m
	}
	if v, ok := get(EnvISVProdID); ok {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: %s=%q: want a decimal number 0..65535 or \"any\"", EnvISVProdID, v))
		}
		id := uint16(n)
		w.ISVProdID = &id
	}
	if v, ok := get(EnvISVSVN); ok {
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			errs = append(errs, fmt.Errorf("policy: %s=%q: want a decimal number 0..65535 or \"any\"", EnvISVSVN, v))
		}
		w.MinISVSVN = uint16(n)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	flag := func(name string) bool { v, _ := lookup(name); return v == gramineFlagEnabledVal }
	w.AllowDebug = flag(EnvAllowDebug)
	w.TCBStatuses = gramineStatuses(flag(EnvAllowOutdated), flag(EnvAllowHWConfig), flag(EnvAllowSWHardening))
	w.AllowExpiredCollateralInsecure = flag(EnvAllowOutdated)
	// Gramine never examines advisory IDs: the TCB status flags are the whole decision.
	w.AdvisoryIDs = []string{AnyAdvisory}
	return gramineWorkload(w, opts)
}

// gramineWorkload finishes the Gramine policy: with neither MRENCLAVE nor MRSIGNER pinned it needs
// the explicit insecure opt-in and then matches any enclave by a zero-length identity check.
func gramineWorkload(w Workload, opts GramineOptions) (*Policy, error) {
	if len(w.MREnclave) == 0 && w.MRSigner == nil {
		if !opts.AllowNoMeasurementInsecure {
			return nil, fmt.Errorf("policy: %s and %s are both \"any\": every enclave on a genuine platform would receive the secret; pin one of them", EnvMREnclave, EnvMRSigner)
		}
		w.anyIdentity = true
	}
	// Gramine allows RA_TLS_ISV_PROD_ID=any with a pinned MRSIGNER; so do we, explicitly here.
	w.anyProdID = w.ISVProdID == nil
	return New([]Workload{w})
}

// gramineStatuses is Gramine's status table (spec §1.8 step 3) as a list of accepted statuses.
func gramineStatuses(outdated, hwConfig, swHardening bool) []pcs.TCBStatus {
	s := []pcs.TCBStatus{pcs.StatusUpToDate}
	if hwConfig {
		s = append(s, pcs.StatusConfigurationNeeded)
	}
	if outdated {
		s = append(s, pcs.StatusOutOfDate)
	}
	if outdated && hwConfig {
		s = append(s, pcs.StatusOutOfDateConfigurationNeeded)
	}
	if swHardening {
		s = append(s, pcs.StatusSWHardeningNeeded)
	}
	if hwConfig && swHardening {
		s = append(s, pcs.StatusConfigurationAndSWHardeningNeeded)
	}
	return s
}
