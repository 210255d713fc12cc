package client

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

// File and directory modes of WriteFiles.
const (
	DirMode  fs.FileMode = 0o700
	FileMode fs.FileMode = 0o400
)

// Gramine's limits for delivered secrets (spec §2.3).
const (
	// KeySize is the size of a Gramine encrypted-files key (/dev/attestation/keys/<name>).
	KeySize = 16
	// MaxKeyNameLen is the longest key name SetKeys accepts (one path component).
	MaxKeyNameLen = 255
	// MaxGramineStringSize bounds SECRET_PROVISION_SECRET_STRING, terminating NUL included
	// (Gramine: PATH_MAX).
	MaxGramineStringSize = 4096
	// GramineStringVar is the variable Gramine's constructor sets to the default secret.
	GramineStringVar = "SECRET_PROVISION_SECRET_STRING"
)

// ErrDelivery classifies every delivery error (bad names, missing secrets, wrong sizes, unsafe
// targets). The messages name secrets and sizes, never values.
var ErrDelivery = errors.New("not delivered")

func deliveryErr(format string, args ...any) error {
	return fmt.Errorf("client: deliver: "+format+": %w", append(args, ErrDelivery)...)
}

// WriteFiles writes each secret to dir/<name>, mode 0400 (FileMode), creating dir with mode
// 0700 (DirMode) if it does not exist; an existing dir keeps its mode. Put dir on a tmpfs
// (Gramine: a tmpfs mount or an encrypted mount) so the values never reach a disk in clear.
//
// Every name is checked first (wire.CheckName: one path component of [A-Za-z0-9._-], so no
// traversal) and nothing is written if any is invalid or repeated. Each file is written to a
// temporary file in dir, synced, made read-only and renamed over the target, so a reader sees
// the old file or the whole new one, never a part. A target that is a symbolic link or not a
// regular file is refused and left alone. On an error the secrets already renamed into place
// stay; the temporary file of the failed one is removed.
func WriteFiles(dir string, ss []secrets.Secret) error {
	names := make([]string, len(ss))
	for i, s := range ss {
		if err := wire.CheckName(s.Name(), wire.Limits{}); err != nil {
			return deliveryErr("secret %d %q is not a valid file name: %w", i, s.Name(), err)
		}
		if slices.Contains(names[:i], s.Name()) {
			return deliveryErr("secret %q given twice", s.Name())
		}
		names[i] = s.Name()
	}
	if err := ensureDir(dir); err != nil {
		return err
	}
	for _, s := range ss {
		if err := writeFile(dir, s); err != nil {
			return err
		}
	}
	return syncDir(dir)
}

// ensureDir creates dir with DirMode if it does not exist, and checks that it is a directory.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DirMode); err != nil {
			return fmt.Errorf("client: deliver: %w", err)
		}
		// MkdirAll is subject to the umask; make the mode exact.
		if err := os.Chmod(dir, DirMode); err != nil {
			return fmt.Errorf("client: deliver: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	if !fi.IsDir() {
		return deliveryErr("%s is not a directory", dir)
	}
	return nil
}

func writeFile(dir string, s secrets.Secret) (err error) {
	target := filepath.Join(dir, s.Name())
	if err := checkTarget(target); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+s.Name()+".tmp-*")
	if err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	v := s.Bytes()
	_, err = f.Write(v)
	clear(v)
	if err != nil {
		return fmt.Errorf("client: deliver: write %s: %w", s.Name(), err)
	}
	if err = f.Chmod(FileMode); err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	// Check again right before the rename: rename never follows a link at the target (it
	// would replace the link itself), but we refuse to replace one at all.
	if err = checkTarget(target); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), target); err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	return nil
}

// checkTarget accepts a missing target or a regular file.
func checkTarget(path string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("client: deliver: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return deliveryErr("%s is a symbolic link; refusing to replace it", path)
	case !fi.Mode().IsRegular():
		return deliveryErr("%s exists and is not a regular file", path)
	}
	return nil
}

// syncDir makes the renames durable (a no-op on tmpfs).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("client: deliver: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("client: deliver: sync %s: %w", dir, err)
	}
	return nil
}

// find returns the secret named name.
func find(ss []secrets.Secret, name string) (secrets.Secret, error) {
	for _, s := range ss {
		if s.Name() == name {
			return s, nil
		}
	}
	return secrets.Secret{}, deliveryErr("secret %q was not received", name)
}

