package collateral

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// TestDiskRestartOffline: a new cache over the same directory serves the persisted,
// re-verified items with the network down.
func TestDiskRestartOffline(t *testing.T) {
	s := newSimPCS(t)
	dir := filepath.Join(t.TempDir(), "cache")
	p := s.platform(t, quote.TEESGX)
	ctx := context.Background()
	first := newTestCache(t, s, Config{Dir: dir})
	if _, err := first.Collateral(ctx, p.Key()); err != nil {
		t.Fatal(err)
	}
	fmspc := sim.DefaultSGXFMSPC.String()
	want := []string{"pck_crl_processor.json", "qe_identity_sgx.json", "root_crl_global.json", "tcb_info_sgx_" + fmspc + ".json"}
	if got := dirFiles(t, dir); !slices.Equal(got, want) {
		t.Fatalf("cache directory holds %v, want %v", got, want)
	}
	checkMode(t, dir, 0o700)
	for _, name := range want {
		checkMode(t, filepath.Join(dir, name), 0o600)
	}

	client := s.client(t)
	s.srv.Close() // the network is down from now on
	rec := &recorder{}
	clock := &fakeClock{t: t0.Add(2 * time.Hour)}
	restarted := newTestCache(t, s, Config{Dir: dir, Source: client, Hooks: rec.hooks(), Now: clock.Now})
	if len(rec.errs) != 0 {
		t.Fatalf("errors loading the directory: %v", rec.errs)
	}
	if got := len(rec.sortedItems()); got != 4 {
		t.Errorf("%d items loaded, want 4", got)
	}
	q := quoteOf(t, p)
	b1, err := restarted.Collateral(ctx, p.Key())
	if err != nil {
		t.Fatalf("restart with the network down: %v", err)
	}
	if reason := verifyAt(t, s, restarted, q, t0.Add(2*time.Hour)); reason != "" {
		t.Errorf("verification after the restart: %s", reason)
	}
	// Past nextUpdate the network is tried, fails, and the old items are still served.
	late := t0.Add(40 * 24 * time.Hour)
	clock.Set(late)
	if b, err := restarted.Collateral(ctx, p.Key()); err != nil || b != b1 {
		t.Fatalf("past nextUpdate with the network down: %v, same bundle %v", err, b == b1)
	}
	if rec.errorMatching(ErrTransport) == nil {
		t.Error("the failed fetch was not reported")
	}
	if reason := verifyAt(t, s, restarted, q, late); reason != verify.ReasonCollateralExpired {
		t.Errorf("reason %q, want %s", reason, verify.ReasonCollateralExpired)
	}
}

// TestDiskBadFiles: unreadable, corrupted or tampered files are reported and skipped; the
// items are fetched again; unrelated files are ignored.
func TestDiskBadFiles(t *testing.T) {
	s := newSimPCS(t)
	dir := t.TempDir()
	p := s.platform(t, quote.TEESGX)
	ctx := context.Background()
	if _, err := newTestCache(t, s, Config{Dir: dir}).Collateral(ctx, p.Key()); err != nil {
		t.Fatal(err)
	}
	tcbFile := filepath.Join(dir, "tcb_info_sgx_"+sim.DefaultSGXFMSPC.String()+".json")
	qeFile := filepath.Join(dir, "qe_identity_sgx.json")
	pckFile := filepath.Join(dir, "pck_crl_processor.json")
	// Tamper with the TCB Info body (still valid JSON, signature no longer verifies).
	var r record
	if err := json.Unmarshal(readFile(t, tcbFile), &r); err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(r.Body, []byte(`"signature":"`)) + len(`"signature":"`)
	if r.Body[i] == '0' { // another hex digit
		r.Body[i] = '1'
	} else {
		r.Body[i] = '0'
	}
	writeJSON(t, tcbFile, r)
	writeFile(t, qeFile, []byte("{not json"))
	// A record under another item's file name.
	var pr record
	if err := json.Unmarshal(readFile(t, pckFile), &pr); err != nil {
		t.Fatal(err)
	}
	pr.Item = "pck_crl/platform"
	writeJSON(t, pckFile, pr)
	writeFile(t, filepath.Join(dir, "README"), []byte("hello"))
	writeFile(t, filepath.Join(dir, ".tmp-leftover.json-123"), []byte("partial"))

	s.faults.ResetCounters()
	rec := &recorder{}
	cache := newTestCache(t, s, Config{Dir: dir, Hooks: rec.hooks()})
	if err := rec.errorMatching(pcs.ErrSignature); err == nil {
		t.Error("the tampered TCB Info was not refused for its signature")
	}
	if len(rec.errs) != 3 {
		t.Errorf("%d load errors, want 3: %v", len(rec.errs), rec.errs)
	}
	for _, err := range rec.errs {
		if e, ok := errors.AsType[*Error](err); !ok || e.Op != "load" || !errors.Is(err, ErrInvalid) {
			t.Errorf("load error %v: want an *Error with Op load matching ErrInvalid", err)
		}
	}
	if _, err := cache.Collateral(ctx, p.Key()); err != nil {
		t.Fatal(err)
	}
	if got := s.requests(); got != [4]int{0, 1, 1, 1} {
		t.Errorf("requests %v: want the three bad items fetched again, the root CRL loaded", got)
	}
	if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != "" {
		t.Errorf("verification: %s", reason)
	}
}

