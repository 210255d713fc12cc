package sim_test

import (
	"context"
	"fmt"
	"net/http/httptest"
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

// A handler restricted to Azure's regional THIM dialect answers Azure's requests (with Azure's
// Cache-Control) and refuses Intel's, which lack api-version.
func ExampleWithDialects() {
	w, err := sim.New(sim.Options{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(sim.PCSHandler(w, sim.WithDialects(sim.DialectAzureTHIM)))
	defer srv.Close()
	for _, path := range []string{
		sim.SGXBasePath + "/rootcacrl?clientid=production_client&api-version=" + sim.AzureAPIVersion2018,
		sim.SGXBasePath + "/rootcacrl",
	} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
		fmt.Printf("%d Cache-Control=%q Error-Code=%q\n", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get(sim.HeaderErrorCode))
	}
	// Output:
	// 200 Cache-Control="max-age=86400" Error-Code=""
	// 400 Cache-Control="" Error-Code="MissingApiVersionParameter"
}
