package attest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// tsmTDX is the configfs-tsm provider name of an Intel TDX guest; the only one whose reports
// are DCAP quotes.
const tsmTDX = "tdx_guest"

// TSM obtains TDX quotes through Linux configfs-tsm (/sys/kernel/config/tsm/report, Linux ≥ 6.7,
// CONFIG_TSM_REPORTS). Each Quote makes its own report entry (a directory with a unique name),
// writes the report data to inblob, reads the quote from outblob and removes the entry. The
// entry's generation counter must advance by exactly one across that exchange; otherwise another
// writer touched the entry and the request is repeated once. A TSM is safe for concurrent use.
type TSM struct {
	cfg config
}

// NewTSM returns a provider for /sys/kernel/config/tsm/report, or for the directory set by
// WithTSMDir. It does not touch the file system.
func NewTSM(opts ...Option) *TSM {
	return &TSM{cfg: newConfig(opts)}
}

// Quote returns the TDX quote (at most MaxTSMReportSize bytes, with reportData checked in it)
// that the kernel's tdx_guest provider generates over reportData. The context is honoured
// before each step; the outblob read itself (a call into the TDX module and the quoting service)
// cannot be interrupted.
func (t *TSM) Quote(ctx context.Context, reportData [ReportDataSize]byte) (q []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attest: tsm: quote: %w", err)
	}
	entry, err := t.create()
	if err != nil {
		return nil, err
	}
	defer func() { q, err = t.remove(entry, q, err) }()
	if err := checkProvider(entry); err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("attest: tsm: quote: %w", err)
		}
		out, gerr := t.generate(entry, reportData)
		if errors.Is(gerr, ErrInterleaved) && attempt < 2 {
			continue // another writer touched our entry: one clean retry
		}
		return out, gerr
	}
}

// Provider returns the name of the configfs-tsm provider ("tdx_guest", "sev_guest", ...), read
// from a report entry made and removed for the purpose.
func (t *TSM) Provider(ctx context.Context) (name string, err error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("attest: tsm: provider: %w", err)
	}
	entry, err := t.create()
	if err != nil {
		return "", err
	}
	defer func() { _, err = t.remove(entry, nil, err) }()
	name, err = readAttr(filepath.Join(entry, "provider"))
	if err != nil {
		return "", fmt.Errorf("attest: tsm: read provider: %w", err)
	}
	return name, nil
}

// create makes a fresh report entry.
func (t *TSM) create() (string, error) {
	fi, err := os.Stat(t.cfg.tsmDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", errorf(ErrNotInEnclave, nil, "attest: tsm: configfs-tsm report directory %s missing "+
			"(not a confidential guest, a kernel without CONFIG_TSM_REPORTS, or configfs not mounted)", t.cfg.tsmDir)
	case err != nil:
		return "", fmt.Errorf("attest: tsm: %w", err)
	case !fi.IsDir():
		return "", errorf(ErrNotInEnclave, nil, "attest: tsm: %s is not a directory, want the configfs-tsm report directory", t.cfg.tsmDir)
	}
	entry, err := os.MkdirTemp(t.cfg.tsmDir, "secretprov-")
	if err != nil {
		return "", fmt.Errorf("attest: tsm: create report entry: %w", err)
	}
	call(t.cfg.hooks.created, entry)
	return entry, nil
}

// remove deletes the report entry (rmdir: configfs drops the attributes with it). A failure to
// remove it fails the call, since each leaked entry pins kernel memory.
func (t *TSM) remove(entry string, q []byte, err error) ([]byte, error) {
	call(t.cfg.hooks.removing, entry)
	rerr := os.Remove(entry)
	switch {
	case rerr == nil:
		return q, err
	case err != nil:
		return nil, errors.Join(err, fmt.Errorf("attest: tsm: remove report entry: %w", rerr))
	default:
		return nil, fmt.Errorf("attest: tsm: remove report entry: %w", rerr)
	}
}

// checkProvider refuses entries whose reports are not TDX quotes.
func checkProvider(entry string) error {
	p, err := readAttr(filepath.Join(entry, "provider"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errorf(ErrUnsupported, nil, "attest: tsm: report entry has no provider attribute, want provider %q", tsmTDX)
	case err != nil:
		return fmt.Errorf("attest: tsm: read provider: %w", err)
	case p != tsmTDX:
		return errorf(ErrUnsupported, nil, "attest: tsm: provider is %q, want %q (secretprov verifies DCAP quotes only)", p, tsmTDX)
	}
	return nil
}

// generate runs one inblob → outblob exchange in entry. Reading generation before the write and
// after the read brackets the exchange: exactly one increment means ours was the only write
// (it also catches an inblob write the kernel dropped, since configfs reports that only on close).
func (t *TSM) generate(entry string, reportData [ReportDataSize]byte) ([]byte, error) {
	genPath := filepath.Join(entry, "generation")
	before, err := readUint(genPath)
	if err != nil {
		return nil, fmt.Errorf("attest: tsm: read generation: %w", err)
	}
	if err := writeExact(filepath.Join(entry, "inblob"), reportData[:]); err != nil {
		return nil, fmt.Errorf("attest: tsm: write inblob: %w", err)
	}
	call(t.cfg.hooks.written, entry)
	q, err := readBounded(filepath.Join(entry, "outblob"), MaxTSMReportSize)
	switch {
	case errors.Is(err, errTooLarge):
		return nil, errorf(ErrBadQuote, nil, "attest: tsm: outblob is larger than %d bytes", MaxTSMReportSize)
	case err != nil:
		return nil, fmt.Errorf("attest: tsm: read outblob: %w", err)
	}
	after, err := readUint(genPath)
	if err != nil {
		return nil, fmt.Errorf("attest: tsm: read generation: %w", err)
	}
	if after != before+1 {
		return nil, errorf(ErrInterleaved, nil, "attest: tsm: generation went from %d to %d across one inblob write, want %d", before, after, before+1)
	}
	if err := checkQuote(q, reportData); err != nil {
		return nil, fmt.Errorf("attest: tsm: %w", err)
	}
	return q, nil
}