// TestDiskUnusable: a cache directory that cannot be created or written is reported and the
// memory cache keeps working.
func TestDiskUnusable(t *testing.T) {
	s := newSimPCS(t)
	file := filepath.Join(t.TempDir(), "not-a-dir")
	writeFile(t, file, []byte("x"))
	rec := &recorder{}
	cache := newTestCache(t, s, Config{Dir: file, Hooks: rec.hooks()})
	if rec.errorMatching(ErrDisk) == nil {
		t.Error("an unusable directory at start was not reported")
	}
	p := s.platform(t, quote.TEESGX)
	if _, err := cache.Collateral(context.Background(), p.Key()); err != nil {
		t.Fatal(err)
	}
	saves := 0
	for _, err := range rec.errs {
		if e, ok := errors.AsType[*Error](err); ok && e.Op == "save" && errors.Is(err, ErrDisk) {
			saves++
		}
	}
	if saves != 4 {
		t.Errorf("%d save errors reported, want 4", saves)
	}
	if reason := verifyAt(t, s, cache, quoteOf(t, p), t0.Add(time.Hour)); reason != "" {
		t.Errorf("verification: %s", reason)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	s := newSimPCS(t)
	doc, err := s.client(t).Fetch(context.Background(), TCBInfoItem(quote.TEESGX, sim.DefaultSGXFMSPC, ""))
	if err != nil {
		t.Fatal(err)
	}
	e := &entry{item: doc.Item, doc: doc}
	b, err := marshalRecord(e, t0)
	if err != nil {
		t.Fatal(err)
	}
	back, fetched, err := parseRecord(b, doc.Item.fileName())
	if err != nil {
		t.Fatal(err)
	}
	if !sameDocument(doc, back) || back.Item != doc.Item || back.URL != doc.URL || !fetched.Equal(t0) {
		t.Error("record does not round-trip")
	}
	for name, bad := range map[string][]byte{
		"trailing":      append(append([]byte{}, b...), []byte(`{}`)...),
		"unknown field": []byte(`{"format":1,"item":"root_crl/global","extra":1}`),
		"format":        []byte(`{"format":2,"item":"root_crl/global","fetched":"2030-01-01T00:00:00Z"}`),
		"item":          []byte(`{"format":1,"item":"pckcert/x","fetched":"2030-01-01T00:00:00Z"}`),
		"chain":         []byte(`{"format":1,"item":"root_crl/global","fetched":"2030-01-01T00:00:00Z","issuer_chain":"junk"}`),
	} {
		if _, _, err := parseRecord(bad, "root_crl_global.json"); err == nil {
			t.Errorf("%s: parseRecord accepted %s", name, bad)
		}
	}
}

func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	return names
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", path, got, want)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, b)
}
