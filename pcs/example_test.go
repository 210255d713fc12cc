package pcs_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
)

// Parse the collateral of the SGX vector, check it as a verifier would, and print what it says.
func Example() {
	b, root, err := sgxCollateral()
	if err != nil {
		fmt.Println(err)
		return
	}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)

	ti := b.TCBInfo
	fmt.Println("TCB Info:", ti.ID, "version", ti.Version, "FMSPC", ti.FMSPC, "levels", len(ti.Levels))
	fmt.Println("newest level:", ti.Levels[0].TCBDate.Format(time.DateOnly), ti.Levels[0].Status)
	fmt.Println("QE Identity:", b.QEIdentity.ID, "ISVPRODID", b.QEIdentity.ISVProdID, "levels", len(b.QEIdentity.Levels))

	fmt.Println("signing chain:", pcs.VerifyTCBSigningChain(b.TCBInfoIssuerChain, root, b.RootCRL))
	fmt.Println("TCB Info signature:", ti.CheckSignature(b.TCBInfoIssuerChain[0]))
	fmt.Println("PCK CRL:", pcs.VerifyCRL(b.PCKCRL, b.PCKCRLIssuerChain[0]))

	w := pcs.WindowOf(b.Validities()...)
	fmt.Println("valid at", at.Format(time.DateOnly)+":", w.Check(at) == nil)
	fmt.Println("expires first:", w.FirstEnd.Doc, w.NotAfter.Format(time.RFC3339))
	// Output:
	// TCB Info: SGX version 3 FMSPC 00A067110000 levels 11
	// newest level: 2024-03-13 SWHardeningNeeded
	// QE Identity: QE ISVPRODID 1 levels 6
	// signing chain: <nil>
	// TCB Info signature: <nil>
	// PCK CRL: <nil>
	// valid at 2025-07-01: true
	// expires first: qe identity 2025-07-19T10:01:18Z
}

// A verifier branches on the kind of failure, never on the message.
func ExampleError() {
	body := []byte(`{"tcbInfo":{"id":"SGX","version":9},"signature":"00"}`)
	_, err := pcs.ParseTCBInfo(body)
	fmt.Println(errors.Is(err, pcs.ErrFormat), errors.Is(err, pcs.ErrSignature))
	fmt.Println(errors.Is(err, &pcs.Error{Kind: pcs.KindFormat, Doc: pcs.DocTCBInfo}))
	if e, ok := errors.AsType[*pcs.Error](err); ok {
		fmt.Println(e.Kind, "/", e.Doc)
	}
	// Output:
	// true false
	// true
	// format / tcb info
}

// Check the issuer chain of the SGX vector's PCK CRL against the Intel root, then the CRL with
// the CA the chain vouches for.
func ExampleVerifyPCKCRLIssuerChain() {
	b, root, err := sgxCollateral() // root: the pinned Intel root, never the chain's copy
	if err != nil {
		fmt.Println(err)
		return
	}
	chain := b.PCKCRLIssuerChain
	ca, err := pcs.VerifyPCKCRLIssuerChain(chain, root)
	fmt.Println("PCK CRL issuer:", ca, err)
	fmt.Println("PCK CRL:", pcs.VerifyCRL(b.PCKCRL, chain[0]))
	// The root is not a PCK CA, although its name ends in "CA".
	_, err = pcs.VerifyPCKCRLIssuerChain([]*x509.Certificate{root, root}, root)
	fmt.Println("root as PCK CA refused:", errors.Is(err, pcs.ErrChain))
	// Output:
	// PCK CRL issuer: processor <nil>
	// PCK CRL: <nil>
	// root as PCK CA refused: true
}

// sgxCollateral reads the SGX vector's collateral and the Intel SGX Root CA.
func sgxCollateral() (*pcs.Bundle, *x509.Certificate, error) {
	raw, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/sgx_quote_collateral.json"))
	if err != nil {
		return nil, nil, err
	}
	b, err := pcs.ParseBundleJSON(raw)
	if err != nil {
		return nil, nil, err
	}
	rootDER, err := os.ReadFile(testvectors.Path("phala-dcap-qvl/TrustedRootCA.der"))
	if err != nil {
		return nil, nil, err
	}
	root, err := x509.ParseCertificate(rootDER)
	return b, root, err
}
