//go:build unix

package cli

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

// selfCPUTime is the user+system CPU time of this process so far (getrusage).
func selfCPUTime() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("bench: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// raiseNoFile makes sure this process may open n file descriptors: it raises the soft limit,
// and the hard limit too when the process may (CAP_SYS_RESOURCE).
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur >= n {
		return nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(lim.Max, n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	// Not allowed above the hard limit: take what there is and say what was missing.
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if lim.Cur < n {
		return fmt.Errorf("bench: %d open files needed, the hard limit is %d and this process may not raise it", n, lim.Max)
	}
	return nil
}

// collectOnSignal makes this process collect its garbage and return the free memory to the
// system on every SIGUSR1 until stop is called ("bench serve", for "bench idle" readings).
func collectOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				debug.FreeOSMemory() // runs a full collection first
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}

// askCollect sends SIGUSR1 to pid (a "bench serve" process).
func askCollect(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGUSR1); err != nil {
		return fmt.Errorf("bench: signal server %d: %w", pid, err)
	}
	return nil
}
