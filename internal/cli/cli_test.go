package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// run runs the CLI in-process and returns its exit status, stdout and stderr.
func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// golden compares got with testdata/name.golden, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s: output differs from %s\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

func TestVersionAndUsageErrors(t *testing.T) {
	if code, out, _ := run(t, "version"); code != ExitOK || !strings.HasPrefix(out, "secretprov ") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, _ := run(t, "--no-such-flag"); code != ExitBadInput {
		t.Errorf("unknown flag: exit %d, want %d", code, ExitBadInput)
	}
	if code, _, _ := run(t, "no-such-command"); code != ExitBadInput {
		t.Errorf("unknown command: exit %d, want %d", code, ExitBadInput)
	}
}
