package secrets_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

// env returns a lookup function over a fixed map.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// values returns name → value of a set.
func values(s *secrets.Set) map[string]string {
	out := map[string]string{}
	for _, name := range s.Names() {
		sec, _ := s.Get(name)
		out[name] = string(sec.Bytes())
	}
	return out
}

func TestLoadSources(t *testing.T) {
	tmp := t.TempDir()
	plain := filepath.Join(tmp, "plain")
	if err := os.Mkdir(plain, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(plain, "api-token"), "tok")
	kube := newKubeVolume(t, map[string]string{"password": "pw", "user": "admin", ".dockerconfigjson": "{}"})
	specs := map[string]secrets.Spec{
		"from-file":      {File: writeFile(t, filepath.Join(tmp, "f"), "file-value\n")},
		"from-env":       {Env: "DB_PASSWORD"},
		"from-dir":       {Dir: plain, Key: "api-token"},
		"password":       {Dir: kube.dir}, // key defaults to the name
		"db-user":        {Dir: kube.dir, Key: "user"},
		"docker":         {Dir: kube.dir, Key: ".dockerconfigjson"},
		"through-link":   {File: filepath.Join(kube.dir, "password")},
		"inline.demo_01": {Value: "demo"},
	}
	set, err := secrets.Load(specs, env(map[string]string{"DB_PASSWORD": "env-value"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"from-file": "file-value\n", "from-env": "env-value", "from-dir": "tok", "password": "pw",
		"db-user": "admin", "docker": "{}", "through-link": "pw", "inline.demo_01": "demo",
	}
	if diff := cmp.Diff(want, values(set)); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	names := set.Names()
	if !slices.IsSorted(names) || set.Len() != len(want) {
		t.Errorf("names %q not sorted or wrong count", names)
	}
	versions := set.Versions()
	for name, v := range want {
		if versions[name] != secrets.Version([]byte(v)) {
			t.Errorf("version of %s = %s", name, versions[name])
		}
	}
	if _, ok := set.Get("absent"); ok {
		t.Error("Get of an absent name succeeded")
	}
	// The returned slices and maps are copies.
	names[0], versions["from-env"] = "changed", "changed"
	if set.Names()[0] == "changed" || set.Versions()["from-env"] == "changed" {
		t.Error("Names or Versions returned the Set's own storage")
	}
}

func TestLoadErrors(t *testing.T) {
	tmp := t.TempDir()
	small := writeFile(t, filepath.Join(tmp, "small"), "12345678")
	big := writeFile(t, filepath.Join(tmp, "big"), "123456789")
	empty := writeFile(t, filepath.Join(tmp, "empty"), "")
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := env(map[string]string{"EMPTY": "", "BIG": "123456789", "OK": "x"})
	tests := []struct {
		name string
		spec secrets.Spec
		want []error
	}{
		{"ok", secrets.Spec{File: small}, nil},
		{"at limit env", secrets.Spec{Env: "BIG"}, []error{secrets.ErrTooLarge}},
		{"too large file", secrets.Spec{File: big}, []error{secrets.ErrTooLarge}},
		{"too large inline", secrets.Spec{Value: "123456789"}, []error{secrets.ErrTooLarge}},
		{"empty file", secrets.Spec{File: empty}, []error{secrets.ErrEmpty}},
		{"empty env", secrets.Spec{Env: "EMPTY"}, []error{secrets.ErrEmpty}},
		{"unset env", secrets.Spec{Env: "UNSET"}, []error{secrets.ErrNotFound}},
		{"missing file", secrets.Spec{File: filepath.Join(tmp, "nope")}, []error{secrets.ErrNotFound, fs.ErrNotExist}},
		{"missing key", secrets.Spec{Dir: tmp, Key: "nope"}, []error{secrets.ErrNotFound, fs.ErrNotExist}},
		{"missing dir", secrets.Spec{Dir: filepath.Join(tmp, "nodir"), Key: "k"}, []error{secrets.ErrNotFound}},
		{"directory", secrets.Spec{File: tmp}, []error{secrets.ErrNotRegular}},
		{"fifo", secrets.Spec{File: fifo}, []error{secrets.ErrNotRegular}},
		{"nothing set", secrets.Spec{}, []error{secrets.ErrInvalidSpec}},
		{"two set", secrets.Spec{File: small, Env: "OK"}, []error{secrets.ErrInvalidSpec}},
		{"key without dir", secrets.Spec{Env: "OK", Key: "k"}, []error{secrets.ErrInvalidSpec}},
		{"kubelet entry as key", secrets.Spec{Dir: tmp, Key: "..data"}, []error{secrets.ErrInvalidSpec}},
		{"path as key", secrets.Spec{Dir: tmp, Key: "../small"}, []error{secrets.ErrInvalidSpec}},
		{"slash in key", secrets.Spec{Dir: "/", Key: "tmp/small"}, []error{secrets.ErrInvalidName, wire.ErrInvalidName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secrets.Load(map[string]secrets.Spec{"s": tt.spec}, lookup, secrets.WithMaxSize(8))
			if (err == nil) != (tt.want == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			for _, want := range tt.want {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, does not match %v", err, want)
				}
			}
			if le, ok := errors.AsType[*secrets.LoadError](err); err != nil && (!ok || le.Name != "s") {
				t.Errorf("err = %v, not a LoadError for s", err)
			}
		})
	}
}

func TestLoadInvalidNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "a b", "é", strings.Repeat("a", 129)} {
		_, err := secrets.Load(map[string]secrets.Spec{name: {Value: "v"}}, nil)
		if !errors.Is(err, secrets.ErrInvalidName) {
			t.Errorf("name %q: err = %v", name, err)
		}
	}
}

