package secrets_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secretprov/secretprov/secrets"
)

// reloads records the calls of an onReload hook.
type reloads struct {
	mu    sync.Mutex
	calls []reloadCall
}

type reloadCall struct {
	old, new *secrets.Set
	err      error
}

func (r *reloads) hook(old, new *secrets.Set, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, reloadCall{old, new, err})
}

func (r *reloads) get() []reloadCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]reloadCall(nil), r.calls...)
}

func kubeSpecs(dir string) map[string]secrets.Spec {
	return map[string]secrets.Spec{"a": {Dir: dir}, "b": {Dir: dir}}
}

func TestWatcherReload(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"a": "a1", "b": "b1"})
	var rec reloads
	w, err := secrets.NewWatcher(kubeSpecs(kube.dir), nil, rec.hook)
	if err != nil {
		t.Fatal(err)
	}
	first := w.Current()

	// Nothing changed: same Set, no call.
	if err := w.Reload(); err != nil || w.Current() != first || len(rec.get()) != 0 {
		t.Fatalf("unchanged reload: err %v, set replaced %v, %d calls", err, w.Current() != first, len(rec.get()))
	}

	kube.update(map[string]string{"a": "a2", "b": "b2"})
	if err := w.Reload(); err != nil {
		t.Fatal(err)
	}
	second := w.Current()
	if got := values(second); got["a"] != "a2" || got["b"] != "b2" {
		t.Fatalf("after update: %v", got)
	}
	if got := values(first); got["a"] != "a1" || got["b"] != "b1" {
		t.Fatalf("the old Set changed: %v", got)
	}
	if calls := rec.get(); len(calls) != 1 || calls[0].old != first || calls[0].new != second || calls[0].err != nil {
		t.Fatalf("calls = %+v", calls)
	}

	// A broken update (an empty key) keeps the current Set and reports the error.
	kube.update(map[string]string{"a": "a3", "b": ""})
	err = w.Reload()
	if !errors.Is(err, secrets.ErrEmpty) || w.Current() != second {
		t.Fatalf("broken update: err %v, set replaced %v", err, w.Current() != second)
	}
	if calls := rec.get(); len(calls) != 2 || calls[1].old != second || calls[1].new != nil || !errors.Is(calls[1].err, secrets.ErrEmpty) {
		t.Fatalf("calls = %+v", calls)
	}

	kube.update(map[string]string{"a": "a4", "b": "b4"})
	if err := w.Reload(); err != nil || values(w.Current())["b"] != "b4" {
		t.Fatalf("repaired update: %v %v", err, values(w.Current()))
	}
}

func TestNewWatcherFails(t *testing.T) {
	_, err := secrets.NewWatcher(map[string]secrets.Spec{"a": {Env: "UNSET"}}, func(string) (string, bool) { return "", false }, nil)
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
}

// TestWatcherNoMix: readers take the current Set while kubelet-style updates and reloads run;
// every Set they see holds a and b of the same version.
func TestWatcherNoMix(t *testing.T) {
	kube := newKubeVolume(t, map[string]string{"a": "0", "b": "0"})
	w, err := secrets.NewWatcher(kubeSpecs(kube.dir), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var seen atomic.Int64
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				set := w.Current()
				a, _ := set.Get("a")
				b, _ := set.Get("b")
				if string(a.Bytes()) != string(b.Bytes()) {
					t.Errorf("mixed Set: a=%s b=%s", a.Bytes(), b.Bytes())
					return
				}
				seen.Add(1)
				runtime.Gosched()
			}
		})
	}
	// A second loader races the swaps directly, through the files.
	wg.Go(func() {
		for !stop.Load() {
			set, err := secrets.Load(kubeSpecs(kube.dir), nil)
			if err != nil {
				continue // the version being read was removed: a failed load, never a mixed one
			}
			if v := values(set); v["a"] != v["b"] {
				t.Errorf("mixed load: %v", v)
				return
			}
		}
	})
	for i := 1; i <= 100; i++ {
		v := strings.Repeat("x", i%7) + string(rune('a'+i%26))
		kube.update(map[string]string{"a": v, "b": v})
		_ = w.Reload()
	}
	stop.Store(true)
	wg.Wait()
	if got := values(w.Current()); got["a"] != got["b"] || seen.Load() == 0 {
		t.Fatalf("final %v, %d reads", got, seen.Load())
	}
}

func TestWatcherRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		kube := newKubeVolume(t, map[string]string{"a": "a1", "b": "b1"})
		file := writeFile(t, filepath.Join(t.TempDir(), "f"), "f1")
		specs := kubeSpecs(kube.dir)
		specs["f"] = secrets.Spec{File: file}
		var rec reloads
		w, err := secrets.NewWatcher(specs, nil, rec.hook)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- w.Run(ctx, 10*time.Second) }()

		// No change: polls do not reload.
		time.Sleep(35 * time.Second)
		synctest.Wait()
		if n := len(rec.get()); n != 0 {
			t.Fatalf("%d reloads without a change", n)
		}

		// A kubelet swap is seen at the next poll, not before.
		kube.update(map[string]string{"a": "a2", "b": "b2"})
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if values(w.Current())["a"] != "a1" {
			t.Fatal("reloaded before the poll")
		}
		time.Sleep(6 * time.Second)
		synctest.Wait()
		if got := values(w.Current()); got["a"] != "a2" || got["b"] != "b2" || len(rec.get()) != 1 {
			t.Fatalf("after the swap: %v, %d reloads", got, len(rec.get()))
		}

		// A file rewritten in place.
		writeFile(t, file, "f2-longer")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := values(w.Current())["f"]; got != "f2-longer" {
			t.Fatalf("after the rewrite: f=%s", got)
		}

		// A broken source is retried, and reported, at every poll until it is repaired.
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Second)
		synctest.Wait()
		calls := rec.get()
		if len(calls) != 4 || !errors.Is(calls[2].err, secrets.ErrNotFound) || !errors.Is(calls[3].err, secrets.ErrNotFound) {
			t.Fatalf("calls while broken = %+v", calls)
		}
		if got := values(w.Current())["f"]; got != "f2-longer" {
			t.Fatalf("while broken: f=%s", got)
		}
		writeFile(t, file, "f3")
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if got := values(w.Current())["f"]; got != "f3" || len(rec.get()) != 5 {
			t.Fatalf("after the repair: f=%s, %d calls", got, len(rec.get()))
		}

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

func TestWatcherRunBadInterval(t *testing.T) {
	w, err := secrets.NewWatcher(map[string]secrets.Spec{"a": {Value: "v"}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Run(t.Context(), 0); err == nil {
		t.Fatal("Run accepted a zero interval")
	}
}
