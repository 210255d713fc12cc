package attest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestTSMQuote(t *testing.T) {
	rd := reportData(7, 8)
	tests := []struct {
		name       string
		fake       func(f *fakeTSM)
		root       func(t *testing.T, root string) // replaces the report directory setup
		want       func(t testing.TB) []byte       // the quote, when wantErr is nil
		wantErr    error
		wantErr2   error // a second error the result must also match
		wantWrites int32
		wantLeft   bool // the entry stays behind (rmdir failed)
	}{
		{name: "tdx_guest", want: func(t testing.TB) []byte { return tdxQuote(t, rd) }, wantWrites: 1},
		{name: "outblob of exactly 64 KiB", fake: func(f *fakeTSM) {
			f.outblob = func(int, []byte) []byte { return padTo(tdxQuote(f.t, rd), MaxTSMReportSize) }
		}, want: func(t testing.TB) []byte { return padTo(tdxQuote(t, rd), MaxTSMReportSize) }, wantWrites: 1},
		{name: "concurrent writer once, then a clean retry", fake: func(f *fakeTSM) {
			f.step = func(n int) uint64 {
				if n == 1 {
					return 2 // someone else wrote inblob too
				}
				return 1
			}
		}, want: func(t testing.TB) []byte { return tdxQuote(t, rd) }, wantWrites: 2},
		{name: "concurrent writer every time", fake: func(f *fakeTSM) {
			f.step = func(int) uint64 { return 2 }
		}, wantErr: ErrInterleaved, wantWrites: 2},
		{name: "inblob write dropped (generation unchanged)", fake: func(f *fakeTSM) {
			f.step = func(int) uint64 { return 0 }
		}, wantErr: ErrInterleaved, wantWrites: 2},
		{name: "outblob over other report data", fake: func(f *fakeTSM) {
			f.outblob = func(int, []byte) []byte { return tdxQuote(f.t, reportData(0, 0)) }
		}, wantErr: ErrInterleaved, wantWrites: 2},
		{name: "no report directory", root: func(t *testing.T, root string) {
			if err := os.Remove(root); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotInEnclave},
		{name: "report directory is a file", root: func(t *testing.T, root string) {
			if err := os.Remove(root); err != nil {
				t.Fatal(err)
			}
			writeFile(t, root, nil)
		}, wantErr: ErrNotInEnclave},
		{name: "sev_guest", fake: func(f *fakeTSM) { f.provider = "sev_guest" }, wantErr: ErrUnsupported},
		{name: "no provider attribute", fake: func(f *fakeTSM) { f.provider = "" }, wantErr: ErrUnsupported},
		{name: "generation not a number", fake: func(f *fakeTSM) { f.genText = "one\n" }, wantErr: strconv.ErrSyntax},
		{name: "no inblob", fake: func(f *fakeTSM) { f.noInblob = true }, wantErr: fs.ErrNotExist},
		{name: "empty outblob", fake: func(f *fakeTSM) {
			f.outblob = func(int, []byte) []byte { return nil }
		}, wantErr: ErrBadQuote, wantWrites: 1},
		{name: "short outblob", fake: func(f *fakeTSM) {
			f.outblob = func(int, []byte) []byte { return tdxQuote(f.t, rd)[:600] }
		}, wantErr: ErrBadQuote, wantWrites: 1},
		{name: "outblob over 64 KiB", fake: func(f *fakeTSM) {
			f.outblob = func(int, []byte) []byte { return padTo(tdxQuote(f.t, rd), MaxTSMReportSize+1) }
		}, wantErr: ErrBadQuote, wantWrites: 1},
		{name: "entry cannot be removed", fake: func(f *fakeTSM) { f.keep = true },
			wantErr: syscall.ENOTEMPTY, wantWrites: 1, wantLeft: true},
		{name: "bad provider and entry cannot be removed", fake: func(f *fakeTSM) { f.keep = true; f.provider = "sev_guest" },
			wantErr: ErrUnsupported, wantErr2: syscall.ENOTEMPTY, wantLeft: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "report")
			mkdir(t, root)
			if tc.root != nil {
				tc.root(t, root)
			}
			f := newFakeTSM(t)
			if tc.fake != nil {
				tc.fake(f)
			}
			q, err := NewTSM(WithTSMDir(root), withHooks(f.hooks())).Quote(t.Context(), rd)
			if got := f.writes.Load(); got != tc.wantWrites {
				t.Errorf("inblob written %d times, want %d", got, tc.wantWrites)
			}
			if tc.root == nil {
				if left := entriesLeft(t, root); (len(left) > 0) != tc.wantLeft {
					t.Errorf("report directory holds %q after Quote, want it empty: %v", left, !tc.wantLeft)
				}
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || (tc.wantErr2 != nil && !errors.Is(err, tc.wantErr2)) || q != nil {
					t.Fatalf("Quote = %d bytes, %v; want nil, error matching %v and %v", len(q), err, tc.wantErr, tc.wantErr2)
				}
				return
			}
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			if want := tc.want(t); !bytes.Equal(q, want) {
				t.Errorf("Quote returned %d bytes, not the kernel's %d", len(q), len(want))
			}
		})
	}
}

