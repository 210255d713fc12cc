package sim_test

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// The simulator's enclaves are RA-TLS attesters and its world is a collateral source.
var (
	_ ratls.Attester          = (*sim.Enclave)(nil)
	_ verify.CollateralSource = (*sim.World)(nil)
)

var tees = []quote.TEE{quote.TEESGX, quote.TEETDX}

// newWorld is a fresh in-memory world; sharedWorld is one world reused by read-only tests.
func newWorld(t testing.TB, opts sim.Options) *sim.World {
	t.Helper()
	w, err := sim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

var sharedWorldOnce = sync.OnceValues(func() (*sim.World, error) {
	return sim.New(sim.Options{Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)})
})

func sharedWorld(t testing.TB) *sim.World {
	t.Helper()
	w, err := sharedWorldOnce()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func at(w *sim.World) time.Time { return w.Now().Add(time.Hour) }

func quoteOf(t testing.TB, e *sim.Enclave, rd [64]byte) []byte {
	t.Helper()
	raw, err := e.Quote(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func bundleOf(t testing.TB, p *sim.Platform) *pcs.Bundle {
	t.Helper()
	b, err := p.Bundle()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func platform(t testing.TB, w *sim.World, tee quote.TEE, st pcs.TCBStatus) *sim.Platform {
	t.Helper()
	p, err := w.Platform(tee, st)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// levelFor returns the TCB Info level with status st (each status has exactly one level in the
// default tables).
func levelFor(t *testing.T, w *sim.World, tee quote.TEE, st pcs.TCBStatus) pcs.TCBLevel {
	t.Helper()
	ti, err := w.TCBInfo(tee)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ti.Levels, func(l pcs.TCBLevel) bool { return l.Status == st })
	if i < 0 {
		t.Fatalf("no level %s", st)
	}
	return ti.Levels[i]
}

func TestRoundTripEveryStatus(t *testing.T) {
	w := sharedWorld(t)
	rd := [64]byte{0: 0xAB, 63: 0xCD}
	for _, tee := range tees {
		for _, st := range sim.Statuses() {
			t.Run(tee.String()+"/"+string(st), func(t *testing.T) {
				p := platform(t, w, tee, st)
				if p.Status() != st || p.TEE() != tee {
					t.Fatalf("platform %s: status %s tee %s", p.Name(), p.Status(), p.TEE())
				}
				raw := quoteOf(t, p.Enclave(sim.DefaultIdentity()), rd)
				res, err := verify.Quote(raw, bundleOf(t, p), at(w), verify.WithRoot(w.Root()))
				if st == pcs.StatusRevoked {
					if !errors.Is(err, verify.ErrTCBRevoked) {
						t.Fatalf("err = %v, want tcb_revoked", err)
					}
				} else if err != nil {
					t.Fatalf("verify: %v", err)
				}
				want := levelFor(t, w, tee, st)
				if res.TCBStatus != st || !slices.Equal(res.AdvisoryIDs, want.AdvisoryIDs) && len(want.AdvisoryIDs)+len(res.AdvisoryIDs) > 0 {
					t.Errorf("got %s %v, want %s %v", res.TCBStatus, res.AdvisoryIDs, st, want.AdvisoryIDs)
				}
				if res.CollateralExpired || res.ReportData.String() != verify.Hex(rd[:]).String() {
					t.Errorf("expired %v, report data %s", res.CollateralExpired, res.ReportData)
				}
				if res.TEE != tee.String() || res.FMSPC != p.Key().FMSPC.String() {
					t.Errorf("tee %s fmspc %s", res.TEE, res.FMSPC)
				}
			})
		}
	}
}

func TestRoundTripIdentityAndDebug(t *testing.T) {
	w := sharedWorld(t)
	id := sim.DefaultIdentity()
	id.MREnclave, id.MRSigner = quote.Measurement{1, 2, 3}, quote.Measurement{4, 5, 6}
	id.ISVProdID, id.ISVSVN = 7, 9
	id.MRTD, id.RTMRs[2] = quote.TDMeasurement{8}, quote.TDMeasurement{10}
	for _, tee := range tees {
		for _, debug := range []bool{false, true} {
			id.Debug = debug
			p := platform(t, w, tee, pcs.StatusUpToDate)
			raw := quoteOf(t, p.Enclave(id), [64]byte{})
			res, err := verify.Quote(raw, bundleOf(t, p), at(w), verify.WithRoot(w.Root()))
			if err != nil {
				t.Fatalf("%s debug=%v: %v", tee, debug, err)
			}
			if res.Debug == nil || *res.Debug != debug {
				t.Errorf("%s: debug = %v, want %v", tee, res.Debug, debug)
			}
			if tee == quote.TEESGX && (*res.MREnclave != id.MREnclave || *res.MRSigner != id.MRSigner || *res.ISVProdID != 7 || *res.ISVSVN != 9 || res.SGX.Debug() != debug) {
				t.Errorf("sgx identity: %+v", res.Identity)
			}
			if tee == quote.TEETDX && (*res.MRTD != id.MRTD || res.RTMRs[2] != id.RTMRs[2] || res.TDX.Debug() != debug || res.QuoteVersion != 4) {
				t.Errorf("tdx identity: %+v", res.Identity)
			}
		}
	}
}

func TestRoundTripRefusals(t *testing.T) {
	w := newWorld(t, sim.Options{})
	intelRootRefused := func(t *testing.T, raw []byte, b *pcs.Bundle) {
		_, err := verify.Quote(raw, b, at(w))
		if verify.ReasonOf(err) != verify.ReasonPCKChainInvalid {
			t.Fatalf("default Intel root: %v, want pck_chain_invalid", err)
		}
	}
	for _, tee := range tees {
		t.Run(tee.String()+"/pck-revoked", func(t *testing.T) {
			p, err := w.PCKRevokedPlatform(tee)
			if err != nil {
				t.Fatal(err)
			}
			raw := quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{})
			if _, err := verify.Quote(raw, bundleOf(t, p), at(w), verify.WithRoot(w.Root())); !errors.Is(err, verify.ErrPCKRevoked) {
				t.Fatalf("err = %v, want pck_revoked", err)
			}
		})
		t.Run(tee.String()+"/stale", func(t *testing.T) {
			p := platform(t, w, tee, pcs.StatusSWHardeningNeeded)
			raw := quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{})
			stale := w.Now().Add(sim.DefaultCollateralValidity + time.Second)
			res, err := verify.Quote(raw, bundleOf(t, p), stale, verify.WithRoot(w.Root()))
			if !errors.Is(err, verify.ErrCollateralExpired) || res == nil || res.TCBStatus != pcs.StatusSWHardeningNeeded || !res.CollateralExpired {
				t.Fatalf("err = %v, result %+v: want collateral_expired with the status", err, res)
			}
		})
		t.Run(tee.String()+"/intel-root", func(t *testing.T) {
			p := platform(t, w, tee, pcs.StatusUpToDate)
			intelRootRefused(t, quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{}), bundleOf(t, p))
		})
	}
}

// TestVerifierWithWorldSource runs the warm verifier with the world as its collateral source.
func TestVerifierWithWorldSource(t *testing.T) {
	w := sharedWorld(t)
	v, err := verify.New(w, verify.WithRoot(w.Root()))
	if err != nil {
		t.Fatal(err)
	}
	for _, tee := range tees {
		p := platform(t, w, tee, pcs.StatusConfigurationNeeded)
		q, err := quote.Parse(quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{1}))
		if err != nil {
			t.Fatal(err)
		}
		res, err := v.Verify(context.Background(), q, at(w))
		if err != nil || res.TCBStatus != pcs.StatusConfigurationNeeded {
			t.Fatalf("%s: %v %v", tee, res, err)
		}
	}
	if _, err := w.Collateral(context.Background(), pcs.Key{TEE: quote.TEESGX, FMSPC: pcs.FMSPC{1}, CA: pcs.CAProcessor}); !errors.Is(err, sim.ErrNotFound) {
		t.Errorf("unknown fmspc: %v", err)
	}
}

