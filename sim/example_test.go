package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// A quote from a simulated platform at a chosen TCB status verifies with exactly that status
// when the simulated root is named, and is refused with the default (Intel) root.
func Example() {
	w, err := sim.New(sim.Options{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	p, err := w.Platform(quote.TEESGX, pcs.StatusSWHardeningNeeded)
	if err != nil {
		panic(err)
	}
	var reportData [64]byte
	copy(reportData[:], "Hello, world!")
	raw, err := p.Enclave(sim.DefaultIdentity()).Quote(context.Background(), reportData)
	if err != nil {
		panic(err)
	}
	bundle, err := p.Bundle()
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

	res, err := verify.Quote(raw, bundle, at, verify.WithRoot(w.Root()))
	fmt.Println(res.TCBStatus, res.AdvisoryIDs, err)

	_, err = verify.Quote(raw, bundle, at) // no root named: Intel's
	fmt.Println(verify.ReasonOf(err))
	// Output:
	// SWHardeningNeeded [INTEL-SA-00615] <nil>
	// pck_chain_invalid
}
