package client

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

func TestBackoffPause(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		r    int
		u    float64
		want time.Duration
	}{
		{"defaults, first", Backoff{}, 0, 0, 500 * time.Millisecond},
		{"defaults, third", Backoff{}, 2, 0, 2 * time.Second},
		{"defaults, capped", Backoff{}, 10, 0, 10 * time.Second},
		{"defaults, full jitter draw", Backoff{}, 0, 0.999999, 250 * time.Millisecond},
		{"no jitter", Backoff{Initial: time.Second, Jitter: -1}, 1, 0.9, 2 * time.Second},
		{"factor 1", Backoff{Initial: time.Second, Factor: 1, Jitter: -1}, 7, 0, time.Second},
		{"max below initial", Backoff{Initial: 3 * time.Second, Max: time.Second, Jitter: -1}, 0, 0, 3 * time.Second},
		{"huge round", Backoff{Jitter: -1}, 5000, 0, 10 * time.Second},
	}
	for _, tc := range tests {
		got := tc.b.norm().pause(tc.r, tc.u)
		if d := got - tc.want; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("%s: pause = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// Exec looks the program up in PATH and hands execve the full path, argv unchanged and env.
func TestExecCallsExecve(t *testing.T) {
	var gotPath string
	var gotArgv, gotEnv []string
	boom := errors.New("exec format error")
	execve = func(path string, argv, env []string) error {
		gotPath, gotArgv, gotEnv = path, argv, env
		return boom
	}
	t.Cleanup(func() { execve = sysExec })
	want, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh in PATH")
	}
	err = Exec([]string{"sh", "-c", "true"}, []string{"A=1"})
	if !errors.Is(err, boom) {
		t.Errorf("Exec error %v, want the execve error wrapped", err)
	}
	if gotPath != want || !slices.Equal(gotArgv, []string{"sh", "-c", "true"}) || !slices.Equal(gotEnv, []string{"A=1"}) {
		t.Errorf("execve(%q, %q, %q)", gotPath, gotArgv, gotEnv)
	}
}

// rw reads the server's bytes from r and discards what the client writes.
type rw struct{ io.Reader }

func (rw) Write(p []byte) (int, error) { return len(p), nil }

// The client's side of the exchange on arbitrary server bytes: no panic, and a success always
// carries exactly the names asked for, in order, each with a non-empty value.
func FuzzExchange(f *testing.F) {
	names := []string{"default", "db"}
	var named, refusal, v1 bytes.Buffer
	_ = wire.WriteNamedResponse(&named, []wire.Entry{
		{Name: "default", Status: wire.StatusFound, Value: []byte("A")},
		{Name: "db", Status: wire.StatusNotGranted, Reason: "secret_not_granted"},
	}, wire.Limits{})
	_ = wire.WriteRefusal(&refusal, "identity_mismatch")
	_ = wire.WriteV1Response(&v1, []byte("A_SIMPLE_SECRET\x00"))
	for _, seed := range [][]byte{named.Bytes(), refusal.Bytes(), v1.Bytes(), nil} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, b []byte, v1 bool) {
		lim := wire.Limits{MaxSecretSize: 4096, MaxTotalSize: 8192}
		var got []secrets.Secret
		var err error
		want := names
		if v1 {
			want = []string{DefaultSecretName}
			got, err = exchangeV1(rw{bytes.NewReader(b)}, "s:1", lim)
		} else {
			got, err = exchangeNamed(rw{bytes.NewReader(b)}, "s:1", names, lim)
		}
		if err != nil {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("%d secrets for %d names", len(got), len(want))
		}
		for i, s := range got {
			if s.Name() != want[i] || s.Len() == 0 {
				t.Fatalf("secret %d: %s", i, s)
			}
		}
	})
}