// sortedKeys returns the keys of m in order, so that output and errors are deterministic.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// EnvPairs returns "VAR=value" for every entry VAR → secret name of mapping, sorted by VAR, for
// the environment of Exec. A variable name must be [A-Za-z_][A-Za-z0-9_]*; a secret that was
// not received, or whose value holds a NUL byte (which no environment can carry), is an error.
func EnvPairs(mapping map[string]string, ss []secrets.Secret) ([]string, error) {
	pairs := make([]string, 0, len(mapping))
	for _, v := range sortedKeys(mapping) {
		if err := CheckEnvName(v); err != nil {
			return nil, err
		}
		s, err := find(ss, mapping[v])
		if err != nil {
			return nil, err
		}
		b := s.Bytes()
		hasNUL := bytes.IndexByte(b, 0) >= 0
		pair := v + "=" + string(b)
		clear(b)
		if hasNUL {
			return nil, deliveryErr("secret %q holds a NUL byte and cannot go into environment variable %s", s.Name(), v)
		}
		pairs = append(pairs, pair)
	}
	return pairs, nil
}

// CheckEnvName reports whether s is a portable environment variable name,
// [A-Za-z_][A-Za-z0-9_]*, as EnvPairs requires. The error matches ErrDelivery.
func CheckEnvName(s string) error {
	ok := s != "" && !('0' <= s[0] && s[0] <= '9')
	for i := 0; ok && i < len(s); i++ {
		c := s[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
	}
	if !ok {
		return deliveryErr("environment variable name %q: want [A-Za-z_][A-Za-z0-9_]*", s)
	}
	return nil
}

// KeySetter installs a Gramine encrypted-files key; *attest.Gramine satisfies it (it writes
// /dev/attestation/keys/<name>).
type KeySetter interface {
	SetKey(name string, key []byte) error
}

// SetKeys installs, for every entry KEYNAME → secret name of mapping (sorted by KEYNAME), the
// secret as the Gramine encrypted-files key KEYNAME ("default" is the key of encrypted mounts
// without a key_name; SECRET_PROVISION_SET_KEY). Every secret must be exactly KeySize (16) raw
// bytes, as Gramine ≥ 1.3 requires; all are checked before the first key is set. Key names are
// one path component (no '/' or NUL, not "." or "..", at most MaxKeyNameLen bytes).
func SetKeys(setter KeySetter, mapping map[string]string, ss []secrets.Secret) error {
	keys := sortedKeys(mapping)
	for _, k := range keys {
		if err := CheckKeyName(k); err != nil {
			return err
		}
		s, err := find(ss, mapping[k])
		if err != nil {
			return err
		}
		if s.Len() != KeySize {
			return deliveryErr("secret %q is %d bytes; Gramine key %q must be exactly %d raw bytes", s.Name(), s.Len(), k, KeySize)
		}
	}
	for _, k := range keys {
		s, _ := find(ss, mapping[k])
		v := s.Bytes()
		err := setter.SetKey(k, v)
		clear(v)
		if err != nil {
			return fmt.Errorf("client: deliver: key %q: %w", k, err)
		}
	}
	return nil
}

// CheckKeyName reports whether k is a Gramine key name SetKeys accepts: one file name of 1 to
// MaxKeyNameLen bytes, without '/' or NUL, not "." or "..". The error matches ErrDelivery.
func CheckKeyName(k string) error {
	if k == "" || k == "." || k == ".." || len(k) > MaxKeyNameLen || strings.ContainsAny(k, "/\x00") {
		return deliveryErr("key name %q: want one file name of 1 to %d bytes", k, MaxKeyNameLen)
	}
	return nil
}

// GramineStringEnv returns "SECRET_PROVISION_SECRET_STRING=<value>" for s, as Gramine's
// constructor exports the default secret to applications written for it (spec §2.3): the
// value must be at most MaxGramineStringSize bytes, not empty, with no NUL except one at the
// end (dropped, as a C string ends there).
func GramineStringEnv(s secrets.Secret) (string, error) {
	if s.Len() > MaxGramineStringSize {
		return "", deliveryErr("secret %q is %d bytes; %s holds at most %d", s.Name(), s.Len(), GramineStringVar, MaxGramineStringSize)
	}
	b := s.Bytes()
	defer clear(b)
	v := bytes.TrimSuffix(b, []byte{0})
	switch {
	case len(v) == 0:
		return "", deliveryErr("secret %q is empty as a string", s.Name())
	case bytes.IndexByte(v, 0) >= 0:
		return "", deliveryErr("secret %q holds a NUL byte before its end and is not a string", s.Name())
	}
	return GramineStringVar + "=" + string(v), nil
}

// MergeEnv returns base with the "VAR=value" pairs of extra added; a variable of extra replaces
// every entry of the same name in base.
func MergeEnv(base, extra []string) []string {
	set := make(map[string]bool, len(extra))
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := make([]string, 0, len(base)+len(extra))
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !set[k] {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}
