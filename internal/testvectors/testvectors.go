// Package testvectors gives tests access to the real DCAP vectors (quotes from real Intel
// hardware and Intel-signed collateral) kept in testdata/. The files are byte-for-byte copies of
// ../shared/vectors; testdata/README.md states where each comes from and the verdict it must get.
package testvectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir is the absolute path of the vector directory.
func Dir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testvectors: cannot locate source file")
	}
	return filepath.Join(filepath.Dir(file), "testdata")
}

// Path returns the absolute path of a vector, e.g. Path("phala-dcap-qvl/sgx_quote").
func Path(name string) string { return filepath.Join(Dir(), filepath.FromSlash(name)) }

// Read returns the contents of a vector or fails the test.
func Read(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(Path(name))
	if err != nil {
		tb.Fatalf("testvectors: %v", err)
	}
	return b
}
