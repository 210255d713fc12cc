package client_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/secrets"
)

func secretList(kv ...string) []secrets.Secret {
	var ss []secrets.Secret
	for i := 0; i+1 < len(kv); i += 2 {
		ss = append(ss, secrets.New(kv[i], []byte(kv[i+1])))
	}
	return ss
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != client.FileMode {
		t.Errorf("%s: mode %v, want %v", path, fi.Mode(), client.FileMode)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s: content differs", path)
	}
}

func TestWriteFilesCreatesDirAndFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "secrets")
	if err := client.WriteFiles(dir, secretList("default", "A\x00", "db.password", "hunter2")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != client.DirMode {
		t.Fatalf("dir mode %v, %v; want %v", fi.Mode(), err, client.DirMode)
	}
	checkFile(t, filepath.Join(dir, "default"), "A\x00")
	checkFile(t, filepath.Join(dir, "db.password"), "hunter2")
	if got := dirNames(t, dir); !slices.Equal(got, []string{"db.password", "default"}) {
		t.Errorf("dir holds %v (temporary files left?)", got)
	}
}

func TestWriteFilesKeepsExistingDirMode(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := client.WriteFiles(dir, secretList("a", "1")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o750 {
		t.Errorf("existing dir mode changed to %v", fi.Mode().Perm())
	}
}

// Rewriting replaces the file by rename: a reader that opened the old file keeps reading the
// old content whole, and the path then holds the whole new content (a new inode).
func TestWriteFilesReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	if err := client.WriteFiles(dir, secretList("k", "old-value")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "k")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before, _ := os.Stat(path)
	if err := client.WriteFiles(dir, secretList("k", "new-value-longer")); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(path)
	if os.SameFile(before, after) {
		t.Error("the file was rewritten in place, not replaced")
	}
	buf := make([]byte, 64)
	n, _ := f.Read(buf)
	if string(buf[:n]) != "old-value" {
		t.Errorf("reader of the old file sees %q", buf[:n])
	}
	checkFile(t, path, "new-value-longer")
	if got := dirNames(t, dir); !slices.Equal(got, []string{"k"}) {
		t.Errorf("dir holds %v", got)
	}
}

func TestWriteFilesRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "../escape", "a/b", "/abs", "sp ace", "nul\x00", strings.Repeat("a", 129)} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			err := client.WriteFiles(dir, secretList("good", "1", name, "2"))
			if !errors.Is(err, client.ErrDelivery) {
				t.Fatalf("WriteFiles error %v, want ErrDelivery", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("something was written before the names were checked: %v", err)
			}
		})
	}
	if err := client.WriteFiles(t.TempDir(), secretList("a", "1", "a", "2")); !errors.Is(err, client.ErrDelivery) {
		t.Errorf("repeated name: %v", err)
	}
}

func TestWriteFilesRefusesUnsafeTargets(t *testing.T) {
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		victim := filepath.Join(t.TempDir(), "victim")
		if err := os.WriteFile(victim, []byte("untouched"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(victim, filepath.Join(dir, "b")); err != nil {
			t.Fatal(err)
		}
		err := client.WriteFiles(dir, secretList("a", "1", "b", "2"))
		if !errors.Is(err, client.ErrDelivery) {
			t.Fatalf("WriteFiles error %v, want ErrDelivery", err)
		}
		if got, _ := os.ReadFile(victim); string(got) != "untouched" {
			t.Errorf("the link target was written: %q", got)
		}
		if fi, err := os.Lstat(filepath.Join(dir, "b")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("the link was replaced")
		}
		// "a" was delivered before "b" failed; no temporary file is left behind.
		if got := dirNames(t, dir); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("dir holds %v", got)
		}
	})
	t.Run("directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "a"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteFiles(dir, secretList("a", "1")); !errors.Is(err, client.ErrDelivery) {
			t.Errorf("WriteFiles error %v, want ErrDelivery", err)
		}
	})
	t.Run("dir is a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "f")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := client.WriteFiles(file, secretList("a", "1")); !errors.Is(err, client.ErrDelivery) {
			t.Errorf("WriteFiles error %v, want ErrDelivery", err)
		}
	})
}

