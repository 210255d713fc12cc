package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secretprov/secretprov/wire"
)

// DefaultMaxSize bounds one secret value unless [WithMaxSize] says otherwise.
const DefaultMaxSize = 1 << 20

// Errors wrapped in every [*LoadError]; test them with [errors.Is].
var (
	// ErrInvalidName: the secret's name (or a Dir spec's key) is not 1 to 128 bytes of
	// [A-Za-z0-9._-], or is "." or "..": the names of package wire's named requests.
	ErrInvalidName = errors.New("invalid secret name")
	// ErrInvalidSpec: not exactly one of File, Env, Dir and Value is set, Key is set without
	// Dir, or Key names one of the volume's own ".." entries.
	ErrInvalidSpec = errors.New("invalid secret spec")
	// ErrNotFound: the environment variable is unset, or the file or key does not exist (the
	// error then also matches fs.ErrNotExist).
	ErrNotFound = errors.New("secret source not found")
	// ErrNotRegular: the path is a directory, device, socket or pipe, not a regular file.
	ErrNotRegular = errors.New("not a regular file")
	// ErrEmpty: the value has zero bytes (Gramine requires secret_size > 0).
	ErrEmpty = errors.New("empty secret")
	// ErrTooLarge: the value is larger than the limit.
	ErrTooLarge = errors.New("secret too large")
)

// LoadError is the error for one secret that could not be loaded. [Load] joins one per failing
// secret with errors.Join; find them with errors.As or by walking the join.
type LoadError struct {
	Name   string // the secret's name
	Source string // where it was to come from: "file PATH", "env NAME", "dir DIR key KEY" or "inline value"
	Err    error
}

func (e *LoadError) Error() string {
	return fmt.Sprintf("secrets: %q from %s: %s", e.Name, e.Source, e.Err)
}

func (e *LoadError) Unwrap() error { return e.Err }

// Spec says where one secret comes from. Exactly one of File, Env, Dir and Value is set.
type Spec struct {
	// File is the path of a file whose whole content is the value (symbolic links followed).
	File string
	// Env is the name of an environment variable whose value is the secret.
	Env string
	// Dir is a directory of key files, typically a mounted Kubernetes Secret, and Key the key
	// (file name) in it; Key defaults to the secret's name. When Dir is a Kubernetes volume
	// (it has a "..data" link), the secrets of one Dir are read from the same version of it.
	Dir string
	Key string
	// Value is the value itself, in the configuration: for demos and tests only.
	Value string
}

// source checks s and says where it reads from, for errors.
func (s Spec) source(name string) (string, error) {
	set := 0
	for _, v := range []string{s.File, s.Env, s.Dir, s.Value} {
		if v != "" {
			set++
		}
	}
	switch {
	case set != 1:
		return "spec", fmt.Errorf("%d of file, env, dir, value set: %w", set, ErrInvalidSpec)
	case s.Key != "" && s.Dir == "":
		return "spec", fmt.Errorf("key without dir: %w", ErrInvalidSpec)
	case s.File != "":
		return "file " + s.File, nil
	case s.Env != "":
		return "env " + s.Env, nil
	case s.Value != "":
		return "inline value", nil
	}
	key := s.key(name)
	src := "dir " + s.Dir + " key " + key
	if strings.HasPrefix(key, "..") {
		return src, fmt.Errorf("key %q: %w", key, ErrInvalidSpec)
	}
	if err := wire.CheckName(key, wire.Limits{}); err != nil {
		return src, fmt.Errorf("key: %w: %w", ErrInvalidName, err)
	}
	return src, nil
}

func (s Spec) key(name string) string {
	if s.Key == "" {
		return name
	}
	return s.Key
}

// Option changes how secrets are loaded.
type Option interface{ apply(*options) }

type options struct{ maxSize int }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithMaxSize bounds each value to n bytes (default [DefaultMaxSize]; n ≤ 0 means the default;
// never above 2³¹−1, the most Gramine's V1 framing carries).
func WithMaxSize(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxSize = min(n, math.MaxInt32)
		}
	})
}

func buildOptions(opts []Option) options {
	o := options{maxSize: DefaultMaxSize}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}

