package simtest

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// LogBuffer collects the output of a logger, an audit writer or a command while the test reads
// it: a bytes.Buffer safe for concurrent writers and readers. The zero value is ready to use.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p; it never fails.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Cap returns the capacity of the buffer: the heap it holds, which a test that measures memory
// subtracts from what it attributes to the code under test.
func (l *LogBuffer) Cap() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Cap()
}

// Lines returns the complete lines written so far, without their newline and without blank
// lines. A line still being written (no newline yet) is not returned.
func (l *LogBuffer) Lines() []string {
	s := l.String()
	end := strings.LastIndexByte(s, '\n')
	if end < 0 {
		return nil
	}
	var out []string
	for line := range strings.SplitSeq(s[:end], "\n") {
		if strings.TrimSpace(line) != "" {
			out = append(out, line)
		}
	}
	return out
}

// Objects decodes the complete lines that are JSON objects (slog's JSON handler, audit records)
// and skips the others, for output that mixes them.
func (l *LogBuffer) Objects() []map[string]any {
	var out []map[string]any
	for _, line := range l.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m != nil {
			out = append(out, m)
		}
	}
	return out
}

// JSONLines decodes every complete line of l as a JSON value of type T, in order; a line that
// does not decode fails the test.
func JSONLines[T any](t testing.TB, l *LogBuffer) []T {
	t.Helper()
	var out []T
	for _, line := range l.Lines() {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("simtest: JSON line %q: %v", line, err)
		}
		out = append(out, v)
	}
	return out
}