func TestEnvPairs(t *testing.T) {
	ss := secretList("db", "hunter2", "default", "A_SIMPLE_SECRET", "bin", "a\x00b")
	got, err := client.EnvPairs(map[string]string{"DB_PASSWORD": "db", "APP_SECRET": "default", "_X1": "db"}, ss)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"APP_SECRET=A_SIMPLE_SECRET", "DB_PASSWORD=hunter2", "_X1=hunter2"}
	if !slices.Equal(got, want) {
		t.Errorf("EnvPairs = %q, want %q", got, want)
	}
	for name, mapping := range map[string]map[string]string{
		"missing secret": {"X": "nope"},
		"NUL in value":   {"X": "bin"},
		"empty var":      {"": "db"},
		"digit first":    {"1X": "db"},
		"equals sign":    {"A=B": "db"},
		"dash":           {"A-B": "db"},
	} {
		if _, err := client.EnvPairs(mapping, ss); !errors.Is(err, client.ErrDelivery) {
			t.Errorf("%s: error %v, want ErrDelivery", name, err)
		}
	}
}

type fakeSetter struct {
	keys map[string][]byte
	err  error
}

func (f *fakeSetter) SetKey(name string, key []byte) error {
	if f.err != nil {
		return f.err
	}
	if f.keys == nil {
		f.keys = map[string][]byte{}
	}
	f.keys[name] = append([]byte(nil), key...)
	return nil
}

func TestSetKeys(t *testing.T) {
	key16 := "0123456789abcdef"
	ss := secretList("wrap", key16, "other", "fedcba9876543210", "short", "15-bytes-secret", "long", key16+"!")
	f := &fakeSetter{}
	if err := client.SetKeys(f, map[string]string{"default": "wrap", "logs": "other"}, ss); err != nil {
		t.Fatal(err)
	}
	if string(f.keys["default"]) != key16 || string(f.keys["logs"]) != "fedcba9876543210" || len(f.keys) != 2 {
		t.Errorf("keys set: %d", len(f.keys))
	}
	for name, mapping := range map[string]map[string]string{
		"15 bytes":       {"default": "wrap", "k": "short"},
		"17 bytes":       {"default": "wrap", "k": "long"},
		"missing secret": {"default": "wrap", "k": "nope"},
		"slash in name":  {"default": "wrap", "a/b": "wrap"},
		"dot-dot":        {"default": "wrap", "..": "wrap"},
		"empty name":     {"default": "wrap", "": "wrap"},
	} {
		f := &fakeSetter{}
		if err := client.SetKeys(f, mapping, ss); !errors.Is(err, client.ErrDelivery) {
			t.Errorf("%s: error %v, want ErrDelivery", name, err)
		}
		if len(f.keys) != 0 {
			t.Errorf("%s: %d keys set before the check failed", name, len(f.keys))
		}
	}
	boom := errors.New("EACCES")
	if err := client.SetKeys(&fakeSetter{err: boom}, map[string]string{"default": "wrap"}, ss); !errors.Is(err, boom) {
		t.Errorf("setter error not wrapped: %v", err)
	}
}

func TestGramineStringEnv(t *testing.T) {
	tests := []struct {
		name, value, want string
		ok                bool
	}{
		{"NUL-terminated", "A_SIMPLE_SECRET\x00", "SECRET_PROVISION_SECRET_STRING=A_SIMPLE_SECRET", true},
		{"no NUL", "ffeeddcc", "SECRET_PROVISION_SECRET_STRING=ffeeddcc", true},
		{"4096 with NUL", strings.Repeat("x", 4095) + "\x00", "SECRET_PROVISION_SECRET_STRING=" + strings.Repeat("x", 4095), true},
		{"4097", strings.Repeat("x", 4096) + "\x00", "", false},
		{"NUL inside", "a\x00b", "", false},
		{"two trailing NULs", "a\x00\x00", "", false},
		{"only NUL", "\x00", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := client.GramineStringEnv(secrets.New("default", []byte(tc.value)))
			if tc.ok && (err != nil || got != tc.want) {
				t.Errorf("GramineStringEnv = %.60q, %v", got, err)
			}
			if !tc.ok && !errors.Is(err, client.ErrDelivery) {
				t.Errorf("error %v, want ErrDelivery", err)
			}
		})
	}
}

func TestMergeEnv(t *testing.T) {
	got := client.MergeEnv([]string{"PATH=/bin", "X=old", "Y=1", "X=dup"}, []string{"X=new", "Z=2"})
	want := []string{"PATH=/bin", "Y=1", "X=new", "Z=2"}
	if !slices.Equal(got, want) {
		t.Errorf("MergeEnv = %q, want %q", got, want)
	}
}
