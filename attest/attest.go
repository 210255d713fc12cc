package attest

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// Default device locations.
const (
	// DefaultGramineDir is Gramine's attestation pseudo-filesystem inside an SGX enclave.
	DefaultGramineDir = "/dev/attestation"
	// DefaultTSMDir is the configfs-tsm report directory of a Linux confidential guest.
	DefaultTSMDir = "/sys/kernel/config/tsm/report"
)

// Size limits.
const (
	// ReportDataSize is the size of the report data bound into every quote.
	ReportDataSize = 64
	// MaxGramineQuoteSize is the largest quote Gramine produces (QUOTE_MAX_SIZE in Gramine's
	// libos/src/fs/dev/attestation.c); a longer /dev/attestation/quote is refused.
	MaxGramineQuoteSize = 8192
	// MaxTSMReportSize bounds the outblob read from configfs-tsm (the kernel's own limit is
	// 32 KiB; a TDX quote is about 5 KiB).
	MaxTSMReportSize = 64 << 10
	// KeySize is the size of a Gramine encrypted-files key (/dev/attestation/keys/<name>).
	KeySize = 16
	// MaxKeyNameLen is the longest key name SetKey accepts (one path component).
	MaxKeyNameLen = 255
)

// Errors, checkable with errors.Is. The message of an error returned by this package says what
// was expected and what was found; the sentinel only classifies it.
var (
	// ErrNotInEnclave: the device the provider needs does not exist, so the process does not
	// run inside the TEE it expects (or runs there without the hardware, e.g. gramine-direct).
	ErrNotInEnclave = errors.New("attest: not running inside a TEE")
	// ErrAttestationDisabled: the TEE runs with remote attestation switched off
	// (Gramine's sgx.remote_attestation = "none").
	ErrAttestationDisabled = errors.New("attest: remote attestation is disabled")
	// ErrUnsupported: the TEE offers a kind of attestation secretprov does not support
	// (EPID, an unknown Gramine attestation type, a configfs-tsm provider other than tdx_guest,
	// an unknown quote version).
	ErrUnsupported = errors.New("attest: unsupported attestation")
	// ErrBadQuote: the device returned bytes that are not a usable quote (empty, truncated,
	// larger than the limit).
	ErrBadQuote = errors.New("attest: unusable quote from the device")
	// ErrInterleaved: another writer used the device between our write of the report data and
	// our read of the quote (the quote carries other report data, or the configfs-tsm generation
	// counter did not advance by exactly one).
	ErrInterleaved = errors.New("attest: another writer interleaved with the quote request")
	// ErrInvalidKey: SetKey was given a bad key name or a key that is not KeySize bytes.
	ErrInvalidKey = errors.New("attest: invalid key")
)

// kindError is an error that reads as msg (plus its cause) and matches both its kind (one of the
// sentinels above) and its cause with errors.Is.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string {
	if e.cause == nil {
		return e.msg
	}
	return e.msg + ": " + e.cause.Error()
}

func (e *kindError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// errorf returns a *kindError of the given kind; cause may be nil.
func errorf(kind, cause error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...), cause: cause}
}

// Quoter is what both providers offer: a quote over 64 bytes of report data. It has the method
// set of ratls.Attester, so a Quoter can be passed wherever an Attester is wanted.
type Quoter interface {
	Quote(ctx context.Context, reportData [ReportDataSize]byte) ([]byte, error)
}

// Kind names a quote provider.
type Kind string

// The providers Detect can return.
const (
	KindGramine Kind = "gramine" // Gramine /dev/attestation (SGX DCAP)
	KindTSM     Kind = "tsm"     // Linux configfs-tsm (TDX)
)

// Option configures a provider or Detect. Options that do not concern a provider are ignored by
// it (WithTSMDir has no effect on NewGramine).
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	gramineDir string
	tsmDir     string
	hooks      hooks
}

// hooks lets tests play the device: an ordinary directory cannot compute a quote when it is
// read, so the test's fake does it at these points. Nil hooks are skipped.
type hooks struct {
	created  func(entry string) // TSM: after the report entry is made
	written  func(dir string)   // after the report data is written, before the quote is read
	removing func(entry string) // TSM: before the report entry is removed
}

func call(hook func(string), path string) {
	if hook != nil {
		hook(path)
	}
}

// WithGramineDir sets the directory used in place of /dev/attestation.
func WithGramineDir(dir string) Option {
	return optionFunc(func(c *config) { c.gramineDir = dir })
}

// WithTSMDir sets the directory used in place of /sys/kernel/config/tsm/report.
func WithTSMDir(dir string) Option {
	return optionFunc(func(c *config) { c.tsmDir = dir })
}

// withHooks installs device hooks; tests only.
func withHooks(h hooks) Option {
	return optionFunc(func(c *config) { c.hooks = h })
}

func newConfig(opts []Option) config {
	c := config{gramineDir: DefaultGramineDir, tsmDir: DefaultTSMDir}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// Detect returns the quote provider of the TEE the process runs in, and its kind.
//
// If the Gramine directory exists the process runs under Gramine, so Detect returns the Gramine
// provider, or the reason it cannot attest (remote attestation disabled, EPID, gramine-direct
// without SGX). Otherwise, if the configfs-tsm report directory exists, it returns the TSM
// provider; whether that TSM is a TDX guest is checked by its first Quote. If neither exists the
// error matches ErrNotInEnclave and names both paths.
func Detect(ctx context.Context, opts ...Option) (Quoter, Kind, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("attest: detect: %w", err)
	}
	c := newConfig(opts)
	if _, err := os.Stat(c.gramineDir); err == nil {
		g := &Gramine{cfg: c}
		if err := g.check(); err != nil {
			return nil, "", err
		}
		return g, KindGramine, nil
	}
	fi, err := os.Stat(c.tsmDir)
	if err == nil && fi.IsDir() {
		return &TSM{cfg: c}, KindTSM, nil
	}
	return nil, "", errorf(ErrNotInEnclave, nil,
		"attest: detect: no quote provider found: looked for %s (Gramine SGX enclave) and %s "+
			"(Linux configfs-tsm, TDX guest), found neither", c.gramineDir, c.tsmDir)
}
