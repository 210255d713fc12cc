package simtest_test

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/secretprov/secretprov/internal/simtest"
)

func TestLogBufferLines(t *testing.T) {
	tests := []struct {
		name      string
		writes    []string
		wantLines []string
		wantMsgs  []any // "msg" of the lines Objects decodes
	}{
		{"empty", nil, nil, nil},
		{"partial line only", []string{`{"msg":"a"`}, nil, nil},
		{"partial last line", []string{`{"msg":"a"}` + "\n" + `{"msg":"b"`}, []string{`{"msg":"a"}`}, []any{"a"}},
		{"split writes", []string{`{"msg":`, `"a"}` + "\n"}, []string{`{"msg":"a"}`}, []any{"a"}},
		{"blank lines", []string{"\n  \n" + `{"msg":"a"}` + "\n\n"}, []string{`{"msg":"a"}`}, []any{"a"}},
		{"mixed text", []string{"secretprov: starting\n", `{"msg":"a"}` + "\n", "[1,2]\nnull\n"},
			[]string{"secretprov: starting", `{"msg":"a"}`, "[1,2]", "null"}, []any{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var l simtest.LogBuffer
			for _, w := range tc.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := l.Lines(); !slices.Equal(got, tc.wantLines) {
				t.Errorf("Lines = %q, want %q", got, tc.wantLines)
			}
			var msgs []any
			for _, o := range l.Objects() {
				msgs = append(msgs, o["msg"])
			}
			if !slices.Equal(msgs, tc.wantMsgs) {
				t.Errorf("Objects msgs = %v, want %v", msgs, tc.wantMsgs)
			}
		})
	}
}

// TestLogBufferConcurrent: concurrent slog writers and a polling reader (run with -race); no
// line is lost or torn.
func TestLogBufferConcurrent(t *testing.T) {
	var l simtest.LogBuffer
	log := slog.New(slog.NewJSONHandler(&l, nil))
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				log.Info("line", "writer", w, "i", i)
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = l.Objects()
		}
	})
	wg.Wait()
	type rec struct {
		Msg    string `json:"msg"`
		Writer int    `json:"writer"`
		I      int    `json:"i"`
	}
	recs := simtest.JSONLines[rec](t, &l)
	seen := map[string]bool{}
	for _, r := range recs {
		if r.Msg != "line" {
			t.Errorf("record %+v", r)
		}
		seen[fmt.Sprint(r.Writer, "/", r.I)] = true
	}
	if len(recs) != writers*each || len(seen) != writers*each {
		t.Errorf("%d records, %d distinct; want %d", len(recs), len(seen), writers*each)
	}
	if got := len(l.String()); got == 0 {
		t.Error("String is empty")
	}
}

func TestJSONLinesFailsOnText(t *testing.T) {
	var l simtest.LogBuffer
	fmt.Fprintln(&l, `{"msg":"a"}`)
	fmt.Fprintln(&l, "not json")
	rec := &failRecorder{TB: t}
	simtest.JSONLines[map[string]any](rec, &l)
	if !rec.failed {
		t.Error("JSONLines accepted a line that is not JSON")
	}
	var ok simtest.LogBuffer
	fmt.Fprintln(&ok, `{"msg":"a"}`)
	if got := simtest.JSONLines[map[string]any](t, &ok); len(got) != 1 || got[0]["msg"] != "a" {
		t.Errorf("JSONLines = %v", got)
	}
}

// TestLogBufferCap: Cap reports the heap the buffer holds, at least what was written.
func TestLogBufferCap(t *testing.T) {
	var l simtest.LogBuffer
	if got := l.Cap(); got != 0 {
		t.Errorf("zero value Cap = %d, want 0", got)
	}
	line := strings.Repeat("x", 4096) + "\n"
	for range 4 {
		fmt.Fprint(&l, line)
	}
	if got, want := l.Cap(), 4*len(line); got < want {
		t.Errorf("Cap = %d after writing %d bytes", got, want)
	}
}
