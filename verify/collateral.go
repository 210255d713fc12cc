package verify

import (
	"bytes"
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

const (
	stepRootCRL    = "root ca crl"
	stepPCKCRL     = "pck crl"
	stepTCBInfo    = "tcb info"
	stepQEIdentity = "qe identity"
	stepMatch      = "collateral match"
)

// collateral is a pcs.Bundle whose signatures, issuer chains and CRLs verified up to the trusted
// root (dcap spec §5.2 step 5, §5.3, §5.4, except the time checks). Everything here is
// independent of the verification time and of the quote, so a Verifier computes it once per
// bundle. It is immutable.
type collateral struct {
	rootRevoked  revoked           // serials revoked by the root CA CRL
	pckRevoked   revoked           // serials revoked by the PCK CRL
	pckCRLIssuer *x509.Certificate // the PCK CA that signed the PCK CRL
	tcb          *pcs.TCBInfo
	levels       []pcs.TCBLevel // tcb.Levels in QVL's canonical order (dcap spec §5.7)
	qe           *pcs.QEIdentity
	valid        pcs.Window // every certificate, CRL and document of the bundle, and the root
}

// checkBundle verifies a collateral bundle against the trusted root.
func checkBundle(b *pcs.Bundle, root *x509.Certificate) (*collateral, error) {
	if b == nil {
		return nil, fail(ReasonCollateralUnavailable, "collateral", errors.New("no bundle"))
	}
	col := &collateral{}
	var err error
	if col.rootRevoked, err = checkCRL(b.RootCRL, root, stepRootCRL); err != nil {
		return nil, err
	}
	if err := col.checkPCKCRL(b, root); err != nil {
		return nil, err
	}
	signer, err := col.checkSigningChain(b.TCBInfoIssuerChain, root, ReasonTCBInfoInvalid, stepTCBInfo, nil)
	if err != nil {
		return nil, err
	}
	if err := col.checkTCBInfo(b.TCBInfo, signer); err != nil {
		return nil, err
	}
	qeSigner, err := col.checkSigningChain(b.QEIdentityIssuerChain, root, ReasonQEIdentityInvalid, stepQEIdentity, signer)
	if err != nil {
		return nil, err
	}
	if err := col.checkQEIdentity(b.QEIdentity, qeSigner); err != nil {
		return nil, err
	}
	col.valid = pcs.WindowOf(append(b.Validities(), pcs.CertValidity(pcs.DocRootCA, root))...)
	return col, nil
}

// checkPCKCRL verifies the PCK CRL issuer chain (Processor or Platform CA ‖ root) and the PCK
// CRL. Whether that CA is revoked is checked per quote, for the quote's own intermediate
// (ReasonPCKRevoked).
func (col *collateral) checkPCKCRL(b *pcs.Bundle, root *x509.Certificate) error {
	if _, err := pcs.VerifyPCKCRLIssuerChain(b.PCKCRLIssuerChain, root); err != nil {
		return chainError(ReasonCRLInvalid, stepPCKCRL, err, b.PCKCRLIssuerChain, root)
	}
	issuer := b.PCKCRLIssuerChain[0]
	var err error
	if col.pckRevoked, err = checkCRL(b.PCKCRL, issuer, stepPCKCRL); err != nil {
		return err
	}
	col.pckCRLIssuer = issuer
	return nil
}

// checkSigningChain verifies a TCB Signing chain (signing certificate ‖ root, dcap spec §5.3
// steps 1–2) and returns the signing certificate. If known is a signing certificate verified
// earlier in the same bundle with identical bytes, its signature is not verified again.
func (col *collateral) checkSigningChain(chain []*x509.Certificate, root *x509.Certificate, r Reason, step string, known *x509.Certificate) (*x509.Certificate, error) {
	if len(chain) != 2 {
		return nil, mismatch(r, step, "issuer chain has the wrong number of certificates", "2", strconv.Itoa(len(chain)))
	}
	if err := pcs.CheckTrustedRoot(chain[1], root); err != nil {
		return nil, chainError(r, step, err, chain, root)
	}
	signer := chain[0]
	if known == nil || !bytes.Equal(known.Raw, signer.Raw) {
		if err := pcs.CheckIssued(signer, root, pcs.CNFragmentTCBSigning, pcs.DocTCBSigningCert); err != nil {
			return nil, fail(r, step, err)
		}
	}
	if col.rootRevoked.has(string(signer.SerialNumber.Bytes())) {
		return nil, mismatch(r, step, "tcb signing certificate is revoked by the root ca crl",
			"not revoked", "serial "+signer.SerialNumber.Text(16))
	}
	return signer, nil
}

func (col *collateral) checkTCBInfo(t *pcs.TCBInfo, signer *x509.Certificate) error {
	if t == nil {
		return fail(ReasonTCBInfoInvalid, stepTCBInfo, errors.New("missing"))
	}
	if t.Version != 2 && t.Version != 3 {
		return mismatch(ReasonTCBInfoInvalid, stepTCBInfo, "unsupported version", "2 or 3", strconv.Itoa(t.Version))
	}
	if len(t.Levels) == 0 {
		return fail(ReasonTCBInfoInvalid, stepTCBInfo, errors.New("no TCB levels"))
	}
	for i := range t.Levels {
		if !t.Levels[i].Status.Valid() {
			return fail(ReasonTCBInfoInvalid, stepTCBInfo, fmt.Errorf("level %d: unknown status %q", i, t.Levels[i].Status))
		}
	}
	if err := t.CheckSignature(signer); err != nil {
		return fail(ReasonTCBInfoInvalid, stepTCBInfo, err)
	}
	col.tcb = t
	col.levels = canonicalLevels(t.Levels)
	return nil
}

func (col *collateral) checkQEIdentity(q *pcs.QEIdentity, signer *x509.Certificate) error {
	if q == nil {
		return fail(ReasonQEIdentityInvalid, stepQEIdentity, errors.New("missing"))
	}
	if q.Version != 2 {
		return mismatch(ReasonQEIdentityInvalid, stepQEIdentity, "unsupported version", "2", strconv.Itoa(q.Version))
	}
	if err := q.CheckSignature(signer); err != nil {
		return fail(ReasonQEIdentityInvalid, stepQEIdentity, err)
	}
	col.qe = q
	return nil
}

// canonicalLevels returns a copy of levels sorted in QVL's descending order: the 16 SGX
// component SVNs compared lexicographically, then PCESVN, then the 16 TDX component SVNs.
// Intel publishes levels in this order already; the sort makes matching independent of it.
func canonicalLevels(levels []pcs.TCBLevel) []pcs.TCBLevel {
	out := slices.Clone(levels)
	slices.SortStableFunc(out, func(a, b pcs.TCBLevel) int {
		if c := bytes.Compare(b.SGXComponents[:], a.SGXComponents[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(b.PCESVN, a.PCESVN); c != 0 {
			return c
		}
		return bytes.Compare(b.TDXComponents[:], a.TDXComponents[:])
	})
	return out
}

// matchCollateral checks that the collateral is the one for this quote and platform (dcap spec
// §5.5 steps 3–4 and the first half of 9): TCB Info id and QE Identity id by TEE type, FMSPC
// and PCE-ID of the PCK certificate, compared as bytes.
func matchCollateral(q *quote.Quote, c *pckChain, col *collateral) error {
	wantTCB, wantQE := "SGX", "QE"
	if q.Header.TEE == quote.TEETDX {
		wantTCB, wantQE = "TDX", "TD_QE"
	}
	gotTCB := col.tcb.ID
	if col.tcb.Version == 2 {
		gotTCB = "SGX" // TCB Info v2 has no id and describes SGX platforms only
	}
	if gotTCB != wantTCB {
		return mismatch(ReasonCollateralMismatch, stepMatch, "tcb info is for another TEE", wantTCB, gotTCB)
	}
	if col.qe.ID != wantQE {
		return mismatch(ReasonCollateralMismatch, stepMatch, "qe identity is for another quoting enclave", wantQE, col.qe.ID)
	}
	if c.ext.FMSPC != col.tcb.FMSPC {
		return mismatch(ReasonCollateralMismatch, stepMatch, "tcb info is for another platform (FMSPC)",
			c.ext.FMSPC.String(), col.tcb.FMSPC.String())
	}
	if c.ext.PCEID != col.tcb.PCEID {
		return mismatch(ReasonCollateralMismatch, stepMatch, "tcb info is for another PCE (PCE-ID)",
			c.ext.PCEID.String(), col.tcb.PCEID.String())
	}
	return nil
}
