package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

func TestPrefetchReadiness(t *testing.T) {
	w := simtest.World(t)
	srv := simtest.PCS(t, w)
	known := simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate).Key()
	unknown := known
	unknown.FMSPC = pcs.FMSPC{0xde, 0xad}
	for _, tc := range []struct {
		name      string
		keys      []pcs.Key
		wantReady bool
	}{
		{"known platform", []pcs.Key{known}, true},
		{"platform the PCS does not know", []pcs.Key{known, unknown}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := collateral.NewClient(collateral.ClientConfig{BaseURL: srv.URL + sim.SGXBasePath, Kind: collateral.ServicePCCS, HTTPClient: &http.Client{}, Attempts: 1})
			if err != nil {
				t.Fatal(err)
			}
			cache, err := collateral.NewCache(collateral.Config{Source: src, Root: w.Root()})
			if err != nil {
				t.Fatal(err)
			}
			run, ready := prefetchThenRun(cache, tc.keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if ready(context.Background()) == nil {
				t.Fatal("ready before the prefetch ran")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- run(ctx) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(10 * time.Second)
			for err := ready(ctx); err != nil && (tc.wantReady || errors.Is(err, errPrefetchPending)) && time.Now().Before(deadline); err = ready(ctx) {
				time.Sleep(20 * time.Millisecond)
			}
			if got := ready(ctx) == nil; got != tc.wantReady {
				t.Errorf("ready = %v (%v), want %v", got, ready(ctx), tc.wantReady)
			}
		})
	}
}
