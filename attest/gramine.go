package attest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Gramine attestation types (/dev/attestation/attestation_type, Gramine ≥ 1.3).
const (
	gramineDCAP = "dcap"
	gramineEPID = "epid"
	gramineNone = "none"
)

// gramineDevice serializes every Gramine quote request in the process. /dev/attestation is
// process-global (one user_report_data for the whole enclave), so a write-then-read by one
// goroutine must not interleave with another's, whichever Gramine value they use. It is a
// channel rather than a sync.Mutex so that a waiting caller can give up when its context ends.
var gramineDevice = make(chan struct{}, 1)

// Gramine obtains SGX DCAP quotes from Gramine's /dev/attestation pseudo-filesystem
// (spec/gramine-ratls-secretprov.md §3.1). It is safe for concurrent use: all Gramine values
// share one process-wide lock around the write of user_report_data and the read of quote.
// Writers outside this package (Gramine's own C RA-TLS library in the same process, say) do not
// take that lock; a quote that comes back with foreign report data is refused with
// ErrInterleaved.
type Gramine struct {
	cfg config
}

// NewGramine returns a provider for /dev/attestation, or for the directory set by
// WithGramineDir. It does not touch the file system; use Type or Detect to check the device.
func NewGramine(opts ...Option) *Gramine {
	return &Gramine{cfg: newConfig(opts)}
}

func (g *Gramine) path(name ...string) string {
	return filepath.Join(append([]string{g.cfg.gramineDir}, name...)...)
}

// present checks that the attestation directory exists.
func (g *Gramine) present() error {
	fi, err := os.Stat(g.cfg.gramineDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errorf(ErrNotInEnclave, nil, "attest: gramine: not running inside a Gramine SGX enclave (%s missing)", g.cfg.gramineDir)
	case err != nil:
		return fmt.Errorf("attest: gramine: %w", err)
	case !fi.IsDir():
		return errorf(ErrNotInEnclave, nil, "attest: gramine: not running inside a Gramine SGX enclave (%s is not a directory)", g.cfg.gramineDir)
	}
	return nil
}

// Type returns Gramine's remote attestation type as /dev/attestation/attestation_type states
// it: "dcap", "none", or "epid" (Gramine 1.3 to 1.8). Gramine ≤ 1.2 has no such file; Type then
// returns the empty string and a nil error (Quote falls back to the presence of the quote file).
func (g *Gramine) Type() (string, error) {
	if err := g.present(); err != nil {
		return "", err
	}
	t, err := readAttr(g.path("attestation_type"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("attest: gramine: read attestation_type: %w", err)
	}
	return t, nil
}

// check makes sure Gramine can produce a DCAP quote, and says why not.
func (g *Gramine) check() error {
	t, err := g.Type()
	if err != nil {
		return err
	}
	switch t {
	case gramineDCAP:
		return nil
	case "":
		return g.checkLegacy()
	case gramineNone:
		return errorf(ErrAttestationDisabled, nil,
			"attest: gramine: Gramine runs without remote attestation: set sgx.remote_attestation = \"dcap\" in the manifest")
	case gramineEPID:
		return errorf(ErrUnsupported, nil,
			"attest: gramine: attestation type is \"epid\"; secretprov supports DCAP only (Gramine removed EPID in v1.9): "+
				"set sgx.remote_attestation = \"dcap\" in the manifest")
	default:
		return errorf(ErrUnsupported, nil, "attest: gramine: attestation type is %q, want \"dcap\"", t)
	}
}

// checkLegacy handles a Gramine without attestation_type: ≤ 1.2 on SGX always has quote; a
// Gramine without either runs without SGX (gramine-direct keeps only /dev/attestation/keys).
func (g *Gramine) checkLegacy() error {
	_, err := os.Stat(g.path("quote"))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return errorf(ErrNotInEnclave, nil,
			"attest: gramine: %s has neither attestation_type nor quote: Gramine runs without SGX (gramine-direct?)", g.cfg.gramineDir)
	default:
		return fmt.Errorf("attest: gramine: %w", err)
	}
}

