package collateral

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// entry is one verified document. Everything but fetched is immutable; fetched is guarded by
// Cache.mu.
type entry struct {
	item    Item
	doc     *Document
	next    time.Time // the document's nextUpdate
	fetched time.Time
	tcb     *pcs.TCBInfo
	qe      *pcs.QEIdentity
	crl     *x509.RevocationList
}

// check parses doc and verifies it against the trust root: the root CA CRL is signed by root;
// a PCK CRL by a Processor/Platform CA of the requested type issued by root
// (pcs.VerifyPCKCRLIssuerChain) and not revoked by rootCRL; a TCB Info or QE Identity by a TCB
// Signing certificate issued by root and not revoked by rootCRL (pcs.VerifyTCBSigningChain),
// and it is the document asked for (TEE, FMSPC). Times are not checked: expiry is the
// verifier's business.
func check(doc *Document, root *x509.Certificate, rootCRL *x509.RevocationList) (*entry, error) {
	e := &entry{item: doc.Item, doc: doc}
	var err error
	switch doc.Item.Kind {
	case KindRootCRL:
		err = e.checkRootCRL(root)
	case KindPCKCRL:
		err = e.checkPCKCRL(root, rootCRL)
	case KindTCBInfo:
		err = e.checkTCBInfo(root, rootCRL)
	case KindQEIdentity:
		err = e.checkQEIdentity(root, rootCRL)
	default:
		err = fmt.Errorf("unknown item kind %q", doc.Item.Kind)
	}
	if err != nil {
		return nil, &Error{Op: "check", Item: doc.Item, URL: doc.URL, Reason: ErrInvalid, Err: hideMismatch(err)}
	}
	return e, nil
}

func (e *entry) checkRootCRL(root *x509.Certificate) error {
	if len(e.doc.IssuerChain) != 0 {
		return errors.New("unexpected issuer chain")
	}
	crl, err := pcs.ParseCRL(e.doc.Body)
	if err != nil {
		return err
	}
	if err := pcs.VerifyCRL(crl, root); err != nil {
		return err
	}
	e.crl, e.next = crl, crl.NextUpdate
	return nil
}

func (e *entry) checkPCKCRL(root *x509.Certificate, rootCRL *x509.RevocationList) error {
	ca, err := pcs.VerifyPCKCRLIssuerChain(e.doc.IssuerChain, root)
	if err != nil {
		return err
	}
	issuer := e.doc.IssuerChain[0]
	if ca != e.item.CA {
		return fmt.Errorf("issued by the %s CA, want %s", ca, e.item.CA)
	}
	if err := pcs.VerifyCRL(rootCRL, root); err != nil {
		return err
	}
	if err := pcs.CheckRevocation(rootCRL, issuer, pcs.DocPCKCA); err != nil {
		return err
	}
	crl, err := pcs.ParseCRL(e.doc.Body)
	if err != nil {
		return err
	}
	if err := pcs.VerifyCRL(crl, issuer); err != nil {
		return err
	}
	e.crl, e.next = crl, crl.NextUpdate
	return nil
}

func (e *entry) checkTCBInfo(root *x509.Certificate, rootCRL *x509.RevocationList) error {
	t, err := pcs.ParseTCBInfo(e.doc.Body)
	if err != nil {
		return err
	}
	if err := e.checkSigned(t, root, rootCRL); err != nil {
		return err
	}
	if t.TEE() != e.item.TEE || t.FMSPC != e.item.FMSPC {
		return fmt.Errorf("TCB Info is for %s %s, want %s %s", t.TEE(), t.FMSPC, e.item.TEE, e.item.FMSPC)
	}
	e.tcb, e.next = t, t.NextUpdate
	return nil
}

func (e *entry) checkQEIdentity(root *x509.Certificate, rootCRL *x509.RevocationList) error {
	q, err := pcs.ParseQEIdentity(e.doc.Body)
	if err != nil {
		return err
	}
	if err := e.checkSigned(q, root, rootCRL); err != nil {
		return err
	}
	if err := q.CheckFor(e.item.TEE); err != nil {
		return err
	}
	e.qe, e.next = q, q.NextUpdate
	return nil
}

// checkSigned verifies the document's TCB Signing issuer chain and its signature by the chain's
// signing certificate.
func (e *entry) checkSigned(signed interface{ CheckSignature(*x509.Certificate) error }, root *x509.Certificate, rootCRL *x509.RevocationList) error {
	if err := pcs.VerifyTCBSigningChain(e.doc.IssuerChain, root, rootCRL); err != nil {
		return err
	}
	return signed.CheckSignature(e.doc.IssuerChain[0])
}

// hideMismatch turns a pcs mismatch error into plain text: a service that delivers the wrong
// document is a failing service, and the verifier must report collateral_unavailable, not
// collateral_mismatch.
func hideMismatch(err error) error {
	if errors.Is(err, pcs.ErrMismatch) {
		return errors.New(err.Error())
	}
	return err
}

// rollback reports whether newer is older than cur (same item): a lower TCB evaluation data
// number or CRL number, or, at equal numbers, an earlier issue date or thisUpdate.
func rollback(cur, newer *entry) bool {
	switch {
	case cur.tcb != nil && newer.tcb != nil:
		return older(newer.tcb.TCBEvaluationDataNumber, cur.tcb.TCBEvaluationDataNumber, newer.tcb.IssueDate, cur.tcb.IssueDate)
	case cur.qe != nil && newer.qe != nil:
		return older(newer.qe.TCBEvaluationDataNumber, cur.qe.TCBEvaluationDataNumber, newer.qe.IssueDate, cur.qe.IssueDate)
	case cur.crl != nil && newer.crl != nil:
		if cur.crl.Number != nil && newer.crl.Number != nil {
			if c := newer.crl.Number.Cmp(cur.crl.Number); c != 0 {
				return c < 0
			}
		}
		return newer.crl.ThisUpdate.Before(cur.crl.ThisUpdate)
	}
	return false
}

func older(n, curN int, issued, curIssued time.Time) bool {
	if n != curN {
		return n < curN
	}
	return issued.Before(curIssued)
}

// sameDocument reports whether two documents have identical bytes (body and chain).
func sameDocument(a, b *Document) bool {
	if !bytes.Equal(a.Body, b.Body) || len(a.IssuerChain) != len(b.IssuerChain) {
		return false
	}
	for i := range a.IssuerChain {
		if !bytes.Equal(a.IssuerChain[i].Raw, b.IssuerChain[i].Raw) {
			return false
		}
	}
	return true
}
