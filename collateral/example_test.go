package collateral_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/secretprov/secretprov/collateral"
	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// A Cache in front of a PCS-shaped service (here the simulator on loopback) feeds a verifier;
// the bundle is fetched once and the same pointer is served while nothing changes.
func ExampleCache() {
	world, err := sim.New(sim.Options{Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		fmt.Println(err)
		return
	}
	pcsServer := httptest.NewServer(sim.PCSHandler(world))
	defer pcsServer.Close()

	client, err := collateral.NewClient(collateral.ClientConfig{
		BaseURL:    pcsServer.URL + "/sgx/certification/v4", // TDX: the /tdx/ twin
		RootCRLURL: pcsServer.URL + "/IntelSGXRootCA.der",
		HTTPClient: pcsServer.Client(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	cache, err := collateral.NewCache(collateral.Config{Source: client, Root: world.Root()})
	if err != nil {
		fmt.Println(err)
		return
	}
	verifier, err := verify.New(cache, verify.WithRoot(world.Root()))
	if err != nil {
		fmt.Println(err)
		return
	}

	platform, _ := world.Platform(quote.TEESGX, pcs.StatusUpToDate)
	q, _ := platform.Enclave(sim.DefaultIdentity()).QuoteValue(context.Background(), [64]byte{})
	res, err := verifier.Verify(context.Background(), q, world.Now().Add(time.Hour))
	fmt.Println("status:", res.TCBStatus, "error:", err)

	b1, _ := cache.Collateral(context.Background(), platform.Key())
	b2, _ := cache.Collateral(context.Background(), platform.Key())
	fmt.Println("same bundle:", b1 == b2)
	fmt.Println("ready:", cache.Ready() == nil)
	// Output:
	// status: UpToDate error: <nil>
	// same bundle: true
	// ready: true
}

// An air-gapped verifier reads the collateral JSON written by "secretprov collateral fetch".
func ExampleFile() {
	src, err := collateral.File(testvectors.Path("phala-dcap-qvl/sgx_quote_collateral.json"))
	if err != nil {
		fmt.Println(err)
		return
	}
	tcb := src.Bundle().TCBInfo
	fmt.Println("TCB Info:", tcb.ID, tcb.FMSPC, "next update:", tcb.NextUpdate.Format(time.DateOnly))

	key := pcs.Key{TEE: quote.TEESGX, FMSPC: tcb.FMSPC, CA: pcs.CAProcessor}
	_, err = src.Collateral(context.Background(), key)
	fmt.Println("served for", key, "error:", err)

	key.CA = pcs.CAPlatform
	_, err = src.Collateral(context.Background(), key)
	fmt.Println("another CA is a mismatch:", errors.Is(err, pcs.ErrMismatch))
	// Output:
	// TCB Info: SGX 00A067110000 next update: 2025-07-19
	// served for sgx/00A067110000/processor error: <nil>
	// another CA is a mismatch: true
}
