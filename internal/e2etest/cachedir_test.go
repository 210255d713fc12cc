package e2etest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/pcs"
)

// TestUnusableCacheDir: the on-disk collateral cache cannot be used — the directory is a
// regular file, lies under a regular file, is read-only, or every record's name is taken by a
// directory (a write that always fails, even for root). The cache reports each failure through
// Hooks.OnError (logged by the server as a warning) with errors.Is(err, collateral.ErrDisk)
// and the path in the message; nothing crashes, the memory cache works and the server
// provisions.
func TestUnusableCacheDir(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{"regular file in its place", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "cache")
			writeFile(t, p, "not a directory")
			return p
		}},
		{"under a regular file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "file")
			writeFile(t, p, "not a directory")
			return filepath.Join(p, "cache")
		}},
		{"record names taken by directories", func(t *testing.T) string {
			dir := t.TempDir()
			for _, name := range []string{"root_crl_global.json", "pck_crl_processor.json", "qe_identity_sgx.json",
				"tcb_info_sgx_" + sgxKey().FMSPC.String() + ".json"} {
				if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			return dir
		}},
		{"read-only directory", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "ro")
			if err := os.Mkdir(dir, 0o500); err != nil {
				t.Fatal(err)
			}
			if f, err := os.CreateTemp(dir, "probe"); err == nil { // root ignores permissions
				f.Close()
				t.Skip("permissions do not apply to this user (root): covered by the other cases")
			}
			return dir
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir(t)
			var mu sync.Mutex
			var errs []error
			st := newStack(t, stackOptions{cacheDir: dir, onError: func(err error) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}})
			st.prefetch(t) // the memory cache works
			sv := st.serve(t, serveOptions{})
			res, err := fetch(context.Background(), clientConfig(t, raTLS(t, st.enclave(t, pcs.StatusUpToDate)), sv.addr))
			if err != nil || value(res, "default") != secretValue("default") {
				t.Fatalf("provisioning with an unusable cache directory: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(errs) == 0 {
				t.Fatal("no error reported for the unusable cache directory")
			}
			for _, err := range errs {
				if !errors.Is(err, collateral.ErrDisk) {
					t.Errorf("reported error %v, want collateral.ErrDisk", err)
				}
				if !strings.Contains(err.Error(), filepath.Base(dir)) {
					t.Errorf("reported error %q does not name the directory", err)
				}
			}
			if !strings.Contains(capture.logs.String(), filepath.Base(dir)) {
				t.Error("no log line names the cache directory")
			}
		})
	}
}

// TestCorruptCacheFiles: records that do not parse or do not verify (garbage, a document
// signed by nobody) are reported and skipped at start-up; the documents are fetched again.
func TestCorruptCacheFiles(t *testing.T) {
	dir := t.TempDir()
	first := newStack(t, stackOptions{cacheDir: dir})
	first.prefetch(t)
	// Control: intact records are used at start-up without asking the service.
	warm := newStack(t, stackOptions{reuse: first.w, cacheDir: dir})
	warm.prefetch(t)
	if n := warm.faults.TotalRequests(); n != 0 {
		t.Fatalf("intact cache records: %d requests to the service, want 0", n)
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) < 4 {
		t.Fatalf("cache directory after a prefetch: %d entries, %v", len(ents), err)
	}
	for i, e := range ents {
		content := "garbage"
		if i%2 == 1 {
			content = `{"format":1,"item":"x","body":"AAAA"}`
		}
		writeFile(t, filepath.Join(dir, e.Name()), content)
	}
	var n int
	var mu sync.Mutex
	st := newStack(t, stackOptions{reuse: first.w, cacheDir: dir, onError: func(error) { mu.Lock(); n++; mu.Unlock() }})
	mu.Lock()
	reported := n
	mu.Unlock()
	if reported < len(ents) {
		t.Errorf("%d corrupt records, %d errors reported", len(ents), reported)
	}
	st.prefetch(t)
	if st.faults.TotalRequests() == 0 {
		t.Error("the corrupt records were used instead of fetched again")
	}
	sv := st.serve(t, serveOptions{})
	if _, err := fetch(context.Background(), clientConfig(t, raTLS(t, st.enclave(t, pcs.StatusUpToDate)), sv.addr)); err != nil {
		t.Fatalf("provisioning after corrupt cache files: %v", err)
	}
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