// TestForge builds the negative cases other packages need and checks the verifier's reason.
func TestForge(t *testing.T) {
	sgx := quote.TEESGX
	tests := []struct {
		name  string
		forge func(t *testing.T, w *sim.World, e *sim.Enclave)
		want  verify.Reason
	}{
		{"tcb not supported", func(t *testing.T, w *sim.World, e *sim.Enclave) {
			p, err := w.AddPlatform(sim.PlatformSpec{Name: "ancient", TEE: sgx, EditExtensions: func(x *pcs.PCKExtensions) {
				x.Components, x.PCESVN = [16]byte{1, 1}, 1
			}})
			must(t, err)
			e.Platform = p
		}, verify.ReasonTCBNotSupported},
		{"fmspc mismatch", func(t *testing.T, w *sim.World, e *sim.Enclave) {
			p, err := w.AddPlatform(sim.PlatformSpec{Name: "other-fmspc", TEE: sgx, EditExtensions: func(x *pcs.PCKExtensions) { x.FMSPC[5] = 0x77 }})
			must(t, err)
			e.Platform = p
		}, verify.ReasonCollateralMismatch},
		{"qe report binding", func(_ *testing.T, _ *sim.World, e *sim.Enclave) {
			e.Hooks.BeforeQESign = func(q *quote.Quote) { q.QEReport.ReportData[0] ^= 1 }
		}, verify.ReasonQEReportBindingInvalid},
		{"qe report signature", func(_ *testing.T, _ *sim.World, e *sim.Enclave) {
			e.Hooks.BeforeSign = func(q *quote.Quote) { q.QEReport.ISVSVN++ }
		}, verify.ReasonQEReportSignatureInvalid},
		{"quote signature", func(_ *testing.T, _ *sim.World, e *sim.Enclave) {
			e.Hooks.AfterSign = func(q *quote.Quote) { q.SGX.ISVSVN++ }
		}, verify.ReasonQuoteSignatureInvalid},
		{"qe identity mismatch", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			must(t, w.EditQEIdentity(sgx, func(q *pcs.QEIdentity) { q.MRSigner[0] ^= 1 }))
		}, verify.ReasonQEIdentityMismatch},
		{"qe out of date", func(_ *testing.T, _ *sim.World, e *sim.Enclave) {
			e.Hooks.BeforeQESign = func(q *quote.Quote) { q.QEReport.ISVSVN = 6 }
		}, ""},
		{"tcb signing revoked", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			c, err := w.Certificate(sim.RoleTCBSigning)
			must(t, err)
			must(t, w.Revoke(c))
		}, verify.ReasonTCBInfoInvalid},
		{"processor ca revoked", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			c, err := w.Certificate(sim.RoleProcessorCA)
			must(t, err)
			must(t, w.Revoke(c))
		}, verify.ReasonPCKRevoked},
		{"pck revoked later", func(t *testing.T, w *sim.World, e *sim.Enclave) {
			must(t, w.Revoke(e.Platform.PCK()))
		}, verify.ReasonPCKRevoked},
		{"intermediate expired", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			must(t, w.ReissueCert(sim.RoleProcessorCA, func(c *x509.Certificate) { c.NotAfter = w.Now() }))
		}, verify.ReasonCollateralExpired},
		{"pck common name", func(t *testing.T, w *sim.World, e *sim.Enclave) {
			must(t, w.ReissuePCK(e.Platform, func(c *x509.Certificate) { c.Subject.CommonName = "Intel SGX Something" }))
		}, verify.ReasonPCKChainInvalid},
		{"levels above the platform", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			must(t, w.EditTCBInfo(sgx, func(ti *pcs.TCBInfo) {
				ti.Levels = ti.Levels[:1]
				ti.Levels[0].SGXComponents[0] = 200
			}))
		}, verify.ReasonTCBNotSupported},
		{"stale via reissue", func(t *testing.T, w *sim.World, _ *sim.Enclave) {
			must(t, w.Reissue(w.Now().Add(-40*24*time.Hour), 0))
		}, verify.ReasonCollateralExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, sim.Options{})
			refAt := at(w)
			e := platform(t, w, sgx, pcs.StatusUpToDate).Enclave(sim.DefaultIdentity())
			tc.forge(t, w, e)
			raw := quoteOf(t, e, [64]byte{})
			res, err := verify.Quote(raw, bundleOf(t, e.Platform), refAt, verify.WithRoot(w.Root()))
			if got := verify.ReasonOf(err); got != tc.want {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.want)
			}
			if tc.name == "qe out of date" && res.TCBStatus != pcs.StatusOutOfDate {
				t.Errorf("qe out of date: status %s", res.TCBStatus)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTDX15ViaHook: a hook turns the TDX v4 quote into a v5 quote with a TD 1.5 report before
// anything is signed; it verifies like the v4 one.
func TestTDX15ViaHook(t *testing.T) {
	w := sharedWorld(t)
	p := platform(t, w, quote.TEETDX, pcs.StatusOutOfDate)
	e := p.Enclave(sim.DefaultIdentity())
	e.Hooks.BeforeQESign = func(q *quote.Quote) {
		q.Header.Version, q.BodyType = 5, quote.BodyTypeTD15
		q.TDX.V15, q.TDX.TEETCBSVN2 = true, q.TDX.TEETCBSVN
	}
	res, err := verify.Quote(quoteOf(t, e, [64]byte{}), bundleOf(t, p), at(w), verify.WithRoot(w.Root()))
	if err != nil || res.QuoteVersion != 5 || res.TCBStatus != pcs.StatusOutOfDate {
		t.Fatalf("%+v %v", res, err)
	}
}
