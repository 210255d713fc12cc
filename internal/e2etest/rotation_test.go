package e2etest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/secrets"
)

// kubeVolume is a directory laid out as kubelet's atomic writer lays out a mounted Secret:
// DIR/..data → ..vNNN (a directory with the keys), DIR/KEY → ..data/KEY. An update writes a new
// version directory, swaps ..data with one rename, then removes the old version.
type kubeVolume struct {
	dir     string
	version int
	keys    []string
}

// rotatedValue is the value of key at version v: long enough that a torn read could not pass
// for a complete value.
func rotatedValue(key string, v int) string {
	return secretValue(fmt.Sprintf("v%03d-%s-", v, key) + strings.Repeat(key[:1], 3000) + "-end")
}

func newKubeVolume(t testing.TB, keys ...string) *kubeVolume {
	t.Helper()
	kv := &kubeVolume{dir: t.TempDir(), keys: keys}
	kv.update(t)
	for _, k := range keys {
		if err := os.Symlink(filepath.Join("..data", k), filepath.Join(kv.dir, k)); err != nil {
			t.Fatal(err)
		}
	}
	return kv
}

// update publishes the next version of every key, atomically, and removes the old version.
func (kv *kubeVolume) update(t testing.TB) {
	t.Helper()
	kv.version++
	name := fmt.Sprintf("..v%03d", kv.version)
	if err := os.Mkdir(filepath.Join(kv.dir, name), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, k := range kv.keys {
		if err := os.WriteFile(filepath.Join(kv.dir, name, k), []byte(rotatedValue(k, kv.version)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(kv.dir, "..data_tmp")
	if err := os.Symlink(name, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(kv.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if kv.version > 1 {
		if err := os.RemoveAll(filepath.Join(kv.dir, fmt.Sprintf("..v%03d", kv.version-1))); err != nil {
			t.Fatal(err)
		}
	}
}

// versionOf returns the version of a received value of key, or -1 if it is not exactly one of
// the values ever written.
func versionOf(key, got string, max int) int {
	rest, ok := strings.CutPrefix(got, canary+"-v")
	if !ok || len(rest) < 3 {
		return -1
	}
	v, err := strconv.Atoi(rest[:3])
	if err != nil || v < 1 || v > max || got != rotatedValue(key, v) {
		return -1
	}
	return v
}

// TestSecretsRotatedUnderLoad: a mounted Kubernetes Secret with two keys is updated twenty times
// (..data swaps, old versions deleted at once) while three clients fetch both secrets in one
// request, through a secrets.Watcher polling every 5ms. Every response is one complete version:
// both values of the same version, never a torn or mixed pair; each client sees versions in
// order; every client ends on the last version.
func TestSecretsRotatedUnderLoad(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.prefetch(t)
	kv := newKubeVolume(t, "default", "db")
	specs, err := secrets.DirSpecs(kv.dir)
	if err != nil {
		t.Fatal(err)
	}
	log := logger("secrets")
	w, err := secrets.NewWatcher(specs, nil, func(_, _ *secrets.Set, err error) {
		if err != nil { // a reload that raced the deletion of the old version: retried next poll
			log.Warn("secrets reload failed", "error", err.Error())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, 5*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
	})
	sv := st.serve(t, serveOptions{secrets: w, policy: rotationPolicy(t)})
	cert := raTLS(t, st.enclave(t, pcs.StatusUpToDate))

	const loops, versions = 3, 20
	l := startLoad(t, loops, func(ctx context.Context, _ int) (*client.Result, error) {
		cfg := clientConfig(t, cert, sv.addr)
		cfg.Names = []string{"default", "db"}
		return fetch(ctx, cfg)
	})
	for kv.version < versions {
		time.Sleep(40 * time.Millisecond)
		kv.update(t)
	}
	simtest.WaitFor(t, 20*time.Second, "every client to see the last version", func() bool {
		seen := make([]bool, loops)
		for _, a := range l.all() {
			if a.err == nil && versionOf("default", value(a.res, "default"), versions) == versions {
				seen[a.loop] = true
			}
		}
		return !strings.Contains(fmt.Sprint(seen), "false")
	})
	l.stop()

	last := make([]int, loops)
	distinct := map[int]bool{}
	for _, a := range l.all() {
		if a.err != nil {
			t.Errorf("loop %d: %v", a.loop, a.err)
			continue
		}
		va := versionOf("default", value(a.res, "default"), versions)
		vb := versionOf("db", value(a.res, "db"), versions)
		switch {
		case va < 0 || vb < 0:
			t.Errorf("loop %d: a value is not one that was ever written (torn read?)", a.loop)
		case va != vb:
			t.Errorf("loop %d: mixed versions: default v%d with db v%d", a.loop, va, vb)
		case va < last[a.loop]:
			t.Errorf("loop %d: version went back from v%d to v%d", a.loop, last[a.loop], va)
		default:
			last[a.loop] = va
			distinct[va] = true
		}
	}
	if len(distinct) < 3 {
		t.Errorf("clients saw only %d versions: the rotation did not overlap the load", len(distinct))
	}
}