// TestLoadCollectsAllErrors: every failing secret is reported, each under its name, and no Set
// is returned.
func TestLoadCollectsAllErrors(t *testing.T) {
	specs := map[string]secrets.Spec{
		"good":    {Value: "v"},
		"unset":   {Env: "UNSET"},
		"missing": {File: filepath.Join(t.TempDir(), "nope")},
		"bad":     {},
	}
	set, err := secrets.Load(specs, env(nil))
	if set != nil || err == nil {
		t.Fatalf("set %v, err %v", set, err)
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("err %T is not a join", err)
	}
	got := map[string]error{}
	for _, e := range joined.Unwrap() {
		le, ok := errors.AsType[*secrets.LoadError](e)
		if !ok {
			t.Fatalf("%v is not a LoadError", e)
		}
		got[le.Name] = le.Err
	}
	want := map[string]error{"unset": secrets.ErrNotFound, "missing": secrets.ErrNotFound, "bad": secrets.ErrInvalidSpec}
	if len(got) != len(want) {
		t.Fatalf("errors for %v, want %v", slices.Sorted(func(yield func(string) bool) {
			for k := range got {
				if !yield(k) {
					return
				}
			}
		}), want)
	}
	for name, w := range want {
		if !errors.Is(got[name], w) {
			t.Errorf("%s: %v, want %v", name, got[name], w)
		}
	}
}

