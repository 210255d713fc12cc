package attest

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The providers have ratls.Attester's method set (ratls cannot be imported here: it must never
// import attest, and attest keeps to the standard library).
var (
	_ interface {
		Quote(context.Context, [64]byte) ([]byte, error)
	} = (*Gramine)(nil)
	_ interface {
		Quote(context.Context, [64]byte) ([]byte, error)
	} = (*TSM)(nil)
	_ Quoter = (*Gramine)(nil)
	_ Quoter = (*TSM)(nil)
)

func TestGramineQuote(t *testing.T) {
	rd := reportData(1, 2)
	good := sgxQuote(t, rd)
	epid := append([]byte(nil), good...)
	epid[0] = 2
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		want    []byte // the quote, when wantErr is nil
		wantErr error
	}{
		{name: "dcap", setup: gramineFiles("dcap", good), want: good},
		{name: "dcap with newline", setup: gramineFiles("dcap\n", good), want: good},
		{name: "gramine 1.2 without attestation_type", setup: gramineFiles("", good), want: good},
		{name: "quote of exactly 8192 bytes", setup: gramineFiles("dcap", padTo(good, 8192)), want: padTo(good, 8192)},
		{name: "no /dev/attestation", setup: func(t *testing.T, dir string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotInEnclave},
		{name: "/dev/attestation is a file", setup: func(t *testing.T, dir string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, nil)
		}, wantErr: ErrNotInEnclave},
		{name: "gramine-direct: only keys", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "keys"))
		}, wantErr: ErrNotInEnclave},
		{name: "type none", setup: gramineFiles("none", nil), wantErr: ErrAttestationDisabled},
		{name: "type epid", setup: gramineFiles("epid", good), wantErr: ErrUnsupported},
		{name: "unknown type", setup: gramineFiles("maa", good), wantErr: ErrUnsupported},
		{name: "attestation_type too long", setup: gramineFiles(strings.Repeat("d", 65), good), wantErr: errTooLarge},
		{name: "quote of 8193 bytes", setup: gramineFiles("dcap", padTo(good, 8193)), wantErr: ErrBadQuote},
		{name: "empty quote", setup: gramineFiles("dcap", []byte{}), wantErr: ErrBadQuote},
		{name: "short quote", setup: gramineFiles("dcap", good[:300]), wantErr: ErrBadQuote},
		{name: "truncated signature data", setup: gramineFiles("dcap", good[:len(good)-1]), wantErr: ErrBadQuote},
		{name: "EPID quote under legacy gramine", setup: gramineFiles("", epid), wantErr: ErrUnsupported},
		{name: "quote over other report data", setup: gramineFiles("dcap", sgxQuote(t, reportData(9, 9))), wantErr: ErrInterleaved},
		{name: "quote missing although dcap", setup: gramineFiles("dcap", nil), wantErr: fs.ErrNotExist},
		{name: "user_report_data missing", setup: func(t *testing.T, dir string) {
			gramineFiles("dcap", good)(t, dir)
			if err := os.Remove(filepath.Join(dir, "user_report_data")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: fs.ErrNotExist},
		{name: "user_report_data not writable", setup: func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "attestation_type"), []byte("dcap"))
			writeFile(t, filepath.Join(dir, "quote"), good)
			mkdir(t, filepath.Join(dir, "user_report_data")) // EISDIR even for root
		}, wantErr: syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "attestation")
			mkdir(t, dir)
			tc.setup(t, dir)
			q, err := NewGramine(WithGramineDir(dir)).Quote(t.Context(), rd)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || q != nil {
					t.Fatalf("Quote = %d bytes, %v; want nil, error matching %v", len(q), err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Quote: %v", err)
			}
			if !bytes.Equal(q, tc.want) {
				t.Errorf("Quote returned %d bytes, not the device's %d", len(q), len(tc.want))
			}
			if got := readFile(t, filepath.Join(dir, "user_report_data")); !bytes.Equal(got, rd[:]) {
				t.Errorf("user_report_data = %x, want %x", got, rd)
			}
		})
	}
}

func TestGramineType(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		want    string
		wantErr error
	}{
		{name: "dcap", setup: gramineFiles("dcap", nil), want: "dcap"},
		{name: "none", setup: gramineFiles("none", nil), want: "none"},
		{name: "epid", setup: gramineFiles("epid\n", nil), want: "epid"},
		{name: "absent (gramine 1.2)", setup: gramineFiles("", nil), want: ""},
		{name: "no /dev/attestation", setup: func(t *testing.T, dir string) {
			if err := os.Remove(dir); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotInEnclave},
		{name: "unreadable", setup: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "attestation_type"))
		}, wantErr: syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "attestation")
			mkdir(t, dir)
			tc.setup(t, dir)
			got, err := NewGramine(WithGramineDir(dir)).Type()
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Type = %q, %v; want error matching %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Type = %q, %v; want %q, nil", got, err, tc.want)
			}
		})
	}
}

