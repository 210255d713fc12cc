//go:build unix

package client

import "syscall"

func sysExec(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
