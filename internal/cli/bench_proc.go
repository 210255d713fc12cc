package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// procCPUTime is the user+system CPU time of process pid so far, from /proc/PID/stat (Linux).
func procCPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%s/stat", pidOrSelf(pid)))
	if err != nil {
		return 0, fmt.Errorf("bench: server CPU time: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces: count from after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("bench: server CPU time: malformed /proc stat")
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(fields) < 13 {
		return 0, errors.New("bench: server CPU time: short /proc stat")
	}
	var ticks uint64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseUint(string(f), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: server CPU time: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// residentBytes is the resident set size (VmRSS) of process pid, or of this process when pid
// is 0, from /proc/PID/status (Linux).
func residentBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%s/status", pidOrSelf(pid)))
	if err != nil {
		return 0, fmt.Errorf("bench: resident memory: %w", err)
	}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: resident memory: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("bench: resident memory: no VmRSS line")
}

// pidOrSelf names the process in /proc: pid, or "self" for 0.
func pidOrSelf(pid int) string {
	if pid == 0 {
		return "self"
	}
	return strconv.Itoa(pid)
}

func maxProcs() int { return runtime.GOMAXPROCS(0) }
