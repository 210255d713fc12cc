package client_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/client"
)

// TestHelperProcess is not a test: it is the program the Exec tests run as a subprocess.
//   - CLIENT_HELPER=exec: print the PID, then Exec the test binary again in "print" mode with
//     exactly the environment HELPER_ENV (';'-separated); exit 3 if Exec returns.
//   - CLIENT_HELPER=print: print the PID, the arguments and the environment, exit 0.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("CLIENT_HELPER") {
	case "exec":
		fmt.Printf("before pid=%d\n", os.Getpid())
		env := strings.Split(os.Getenv("HELPER_ENV"), ";")
		err := client.Exec([]string{os.Args[0], "-test.run=^TestHelperProcess$", "--", "arg one"}, env)
		fmt.Printf("exec returned: %v\n", err)
		os.Exit(3)
	case "print":
		fmt.Printf("after pid=%d\nargs=%q\n", os.Getpid(), os.Args[1:])
		for _, kv := range os.Environ() {
			fmt.Printf("env %s\n", kv)
		}
		os.Exit(0)
	}
}

// Exec replaces the process: same PID, the new arguments, exactly the environment given.
func TestExecReplacesProcess(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = []string{
		"CLIENT_HELPER=exec",
		"PARENT_ONLY=must-not-survive",
		"HELPER_ENV=CLIENT_HELPER=print;DB_PASSWORD=hunter2;SECRET_PROVISION_SECRET_STRING=A_SIMPLE_SECRET",
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 2 {
		t.Fatalf("helper output:\n%s", out)
	}
	before, _ := strings.CutPrefix(lines[0], "before ")
	after, _ := strings.CutPrefix(lines[1], "after ")
	if before != after || !strings.HasPrefix(before, "pid=") {
		t.Errorf("PID before and after Exec: %q, %q (not replaced in place?)", lines[0], lines[1])
	}
	got := string(out)
	for _, want := range []string{`"arg one"`, "env DB_PASSWORD=hunter2\n", "env SECRET_PROVISION_SECRET_STRING=A_SIMPLE_SECRET\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("the new program lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "PARENT_ONLY") || strings.Contains(got, "HELPER_ENV") {
		t.Errorf("the new program inherited variables not given to Exec:\n%s", got)
	}
}

func TestExecErrors(t *testing.T) {
	if err := client.Exec([]string{"secretprov-no-such-command"}, nil); !errors.Is(err, exec.ErrNotFound) {
		t.Errorf("missing command: %v, want exec.ErrNotFound", err)
	}
	if err := client.Exec(nil, nil); err == nil {
		t.Error("empty argv accepted")
	}
	// A file that exists but cannot be executed: LookPath refuses it before execve.
	f := t.TempDir() + "/not-executable"
	if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := client.Exec([]string{f}, nil); err == nil {
		t.Error("non-executable file accepted")
	}
}
