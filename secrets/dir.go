package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/secretprov/secretprov/wire"
)

// dataLink is the link through which kubelet's atomic writer publishes the current version of
// a Secret volume: DIR/..data → ..2026_11_28_18_00_00.123456789 (a directory holding the
// keys as regular files), and DIR/KEY → ..data/KEY for each key. An update writes a new
// timestamped directory, swaps ..data with one rename, then removes the old directory.
const dataLink = "..data"

// snapshot is the directory to read one volume's keys from.
type snapshot struct {
	path   string // the version's directory, or the volume itself if it has no ..data link
	target string // what ..data points to ("" without one): changes with every update
}

// resolveSnapshot resolves dir's ..data link once, so that every key read through the result
// comes from the same version, even if kubelet swaps the link meanwhile. A directory without
// the link is read as it is.
func resolveSnapshot(dir string) (snapshot, error) {
	link := filepath.Join(dir, dataLink)
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist) || err == nil && fi.Mode()&fs.ModeSymlink == 0:
		return snapshot{path: dir}, nil
	case err != nil:
		return snapshot{}, err
	}
	target, err := os.Readlink(link)
	if err != nil {
		return snapshot{}, err
	}
	path := target
	if !filepath.IsAbs(path) {
		path = filepath.Join(dir, path)
	}
	return snapshot{path: path, target: target}, nil
}

// superseded reports whether dir's ..data link no longer points where it did when snap was
// taken (the version snap reads from has been replaced, and is removed or about to be).
func superseded(dir string, snap snapshot) bool {
	if snap.target == "" {
		return false
	}
	now, err := resolveSnapshot(dir)
	return err == nil && now.target != snap.target
}

// DirSpecs lists the keys of a mounted Kubernetes Secret (or any directory of key files) and
// returns one [Spec] per key, each secret named after its key. It reads the version that ..data
// points to, when there is one, and skips every entry whose name starts with a dot (kubelet's
// own ..data and ..2026_… entries, and hidden files; a dot-file key can still be named in an
// explicit Spec) and everything that is not a regular file or a link to one. A key that is not
// a valid secret name fails the call ([ErrInvalidName]) rather than being dropped.
//
// The list is taken once: a [Watcher] built from it sees updated values, not added or removed
// keys.
func DirSpecs(dir string) (map[string]Spec, error) {
	var snap snapshot
	var entries []os.DirEntry
	var err error
	for attempt := 1; ; attempt++ {
		if snap, err = resolveSnapshot(dir); err != nil {
			return nil, fmt.Errorf("secrets: dir %s: %w", dir, err)
		}
		entries, err = os.ReadDir(snap.path)
		// Kubelet removes the old version right after swapping ..data: list the new one.
		if err == nil || attempt == loadAttempts || !errors.Is(err, fs.ErrNotExist) || !superseded(dir, snap) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: dir %s: %w", dir, notFound(err))
	}
	specs := make(map[string]Spec, len(entries))
	var errs []error
	for _, e := range entries {
		key := e.Name()
		if strings.HasPrefix(key, ".") {
			continue
		}
		if fi, err := os.Stat(filepath.Join(snap.path, key)); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := wire.CheckName(key, wire.Limits{}); err != nil {
			errs = append(errs, &LoadError{Name: key, Source: "dir " + dir, Err: fmt.Errorf("%w: %w", ErrInvalidName, err)})
			continue
		}
		specs[key] = Spec{Dir: dir, Key: key}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return specs, nil
}
