package client

import (
	"errors"
	"fmt"
	"os/exec"
)

// execve replaces the process image; syscall.Exec on Unix. A variable, so that the code around
// it is tested without replacing the test binary.
var execve = sysExec

// Exec replaces the current process with argv[0] (looked up in PATH like a shell does, with
// exec.LookPath) run with argv and exactly the environment env (see MergeEnv, EnvPairs). It
// returns only if the program cannot be found or started: on success the calling process,
// and every secret in its memory, is gone, and the new program keeps the process ID, the open
// standard streams and the enclave.
func Exec(argv []string, env []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("client: exec: no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("client: exec: %w", err)
	}
	if err := execve(path, argv, env); err != nil {
		return fmt.Errorf("client: exec %s: %w", path, err)
	}
	return nil // not reached with the real execve
}
