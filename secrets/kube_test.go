package secrets_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// kubeVolume mimics the layout kubelet's atomic writer gives a mounted Secret:
//
//	dir/..2026_11_28_18_00_00.000000001/KEY   regular files
//	dir/..data -> ..2026_11_28_18_00_00.000000001
//	dir/KEY    -> ..data/KEY
type kubeVolume struct {
	t       *testing.T
	dir     string
	current string // the timestamped directory ..data points to
	serial  int
}

func newKubeVolume(t *testing.T, data map[string]string) *kubeVolume {
	t.Helper()
	v := &kubeVolume{t: t, dir: t.TempDir()}
	v.update(data)
	for key := range data {
		if err := os.Symlink(filepath.Join("..data", key), filepath.Join(v.dir, key)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

// write creates the next timestamped directory holding data and returns its name.
func (v *kubeVolume) write(data map[string]string) string {
	v.t.Helper()
	v.serial++
	ts := fmt.Sprintf("..2026_11_28_18_00_00.%09d", v.serial)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		v.t.Fatal(err)
	}
	for key, value := range data {
		if err := os.WriteFile(filepath.Join(v.dir, ts, key), []byte(value), 0o644); err != nil {
			v.t.Fatal(err)
		}
	}
	return ts
}

// swap points ..data at ts with one rename, as kubelet does.
func (v *kubeVolume) swap(ts string) {
	v.t.Helper()
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		v.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		v.t.Fatal(err)
	}
	v.current = ts
}

// update writes data as a new version, swaps to it and removes the old version.
func (v *kubeVolume) update(data map[string]string) {
	v.t.Helper()
	old := v.current
	v.swap(v.write(data))
	if old != "" {
		if err := os.RemoveAll(filepath.Join(v.dir, old)); err != nil {
			v.t.Fatal(err)
		}
	}
}
