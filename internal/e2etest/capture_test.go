package e2etest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/internal/simtest"
)

// canary is in every secret value the tests provision, so that TestMain can search everything
// the run wrote for it: a random part makes a false positive impossible.
var canary = "LEAKCANARY-" + randomHex(12)

// secretValue returns the value of a test secret: the canary and a tag, so that a client can
// tell which secret (and which version) it got without printing it.
func secretValue(tag string) string { return canary + "-" + tag }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("e2etest: random: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// capture is everything observable the run produced outside the secrets' intended recipients:
// every log line (servers, clients, collateral cache, secrets watcher, at debug level), every
// audit record, every error message a client or a test received, and the metrics registries,
// scraped through the admin handler at the end. TestMain searches it for the canary.
var capture struct {
	logs      simtest.LogBuffer
	audit     simtest.LogBuffer
	errs      simtest.LogBuffer
	mu        sync.Mutex
	metrics   []*obs.Metrics
	delivered atomic.Int64 // secrets that reached their client (the check is not vacuous)
}

// logger returns a debug-level JSON logger writing to the capture.
func logger(component string) *slog.Logger {
	h := slog.NewJSONHandler(&capture.logs, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(h).With("component", component)
}

// newMetrics returns a registry whose /metrics output TestMain searches.
func newMetrics() *obs.Metrics {
	m := obs.NewMetrics()
	capture.mu.Lock()
	capture.metrics = append(capture.metrics, m)
	capture.mu.Unlock()
	return m
}

// noteErr records the text of an error a client or a test received.
func noteErr(err error) {
	if err != nil {
		fmt.Fprintln(&capture.errs, err.Error())
	}
}

// scrapeMetrics returns the Prometheus exposition of every registry, through obs.AdminHandler
// as a scraper sees it.
func scrapeMetrics() string {
	capture.mu.Lock()
	ms := append([]*obs.Metrics(nil), capture.metrics...)
	capture.mu.Unlock()
	var b strings.Builder
	for _, m := range ms {
		rec := httptest.NewRecorder()
		obs.AdminHandler(m, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b.WriteString(rec.Body.String())
	}
	return b.String()
}

// leakNeedles returns the forms in which s would be recognisable: raw, hex in both cases, and
// base64 (standard and URL alphabets) at each of the three alignments s can have inside a longer
// encoded string (the last, padding-dependent group left off).
func leakNeedles(s string) []string {
	out := []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))}
	for i := range 3 {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
			e := enc.EncodeToString([]byte(s[i:]))
			out = append(out, e[:len(e)-4])
		}
	}
	return out
}

// findLeak returns a description of the first form of the canary found in text, or "".
func findLeak(where, text string) string {
	for _, n := range leakNeedles(canary) {
		if i := strings.Index(text, n); i >= 0 {
			return fmt.Sprintf("%s contains a form of the secret canary at byte %d", where, i)
		}
	}
	return ""
}

// checkNoLeak searches every capture of the run.
func checkNoLeak() []string {
	var found []string
	for _, c := range []struct{ where, text string }{
		{"the logs", capture.logs.String()},
		{"the audit records", capture.audit.String()},
		{"the error messages", capture.errs.String()},
		{"the metrics", scrapeMetrics()},
	} {
		if f := findLeak(c.where, c.text); f != "" {
			found = append(found, f)
		}
	}
	return found
}

// goroutinesGone waits for every goroutine the tests started (servers, connections, client
// loops, cache refreshes, watchers, simulated PCS) to end; it prints the stacks of those left.
func goroutinesGone() bool {
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > 2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			fmt.Fprintf(os.Stderr, "FAIL: %d goroutines still running after the tests:\n%s\n",
				runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestMain runs the tests, then searches everything they produced for the canary. The search
// only counts when secrets were actually delivered during the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && !goroutinesGone() {
		code = 1
	}
	if code == 0 {
		if leaks := checkNoLeak(); len(leaks) > 0 {
			fmt.Fprintln(os.Stderr, "FAIL: secret leak check:", strings.Join(leaks, "; "))
			code = 1
		} else if capture.delivered.Load() > 0 && !strings.Contains(capture.audit.String(), `"released"`) {
			fmt.Fprintln(os.Stderr, "FAIL: secrets were delivered but no audit record says so")
			code = 1
		}
	}
	os.Exit(code)
}
