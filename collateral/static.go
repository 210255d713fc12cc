package collateral

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/secretprov/secretprov/pcs"
)

// MaxFileSize bounds an offline collateral JSON file (real ones are 14–19 KiB).
const MaxFileSize = 4 << 20

// StaticSource serves one fixed bundle, for air-gapped verifiers. It checks the key: a
// request for another platform (TEE, FMSPC or PCK CA) is an error that matches pcs.ErrMismatch,
// which the verifier reports as collateral_mismatch. It verifies nothing itself.
type StaticSource struct{ b *pcs.Bundle }

// Static returns a source serving b.
func Static(b *pcs.Bundle) *StaticSource { return &StaticSource{b: b} }

// File reads an offline collateral JSON file (the dcap-qvl layout written by "secretprov
// collateral fetch"; see pcs.ParseBundleJSON) and returns a source serving it.
func File(path string) (*StaticSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("collateral: file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("collateral: file %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("collateral: file %s: larger than %d bytes: %w", path, MaxFileSize, ErrTooLarge)
	}
	bundle, err := pcs.ParseBundleJSON(b)
	if err != nil {
		return nil, fmt.Errorf("collateral: file %s: %w", path, err)
	}
	return Static(bundle), nil
}

// Bundle returns the bundle served.
func (s *StaticSource) Bundle() *pcs.Bundle { return s.b }

// Collateral returns the bundle if it is the one for key.
func (s *StaticSource) Collateral(ctx context.Context, key pcs.Key) (*pcs.Bundle, error) {
	if s == nil || s.b == nil {
		return nil, errors.New("collateral: static: no bundle")
	}
	b, err := s.b.Collateral(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("collateral: static: %w", err)
	}
	return b, nil
}
