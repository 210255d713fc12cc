package cli

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// TestCollateralFetch: "collateral fetch" against the simulator's PCS writes a collateral JSON
// with which "quote verify --collateral" verifies the quote.
func TestCollateralFetch(t *testing.T) {
	now := time.Date(2030, 5, 1, 0, 0, 0, 0, time.UTC)
	w, err := sim.New(sim.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	faults := sim.NewFaults()
	srv := httptest.NewServer(sim.PCSHandler(w, sim.WithFaults(faults)))
	defer srv.Close()
	dir := t.TempDir()
	rootPath := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.Root().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	quotes := map[string]string{}
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		p, err := w.Platform(tee, pcs.StatusUpToDate)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := p.Enclave(sim.DefaultIdentity()).Quote(context.Background(), [64]byte{1})
		if err != nil {
			t.Fatal(err)
		}
		quotes[tee.String()] = filepath.Join(dir, tee.String()+".quote")
		if err := os.WriteFile(quotes[tee.String()], raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := []string{"--pcs-url", srv.URL + sim.SGXBasePath, "--root-crl-url", srv.URL + sim.RootCRLPath, "--root", rootPath}

	for tee, qpath := range quotes {
		t.Run(tee, func(t *testing.T) {
			out := filepath.Join(dir, tee+".json")
			code, stdout, stderr := run(t, append([]string{"collateral", "fetch", "--quote", qpath, "--out", out}, base...)...)
			if code != ExitOK {
				t.Fatalf("fetch: exit %d\n%s%s", code, stdout, stderr)
			}
			if !strings.Contains(stdout, "wrote collateral for "+tee+"/") || !strings.Contains(stderr, "WARNING") {
				t.Errorf("stdout %q, stderr %q", stdout, stderr)
			}
			code, stdout, stderr = run(t, "quote", "verify", "--quote", qpath, "--collateral", out, "--root", rootPath,
				"--at", now.Add(time.Hour).Format(time.RFC3339))
			if code != ExitOK {
				t.Errorf("verify with the fetched collateral: exit %d\n%s%s", code, stdout, stderr)
			}
		})
	}

	code, stdout, _ := run(t, append([]string{"collateral", "fetch", "--quote", quotes["sgx"], "--out", "-"}, base...)...)
	if code != ExitOK || !strings.HasPrefix(stdout, `{"pck_crl_issuer_chain":`) {
		t.Errorf("--out -: exit %d, %.60q", code, stdout)
	}

	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not a quote"), 0o600); err != nil {
		t.Fatal(err)
	}
	faults.Set("/", sim.Fault{Status: http.StatusServiceUnavailable})
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"service down", append([]string{"--quote", quotes["sgx"], "--out", filepath.Join(dir, "x.json"), "--timeout", "5s"}, base...), ExitRefused},
		{"garbage quote", append([]string{"--quote", garbage, "--out", filepath.Join(dir, "x.json")}, base...), ExitBadInput},
		{"missing out", append([]string{"--quote", quotes["sgx"]}, base...), ExitBadInput},
		{"bad kind", append([]string{"--quote", quotes["sgx"], "--out", "-", "--pcs-kind", "amd"}, base...), ExitBadInput},
		{"bad update", append([]string{"--quote", quotes["sgx"], "--out", "-", "--update", "late"}, base...), ExitBadInput},
		{"bad url", []string{"--quote", quotes["sgx"], "--out", "-", "--pcs-url", "nowhere"}, ExitBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, append([]string{"collateral", "fetch"}, tc.args...)...)
			if code != tc.want {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.want, stdout, stderr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.json")); !os.IsNotExist(err) {
		t.Error("a failed fetch left an output file")
	}
}