// TestTSMEntry checks what the kernel sees: a fresh entry per call, named for us, with exactly
// the report data in inblob.
func TestTSMEntry(t *testing.T) {
	root := t.TempDir()
	f := newFakeTSM(t)
	f.names = make(chan string, 2)
	var inblobs [][]byte
	f.outblob = func(_ int, in []byte) []byte {
		inblobs = append(inblobs, append([]byte(nil), in...))
		q := tdxQuote(t, [ReportDataSize]byte{})
		copy(q[tdxV4ReportData:], in)
		return q
	}
	tsm := NewTSM(WithTSMDir(root), withHooks(f.hooks()))
	for i := range 2 {
		if _, err := tsm.Quote(t.Context(), reportData(i, 0)); err != nil {
			t.Fatal(err)
		}
	}
	first, second := <-f.names, <-f.names
	if first == second || filepath.Dir(first) != root || !strings.HasPrefix(filepath.Base(first), "secretprov-") {
		t.Errorf("entries %q and %q: want two distinct secretprov-* entries in %s", first, second, root)
	}
	for i, in := range inblobs {
		if want := reportData(i, 0); !bytes.Equal(in, want[:]) {
			t.Errorf("inblob %d = %x, want %x", i, in, want)
		}
	}
}

func TestTSMQuoteContext(t *testing.T) {
	root := t.TempDir()
	f := newFakeTSM(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	q, err := NewTSM(WithTSMDir(root), withHooks(f.hooks())).Quote(ctx, reportData(1, 1))
	if !errors.Is(err, context.Canceled) || q != nil {
		t.Fatalf("Quote with a cancelled context = %d bytes, %v; want context.Canceled", len(q), err)
	}
	if n := f.entries.Load(); n != 0 {
		t.Errorf("a cancelled Quote created %d report entries", n)
	}
}

func TestTSMQuoteConcurrent(t *testing.T) {
	root := t.TempDir()
	f := newFakeTSM(t)
	tsm := NewTSM(WithTSMDir(root), withHooks(f.hooks()))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 10 {
				rd := reportData(i, j)
				q, err := tsm.Quote(t.Context(), rd)
				if err != nil {
					t.Errorf("goroutine %d call %d: %v", i, j, err)
					return
				}
				if !bytes.Equal(q[tdxV4ReportData:tdxV4ReportData+ReportDataSize], rd[:]) {
					t.Errorf("goroutine %d call %d: quote carries someone else's report data", i, j)
				}
			}
		})
	}
	wg.Wait()
	if left := entriesLeft(t, root); len(left) != 0 {
		t.Errorf("report directory holds %q, want it empty", left)
	}
}

func TestTSMProvider(t *testing.T) {
	tests := []struct {
		name     string
		provider string
		want     string
		wantErr  error
	}{
		{name: "tdx", provider: "tdx_guest", want: "tdx_guest"},
		{name: "sev", provider: "sev_guest", want: "sev_guest"},
		{name: "absent", wantErr: fs.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			f := newFakeTSM(t)
			f.provider = tc.provider
			got, err := NewTSM(WithTSMDir(root), withHooks(f.hooks())).Provider(t.Context())
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Provider = %q, %v; want error matching %v", got, err, tc.wantErr)
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("Provider = %q, %v; want %q", got, err, tc.want)
			}
			if left := entriesLeft(t, root); len(left) != 0 {
				t.Errorf("report directory holds %q, want it empty", left)
			}
		})
	}
	if _, err := NewTSM(WithTSMDir(filepath.Join(t.TempDir(), "missing"))).Provider(t.Context()); !errors.Is(err, ErrNotInEnclave) {
		t.Errorf("Provider without configfs-tsm = %v; want ErrNotInEnclave", err)
	}
}
