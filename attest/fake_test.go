package attest

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
)

// Offsets written independently of layout.go (spec/dcap-quote-verification.md §2.3–§2.5), so the
// fakes do not share a mistake with the code under test.
const (
	sgxV3ReportData = 368 // 48 + 320
	tdxV4ReportData = 568 // 48 + 520
	tdxV5ReportData = 574 // 48 + 6 + 520
)

// reportData returns distinct, recognisable report data for (a, b).
func reportData(a, b int) [ReportDataSize]byte {
	var rd [ReportDataSize]byte
	for i := range rd {
		rd[i] = byte(a*31 + b*7 + i)
	}
	binary.BigEndian.PutUint32(rd[:], uint32(a))
	binary.BigEndian.PutUint32(rd[4:], uint32(b))
	return rd
}

// splice returns a copy of a real quote vector with its report data replaced.
func splice(t testing.TB, vector string, off int, rd [ReportDataSize]byte) []byte {
	t.Helper()
	q := testvectors.Read(t, vector)
	copy(q[off:], rd[:])
	return q
}

// sgxQuote is a real SGX v3 quote (Phala's sample) carrying rd.
func sgxQuote(t testing.TB, rd [ReportDataSize]byte) []byte {
	return splice(t, "phala-dcap-qvl/sgx_quote", sgxV3ReportData, rd)
}

// tdxQuote is a real TDX v4 quote (Phala's sample) carrying rd.
func tdxQuote(t testing.TB, rd [ReportDataSize]byte) []byte {
	return splice(t, "phala-dcap-qvl/tdx_quote", tdxV4ReportData, rd)
}

// padTo returns q followed by zero bytes up to n bytes (real quotes are often padded so).
func padTo(q []byte, n int) []byte {
	return append(q[:len(q):len(q)], make([]byte, n-len(q))...)
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t testing.TB, path string) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gramineFiles lays out a fake /dev/attestation in dir: attestation_type (absent if typ is ""),
// an empty user_report_data, quote (absent if nil) and an empty keys directory.
func gramineFiles(typ string, quote []byte) func(t *testing.T, dir string) {
	return func(t *testing.T, dir string) {
		if typ != "" {
			writeFile(t, filepath.Join(dir, "attestation_type"), []byte(typ))
		}
		writeFile(t, filepath.Join(dir, "user_report_data"), nil)
		if quote != nil {
			writeFile(t, filepath.Join(dir, "quote"), quote)
		}
		mkdir(t, filepath.Join(dir, "keys"))
	}
}

// fakeGramineDevice plays Gramine: once the report data is written, the quote file carries it.
func fakeGramineDevice(t testing.TB) func(dir string) {
	template := sgxQuote(t, [ReportDataSize]byte{})
	return func(dir string) {
		rd, err := os.ReadFile(filepath.Join(dir, "user_report_data"))
		if err != nil || len(rd) != ReportDataSize {
			t.Errorf("fake gramine: user_report_data: %d bytes, %v", len(rd), err)
			return
		}
		q := append([]byte(nil), template...)
		copy(q[sgxV3ReportData:], rd)
		if err := os.WriteFile(filepath.Join(dir, "quote"), q, 0o644); err != nil {
			t.Errorf("fake gramine: %v", err)
		}
	}
}

// fakeTSM plays the kernel's configfs-tsm in an ordinary directory.
type fakeTSM struct {
	t        testing.TB
	provider string                                // "" = no provider attribute
	noInblob bool                                  // do not create inblob
	step     func(write int) uint64                // generation increment on the n-th write (1-based); nil = 1
	outblob  func(write int, inblob []byte) []byte // nil = a real TDX quote carrying inblob
	genText  string                                // if set, generation holds this text
	keep     bool                                  // leave the attribute files (rmdir then fails)
	writes   atomic.Int32                          // inblob writes seen
	entries  atomic.Int32                          // entries created
	names    chan string                           // if set, receives each entry path
	template []byte
}

func newFakeTSM(t testing.TB) *fakeTSM {
	return &fakeTSM{t: t, provider: "tdx_guest", template: tdxQuote(t, [ReportDataSize]byte{})}
}

func (f *fakeTSM) hooks() hooks {
	return hooks{created: f.created, written: f.written, removing: f.removing}
}

func (f *fakeTSM) created(entry string) {
	f.entries.Add(1)
	if f.names != nil {
		f.names <- entry
	}
	if f.provider != "" {
		writeFile(f.t, filepath.Join(entry, "provider"), []byte(f.provider+"\n"))
	}
	gen := "0\n"
	if f.genText != "" {
		gen = f.genText
	}
	writeFile(f.t, filepath.Join(entry, "generation"), []byte(gen))
	if !f.noInblob {
		writeFile(f.t, filepath.Join(entry, "inblob"), nil)
	}
}

func (f *fakeTSM) written(entry string) {
	n := int(f.writes.Add(1))
	in, err := os.ReadFile(filepath.Join(entry, "inblob"))
	if err != nil {
		f.t.Errorf("fake tsm: %v", err)
		return
	}
	var out []byte
	if f.outblob != nil {
		out = f.outblob(n, in)
	} else {
		out = append([]byte(nil), f.template...)
		copy(out[tdxV4ReportData:], in)
	}
	writeFile(f.t, filepath.Join(entry, "outblob"), out)
	if f.genText != "" {
		return
	}
	step := uint64(1)
	if f.step != nil {
		step = f.step(n)
	}
	gen, err := strconv.ParseUint(strings.TrimSpace(string(readFile(f.t, filepath.Join(entry, "generation")))), 10, 64)
	if err != nil {
		f.t.Errorf("fake tsm: %v", err)
	}
	writeFile(f.t, filepath.Join(entry, "generation"), []byte(strconv.FormatUint(gen+step, 10)+"\n"))
}

// removing makes the entry empty, as configfs does when the entry goes away.
func (f *fakeTSM) removing(entry string) {
	if f.keep {
		return
	}
	for _, name := range []string{"provider", "generation", "inblob", "outblob"} {
		if err := os.Remove(filepath.Join(entry, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			f.t.Errorf("fake tsm: %v", err)
		}
	}
}

// entriesLeft lists what is left in the fake report directory.
func entriesLeft(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}