func TestLoadErrorDoesNotLeakValue(t *testing.T) {
	_, err := secrets.Load(map[string]secrets.Spec{"s": {Value: secretValue}}, nil, secrets.WithMaxSize(4))
	if err == nil || strings.Contains(err.Error(), secretValue) || strings.Contains(err.Error(), secretValue[:4]) {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadLargeFile(t *testing.T) {
	tmp := t.TempDir()
	value := strings.Repeat("x", secrets.DefaultMaxSize)
	at := writeFile(t, filepath.Join(tmp, "at"), value)
	over := writeFile(t, filepath.Join(tmp, "over"), value+"x")
	set, err := secrets.Load(map[string]secrets.Spec{"at": {File: at}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := set.Get("at"); s.Len() != secrets.DefaultMaxSize {
		t.Errorf("len = %d", s.Len())
	}
	if _, err := secrets.Load(map[string]secrets.Spec{"over": {File: over}}, nil); !errors.Is(err, secrets.ErrTooLarge) {
		t.Errorf("over: err = %v", err)
	}
	// A larger limit, and a device that never ends: bounded by the limit.
	if _, err := secrets.Load(map[string]secrets.Spec{"over": {File: over}}, nil, secrets.WithMaxSize(2<<20)); err != nil {
		t.Errorf("2 MiB limit: %v", err)
	}
}

func TestDirSpecs(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"password": "pw", "user": "admin", ".hidden": "h"})
	if err := os.Mkdir(filepath.Join(kube.dir, kube.current, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	specs, err := secrets.DirSpecs(kube.dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]secrets.Spec{
		"password": {Dir: kube.dir, Key: "password"},
		"user":     {Dir: kube.dir, Key: "user"},
	}
	if diff := cmp.Diff(want, specs); diff != "" {
		t.Errorf("specs (-want +got):\n%s", diff)
	}
	set, err := secrets.Load(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"password": "pw", "user": "admin"}, values(set)); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}

	plain := t.TempDir()
	writeFile(t, filepath.Join(plain, "k1"), "v")
	if err := os.Symlink(filepath.Join(plain, "k1"), filepath.Join(plain, "k2")); err != nil {
		t.Fatal(err)
	}
	if got, err := secrets.DirSpecs(plain); err != nil || len(got) != 2 {
		t.Errorf("plain dir: %v, %v", got, err)
	}
	writeFile(t, filepath.Join(plain, "bad key"), "v")
	if _, err := secrets.DirSpecs(plain); !errors.Is(err, secrets.ErrInvalidName) {
		t.Errorf("invalid key: err = %v", err)
	}
	if _, err := secrets.DirSpecs(filepath.Join(plain, "nope")); !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("missing dir: err = %v", err)
	}
}

// TestLoadReadsOneVersion: kubelet swaps ..data while Load is between two keys of the same
// volume; both keys must still come from the version Load started with. The swap is made
// from inside the load, by the lookup of an Env secret named between the two.
func TestLoadReadsOneVersion(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"a": "a1", "c": "c1"})
	next := kube.write(map[string]string{"a": "a2", "c": "c2"})
	swapped := false
	lookup := func(string) (string, bool) {
		kube.swap(next)
		swapped = true
		return "x", true
	}
	specs := map[string]secrets.Spec{"a": {Dir: kube.dir}, "b": {Env: "SWAP"}, "c": {Dir: kube.dir}}
	set, err := secrets.Load(specs, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if !swapped {
		t.Fatal("the swap did not happen during Load")
	}
	if got := values(set); got["a"] != "a1" || got["c"] != "c1" {
		t.Errorf("mixed versions: a=%s c=%s", got["a"], got["c"])
	}
	again, err := secrets.Load(specs, env(map[string]string{"SWAP": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := values(again); got["a"] != "a2" || got["c"] != "c2" {
		t.Errorf("after the swap: a=%s c=%s", got["a"], got["c"])
	}
}

func TestNilSet(t *testing.T) {
	var s *secrets.Set
	if _, ok := s.Get("x"); ok || s.Len() != 0 || s.Names() != nil || len(s.Versions()) != 0 {
		t.Error("nil Set is not empty")
	}
}

// TestLoadRetriesRemovedVersion: kubelet swaps ..data and removes the old version while Load is
// between two keys of the volume, so the second key is missing from the version Load resolved.
// Load starts over and returns the new version whole, not a not-found error and not a mix.
func TestLoadRetriesRemovedVersion(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"a": "a1", "c": "c1"})
	updates := 0
	lookup := func(string) (string, bool) {
		if updates == 0 {
			kube.update(map[string]string{"a": "a2", "c": "c2"})
		}
		updates++
		return "x", true
	}
	specs := map[string]secrets.Spec{"a": {Dir: kube.dir}, "b": {Env: "UPDATE"}, "c": {Dir: kube.dir}}
	set, err := secrets.Load(specs, lookup)
	if err != nil {
		t.Fatalf("Load during an update: %v", err)
	}
	if updates != 2 {
		t.Errorf("Load made %d attempts, want 2", updates)
	}
	if got := values(set); got["a"] != "a2" || got["c"] != "c2" {
		t.Errorf("a=%s c=%s, want the new version a2 c2", got["a"], got["c"])
	}
}

// TestLoadMissingKeyInCurrentVersion: a key missing from the version that is still current is
// reported at once, not retried.
func TestLoadMissingKeyInCurrentVersion(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"a": "a1"})
	lookups := 0
	lookup := func(string) (string, bool) { lookups++; return "x", true }
	specs := map[string]secrets.Spec{"b": {Env: "COUNT"}, "gone": {Dir: kube.dir}}
	_, err := secrets.Load(specs, lookup)
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
	if lookups != 1 {
		t.Errorf("Load made %d attempts, want 1", lookups)
	}
}
