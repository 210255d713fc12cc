//go:build !unix

package client

import (
	"errors"
	"runtime"
)

func sysExec(string, []string, []string) error {
	return errors.New("replacing the process is not supported on " + runtime.GOOS)
}
