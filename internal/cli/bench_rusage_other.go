//go:build !unix

package cli

import (
	"errors"
	"time"
)

var errNoRusage = errors.New("bench: CPU time and file limits are measured on Unix only")

func selfCPUTime() (time.Duration, error) { return 0, errNoRusage }

func raiseNoFile(uint64) error { return errNoRusage }

func collectOnSignal() func() { return func() {} }

func askCollect(int) error { return errNoRusage }