func TestGramineQuoteContext(t *testing.T) {
	rd := reportData(3, 4)
	dir := t.TempDir()
	gramineFiles("dcap", sgxQuote(t, rd))(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	q, err := NewGramine(WithGramineDir(dir)).Quote(ctx, rd)
	if !errors.Is(err, context.Canceled) || q != nil {
		t.Fatalf("Quote with a cancelled context = %d bytes, %v; want context.Canceled", len(q), err)
	}
	if got := readFile(t, filepath.Join(dir, "user_report_data")); len(got) != 0 {
		t.Errorf("a cancelled Quote wrote user_report_data (%d bytes)", len(got))
	}
}

// TestGramineQuoteWaitCancelled: a caller waiting for the device gives up when its context ends,
// while another request holds the device.
func TestGramineQuoteWaitCancelled(t *testing.T) {
	dir := t.TempDir()
	gramineFiles("dcap", nil)(t, dir)
	inside, release := make(chan struct{}), make(chan struct{})
	device := fakeGramineDevice(t)
	holder := NewGramine(WithGramineDir(dir), withHooks(hooks{written: func(d string) {
		close(inside)
		<-release
		device(d)
	}}))
	done := make(chan error, 1)
	go func() {
		_, err := holder.Quote(context.Background(), reportData(5, 0))
		done <- err
	}()
	<-inside
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := NewGramine(WithGramineDir(dir)).Quote(ctx, reportData(5, 1))
	close(release)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Quote while the device is busy = %v; want context.DeadlineExceeded", err)
	}
	if err := <-done; err != nil {
		t.Errorf("holder's Quote: %v", err)
	}
}

// TestGramineQuoteConcurrent runs many Quote calls through two Gramine values on one fake device.
// The fake turns user_report_data into quote when told the data was written; if two requests
// interleaved, one of them would read the other's quote (ErrInterleaved) or the fake would see
// two requests inside the device at once.
func TestGramineQuoteConcurrent(t *testing.T) {
	dir := t.TempDir()
	gramineFiles("dcap", nil)(t, dir)
	device := fakeGramineDevice(t)
	var inside atomic.Int32
	h := hooks{written: func(d string) {
		if inside.Add(1) != 1 {
			t.Error("two requests inside the attestation device at once")
		}
		runtime.Gosched()
		device(d)
		inside.Add(-1)
	}}
	gs := []*Gramine{NewGramine(WithGramineDir(dir), withHooks(h)), NewGramine(WithGramineDir(dir), withHooks(h))}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for j := range 25 {
				rd := reportData(i, j)
				q, err := gs[i%2].Quote(t.Context(), rd)
				if err != nil {
					t.Errorf("goroutine %d call %d: %v", i, j, err)
					return
				}
				if !bytes.Equal(q[sgxV3ReportData:sgxV3ReportData+ReportDataSize], rd[:]) {
					t.Errorf("goroutine %d call %d: quote carries someone else's report data", i, j)
				}
			}
		})
	}
	wg.Wait()
}

func TestGramineSetKey(t *testing.T) {
	key := bytes.Repeat([]byte{0xa5}, KeySize)
	long := strings.Repeat("k", MaxKeyNameLen)
	tests := []struct {
		name    string
		keyName string
		key     []byte
		setup   func(t *testing.T, dir string)
		wantErr error
	}{
		{name: "default", keyName: "default", key: key},
		{name: "255-byte name", keyName: long, key: key},
		{name: "empty name", keyName: "", key: key, wantErr: ErrInvalidKey},
		{name: "256-byte name", keyName: long + "k", key: key, wantErr: ErrInvalidKey},
		{name: "slash", keyName: "../quote", key: key, wantErr: ErrInvalidKey},
		{name: "dot", keyName: ".", key: key, wantErr: ErrInvalidKey},
		{name: "dot dot", keyName: "..", key: key, wantErr: ErrInvalidKey},
		{name: "NUL", keyName: "de\x00fault", key: key, wantErr: ErrInvalidKey},
		{name: "15 bytes", keyName: "default", key: key[:15], wantErr: ErrInvalidKey},
		{name: "17 bytes", keyName: "default", key: append(key[:16:16], 0), wantErr: ErrInvalidKey},
		{name: "32 hex chars (Gramine 1.2 form)", keyName: "default", key: []byte("ffeeddccbbaa99887766554433221100"), wantErr: ErrInvalidKey},
		{name: "nil key", keyName: "default", wantErr: ErrInvalidKey},
		{name: "unknown key", keyName: "other", key: key, wantErr: fs.ErrNotExist},
		{name: "no /dev/attestation", keyName: "default", key: key, setup: func(t *testing.T, dir string) {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
		}, wantErr: ErrNotInEnclave},
		{name: "key not writable", keyName: "default", key: key, setup: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "keys", "default")); err != nil {
				t.Fatal(err)
			}
			mkdir(t, filepath.Join(dir, "keys", "default"))
		}, wantErr: syscall.EISDIR},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "attestation")
			mkdir(t, filepath.Join(dir, "keys"))
			for _, n := range []string{"default", long} {
				writeFile(t, filepath.Join(dir, "keys", n), nil)
			}
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			err := NewGramine(WithGramineDir(dir)).SetKey(tc.keyName, tc.key)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("SetKey = %v; want error matching %v", err, tc.wantErr)
				}
				if err != nil && len(tc.key) > 0 && strings.Contains(err.Error(), string(tc.key)) {
					t.Errorf("the error reveals the key")
				}
				return
			}
			if err != nil {
				t.Fatalf("SetKey: %v", err)
			}
			if got := readFile(t, filepath.Join(dir, "keys", tc.keyName)); !bytes.Equal(got, tc.key) {
				t.Errorf("keys/%s holds %d bytes, not the key", tc.keyName, len(got))
			}
		})
	}
}
