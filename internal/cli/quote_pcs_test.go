package cli

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// TestQuoteVerifyPCSURL verifies a simulated quote with collateral fetched over HTTP from the
// simulated PCS, and checks the outage path reports collateral_unavailable with its cause.
func TestQuoteVerifyPCSURL(t *testing.T) {
	w, dir := simtest.WorldIn(t, sim.Options{})
	srv := httptest.NewServer(sim.PCSHandler(w))
	defer srv.Close()
	q := simtest.Quote(t, w, quote.TEESGX, pcs.StatusSWHardeningNeeded, sim.Identity{}, [64]byte{1})
	qf := filepath.Join(t.TempDir(), "q.bin")
	if err := os.WriteFile(qf, q, 0o600); err != nil {
		t.Fatal(err)
	}
	at := simtest.At(w).Format(time.RFC3339)
	root := filepath.Join(dir, "root.pem")
	base := []string{"quote", "verify", "--quote", qf, "--root", root, "--at", at, "--json", "--pcs-kind", "pccs"}

	code, out, stderr := run(t, append(base, "--pcs-url", srv.URL+"/sgx/certification/v4")...)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitOK {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if got["tcb_status"] != string(pcs.StatusSWHardeningNeeded) {
		t.Errorf("tcb_status = %v", got["tcb_status"])
	}

	srv.Close() // the PCS is down and nothing is cached
	code, out, _ = run(t, append(base, "--pcs-url", srv.URL+"/sgx/certification/v4", "--timeout", "3s")...)
	got = nil
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitRefused {
		t.Fatalf("outage: exit %d, stdout %q", code, out)
	}
	if got["reason"] != "collateral_unavailable" || got["mrenclave"] == nil || got["error"] == "" {
		t.Errorf("outage verdict = %v", got)
	}
}
