package simtest_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

func TestHelpersRoundTrip(t *testing.T) {
	w, dir := simtest.WorldIn(t, sim.Options{})
	for _, tee := range []quote.TEE{quote.TEESGX, quote.TEETDX} {
		raw := simtest.Quote(t, w, tee, pcs.StatusOutOfDate, sim.DefaultIdentity(), [64]byte{9})
		res, err := verify.Quote(raw, simtest.Bundle(t, w, tee), simtest.At(w), verify.WithRoot(w.Root()))
		if err != nil || res.TCBStatus != pcs.StatusOutOfDate {
			t.Fatalf("%s: %v %v", tee, res, err)
		}
		b, err := pcs.ParseBundleJSON(simtest.BundleJSON(t, w, tee))
		if err != nil {
			t.Fatal(err)
		}
		// The same world, reopened from its directory, verifies the quote the same way.
		w2 := simtest.Open(t, dir)
		res, err = verify.Quote(raw, b, simtest.At(w2), verify.WithRoot(w2.Root()))
		if err != nil || res.TCBStatus != pcs.StatusOutOfDate {
			t.Fatalf("%s reopened: %v %v", tee, res, err)
		}
	}
}

func TestPCSHelper(t *testing.T) {
	w := simtest.World(t)
	srv, faults := simtest.PCSWithFaults(t, w)
	if srv.Listener.Addr().String()[:10] != "127.0.0.1:" {
		t.Errorf("PCS listens on %s, want 127.0.0.1", srv.Listener.Addr())
	}
	url := srv.URL + sim.SGXBasePath + "/tcb?fmspc=" + sim.DefaultSGXFMSPC.String()
	resp, err := srv.Client().Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if _, err := pcs.ParseTCBInfo(body); err != nil {
		t.Fatal(err)
	}
	if faults.Requests(sim.SGXBasePath+"/tcb") != 1 {
		t.Errorf("requests = %d", faults.Requests(sim.SGXBasePath+"/tcb"))
	}
}

func TestForgeHelpers(t *testing.T) {
	w := simtest.WorldWith(t, sim.Options{})
	p := simtest.Platform(t, w, quote.TEESGX, pcs.StatusUpToDate)
	simtest.Must(t, w.Revoke(p.PCK()))
	raw := simtest.QuoteFrom(t, p.Enclave(sim.DefaultIdentity()), [64]byte{})
	_, err := verify.Quote(raw, simtest.Bundle(t, w, quote.TEESGX), simtest.At(w), verify.WithRoot(w.Root()))
	if !errors.Is(err, verify.ErrPCKRevoked) {
		t.Fatalf("err = %v, want pck_revoked", err)
	}
}

// failRecorder is a testing.TB that records Fatal instead of stopping.
type failRecorder struct {
	testing.TB
	failed bool
}

func (f *failRecorder) Fatalf(string, ...any) { f.failed = true }
func (f *failRecorder) Helper()               {}

func TestHelpersFailTheTest(t *testing.T) {
	w := simtest.WorldWith(t, sim.Options{SGXLevels: sim.DefaultSGXLevels()[:1]})
	rec := &failRecorder{TB: t}
	simtest.Platform(rec, w, quote.TEESGX, pcs.StatusOutOfDate)
	if !rec.failed {
		t.Error("Platform did not fail the test for a missing platform")
	}
	rec = &failRecorder{TB: t}
	simtest.Open(rec, t.TempDir())
	if !rec.failed {
		t.Error("Open did not fail the test for an empty directory")
	}
}
