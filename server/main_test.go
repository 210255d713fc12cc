package server

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/secretprov/secretprov/internal/obs"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/secrets"
)

// capture receives, at debug level, every log line and audit record of every server the tests
// start. TestMain searches it, and every metric registry, for the secret values afterwards.
var capture = &simtest.LogBuffer{}

var (
	metricsMu  sync.Mutex
	allMetrics []*obs.Metrics
)

func captureLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(capture, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newMetrics() *obs.Metrics {
	m := obs.NewMetrics()
	metricsMu.Lock()
	allMetrics = append(allMetrics, m)
	metricsMu.Unlock()
	return m
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := checkNoSecretLeaked(); err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: secret leak check: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkNoSecretLeaked searches all log, audit and metrics output of the run for the secret
// values, raw, hex and base64.
func checkNoSecretLeaked() error {
	var all strings.Builder
	all.WriteString(capture.String())
	metricsMu.Lock()
	for _, m := range allMetrics {
		rec := httptest.NewRecorder()
		obs.AdminHandler(m, nil).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		all.WriteString(rec.Body.String())
	}
	metricsMu.Unlock()
	text := all.String()
	// Sanity: when something was provisioned, its version (not its value) is in the output.
	if strings.Contains(text, `"released"`) && !strings.Contains(text, secrets.Version([]byte(secretDefault))) {
		return fmt.Errorf("secrets were released but no record names the default secret's version")
	}
	for _, s := range []string{secretDefault, secretDB, secretRotated} {
		trimmed := strings.TrimRight(s, "\x00")
		forms := []string{
			trimmed, hex.EncodeToString([]byte(trimmed)), strings.ToUpper(hex.EncodeToString([]byte(trimmed))),
			base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte(trimmed)),
		}
		for _, f := range forms {
			if strings.Contains(text, f) {
				return fmt.Errorf("found %q (a form of a secret value) in the log, audit or metrics output", f)
			}
		}
	}
	return nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