// Load reads every secret of specs, keyed by secret name, and returns them as an immutable
// [*Set]. lookupEnv resolves Env specs (nil means os.LookupEnv). Every failure is collected:
// the error joins one [*LoadError] per failing secret, and no Set is returned unless all
// loaded. Secrets are read in name order; the secrets of one Kubernetes volume come from one
// version of it even if it is updated meanwhile.
//
// A volume updated while Load reads it (kubelet removes the old version right after the swap)
// makes Load start over, up to three times in all, so that a key missing only from the
// version that was just removed is not reported as missing.
func Load(specs map[string]Spec, lookupEnv func(string) (string, bool), opts ...Option) (*Set, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	o := buildOptions(opts)
	for attempt := 1; ; attempt++ {
		set, stale, err := load(specs, lookupEnv, o)
		if !stale || attempt == loadAttempts {
			return set, err
		}
	}
}

// loadAttempts bounds how often [Load] starts over because a volume changed under it: kubelet
// updates a volume about once a minute at most, so a second attempt almost always succeeds.
const loadAttempts = 3

// load is one attempt of [Load]. stale reports that a Dir key was not found in a version of
// its volume that is no longer the current one: the attempt raced with an update.
func load(specs map[string]Spec, lookupEnv func(string) (string, bool), o options) (_ *Set, stale bool, _ error) {
	set := &Set{secrets: make(map[string]Secret, len(specs)), names: slices.Sorted(maps.Keys(specs))}
	snaps := map[string]snapshot{}
	var errs []error
	for _, name := range set.names {
		spec := specs[name]
		src, err := spec.source(name)
		if err == nil {
			err = wire.CheckName(name, wire.Limits{})
			if err != nil {
				err = fmt.Errorf("%w: %w", ErrInvalidName, err)
			}
		}
		var value []byte
		if err == nil {
			value, err = read(spec, name, lookupEnv, o.maxSize, snaps)
		}
		if err != nil {
			stale = stale || spec.Dir != "" && errors.Is(err, ErrNotFound) && superseded(spec.Dir, snaps[spec.Dir])
			errs = append(errs, &LoadError{Name: name, Source: src, Err: err})
			continue
		}
		set.secrets[name] = Secret{name: name, value: seal(value), version: Version(value)}
	}
	if len(errs) > 0 {
		return nil, stale, errors.Join(errs...)
	}
	return set, false, nil
}

// read returns the value of one valid spec.
func read(spec Spec, name string, lookupEnv func(string) (string, bool), maxSize int, snaps map[string]snapshot) ([]byte, error) {
	switch {
	case spec.File != "":
		return readFile(spec.File, maxSize)
	case spec.Dir != "":
		snap, ok := snaps[spec.Dir]
		if !ok {
			var err error
			if snap, err = resolveSnapshot(spec.Dir); err != nil {
				return nil, err
			}
			snaps[spec.Dir] = snap
		}
		return readFile(filepath.Join(snap.path, spec.key(name)), maxSize)
	case spec.Env != "":
		v, ok := lookupEnv(spec.Env)
		if !ok {
			return nil, fmt.Errorf("variable unset: %w", ErrNotFound)
		}
		return checkSize([]byte(v), maxSize)
	default:
		return checkSize([]byte(spec.Value), maxSize)
	}
}

func checkSize(v []byte, maxSize int) ([]byte, error) {
	switch {
	case len(v) == 0:
		return nil, ErrEmpty
	case len(v) > maxSize:
		clear(v)
		return nil, fmt.Errorf("more than %d bytes: %w", maxSize, ErrTooLarge)
	}
	return v, nil
}

// readFile reads a regular file of 1 to maxSize bytes, without reading more than maxSize+1.
func readFile(path string, maxSize int) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, notFound(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is %s: %w", path, fi.Mode().Type(), ErrNotRegular)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, notFound(err)
	}
	defer f.Close()
	// Size the buffer from the file once, so that the value is not copied while it grows.
	v := make([]byte, 0, min(max(fi.Size(), 0), int64(maxSize))+1)
	for {
		n, err := f.Read(v[len(v):cap(v)])
		v = v[:len(v)+n]
		if len(v) > maxSize {
			clear(v)
			return nil, fmt.Errorf("%s: more than %d bytes: %w", path, maxSize, ErrTooLarge)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			clear(v)
			return nil, err
		}
		if len(v) == cap(v) {
			v = grow(v, maxSize+1)
		}
	}
	return checkSize(v, maxSize)
}

// grow doubles v's capacity, up to limit, zeroing the old copy.
func grow(v []byte, limit int) []byte {
	w := make([]byte, len(v), min(2*cap(v), limit))
	copy(w, v)
	clear(v)
	return w
}

func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}