// Quote writes reportData to user_report_data and returns the quote Gramine generates over it
// (at most MaxGramineQuoteSize bytes, with reportData checked in it). The context is honoured
// before each step and while waiting for another caller's request to finish; the quote read
// itself (a round trip to AESM on the host) cannot be interrupted.
func (g *Gramine) Quote(ctx context.Context, reportData [ReportDataSize]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attest: gramine: quote: %w", err)
	}
	if err := g.check(); err != nil {
		return nil, err
	}
	select {
	case gramineDevice <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("attest: gramine: wait for the attestation device: %w", ctx.Err())
	}
	defer func() { <-gramineDevice }()
	return g.quoteLocked(ctx, reportData)
}

func (g *Gramine) quoteLocked(ctx context.Context, reportData [ReportDataSize]byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attest: gramine: quote: %w", err)
	}
	if err := writeExact(g.path("user_report_data"), reportData[:]); err != nil {
		return nil, fmt.Errorf("attest: gramine: write user_report_data: %w", err)
	}
	call(g.cfg.hooks.written, g.cfg.gramineDir)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attest: gramine: quote: %w", err)
	}
	q, err := readBounded(g.path("quote"), MaxGramineQuoteSize)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, errorf(ErrBadQuote, nil, "attest: gramine: quote is larger than %d bytes (Gramine's QUOTE_MAX_SIZE)", MaxGramineQuoteSize)
	case errors.Is(err, fs.ErrPermission):
		// Gramine answers EACCES when the quote could not be produced (PalAttestationQuote).
		return nil, fmt.Errorf("attest: gramine: read quote: Gramine could not get a quote from the Quoting Enclave "+
			"(is the AESM socket /var/run/aesmd/aesm.socket reachable on the host?): %w", err)
	case err != nil:
		return nil, fmt.Errorf("attest: gramine: read quote: %w", err)
	}
	if err := checkQuote(q, reportData); err != nil {
		return nil, fmt.Errorf("attest: gramine: %w", err)
	}
	return q, nil
}

// SetKey writes a 16-byte key to /dev/attestation/keys/<name>, where Gramine's encrypted files
// pick it up ("default" is the key of encrypted mounts without a key_name). Gramine exposes only
// the keys its manifest names, so a name it does not know is an error wrapping fs.ErrNotExist.
// SetKey works under gramine-direct as well. The key never appears in an error.
func (g *Gramine) SetKey(name string, key []byte) error {
	if err := checkKeyName(name); err != nil {
		return err
	}
	if len(key) != KeySize {
		return errorf(ErrInvalidKey, nil, "attest: gramine: set key %q: key is %d bytes, want %d", name, len(key), KeySize)
	}
	if err := g.present(); err != nil {
		return err
	}
	err := writeExact(g.path("keys", name), key)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("attest: gramine: set key %q: Gramine has no such key "+
			"(it knows the key names of the manifest's encrypted mounts and fs.insecure__keys): %w", name, err)
	case err != nil:
		return fmt.Errorf("attest: gramine: set key %q: %w", name, err)
	}
	return nil
}

// checkKeyName accepts one path component: not empty, not "." or "..", no '/' or NUL, at most
// MaxKeyNameLen bytes.
func checkKeyName(name string) error {
	switch {
	case name == "":
		return errorf(ErrInvalidKey, nil, "attest: gramine: key name is empty")
	case len(name) > MaxKeyNameLen:
		return errorf(ErrInvalidKey, nil, "attest: gramine: key name is %d bytes, want at most %d", len(name), MaxKeyNameLen)
	case name == "." || name == "..":
		return errorf(ErrInvalidKey, nil, "attest: gramine: key name %q is not a file name", name)
	case strings.ContainsAny(name, "/\x00"):
		return errorf(ErrInvalidKey, nil, "attest: gramine: key name %q contains '/' or NUL, want a single file name", name)
	}
	return nil
}
