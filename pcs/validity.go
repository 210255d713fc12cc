package pcs

import (
	"crypto/x509"
	"fmt"
	"time"
)

// Validity is the time window of one collateral item: a certificate [notBefore, notAfter], a
// CRL [thisUpdate, nextUpdate], or a TCB Info / QE Identity [issueDate, nextUpdate].
type Validity struct {
	Doc       Doc
	Name      string // human-readable, e.g. "Intel SGX TCB Signing" or "TCB Info SGX 00A067110000"
	NotBefore time.Time
	NotAfter  time.Time
}

// CertValidity returns a certificate's window, labelled with doc.
func CertValidity(doc Doc, c *x509.Certificate) Validity {
	return Validity{Doc: doc, Name: c.Subject.CommonName, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// CRLValidity returns a CRL's window; a CRL without nextUpdate is never valid.
func CRLValidity(crl *x509.RevocationList) Validity {
	return Validity{Doc: crlDoc(crl), Name: "CRL of " + crl.Issuer.CommonName, NotBefore: crl.ThisUpdate, NotAfter: crl.NextUpdate}
}

// Check returns a KindExpired error naming v.Doc unless NotBefore <= at <= NotAfter. A zero at
// is refused (time is always an explicit input).
func (v Validity) Check(at time.Time) error {
	switch {
	case at.IsZero():
		return newErr(KindExpired, v.Doc, "no verification time", nil)
	case at.Before(v.NotBefore):
		return newErr(KindExpired, v.Doc, fmt.Sprintf("%s not valid before %s", v.Name, utc(v.NotBefore)), nil)
	case at.After(v.NotAfter):
		return newErr(KindExpired, v.Doc, fmt.Sprintf("%s expired at %s", v.Name, utc(v.NotAfter)), nil)
	}
	return nil
}

// Expired reports whether at is after NotAfter (QVL checks only this for certificates, TCB
// Info and QE Identity; dcap spec §5.10).
func (v Validity) Expired(at time.Time) bool { return at.After(v.NotAfter) }

// Window is the intersection of several validity windows.
type Window struct {
	NotBefore time.Time // latest start over the items
	NotAfter  time.Time // earliest end over the items
	LastValid Validity  // the item that becomes valid last (its NotBefore is NotBefore)
	FirstEnd  Validity  // the item that expires first (its NotAfter is NotAfter)
}

// WindowOf intersects the items' windows. For no items it returns the zero Window, which
// contains no time.
func WindowOf(items ...Validity) Window {
	var w Window
	for i, v := range items {
		if i == 0 || v.NotBefore.After(w.NotBefore) {
			w.NotBefore, w.LastValid = v.NotBefore, v
		}
		if i == 0 || v.NotAfter.Before(w.NotAfter) {
			w.NotAfter, w.FirstEnd = v.NotAfter, v
		}
	}
	return w
}

// Empty reports whether no instant is inside w.
func (w Window) Empty() bool { return w.NotAfter.Before(w.NotBefore) || w.NotAfter.IsZero() }

// Check returns a KindExpired error naming the offending item unless at is inside w.
func (w Window) Check(at time.Time) error {
	if at.IsZero() {
		return newErr(KindExpired, "", "no verification time", nil)
	}
	if at.Before(w.NotBefore) {
		return w.LastValid.Check(at)
	}
	if at.After(w.NotAfter) || w.NotAfter.IsZero() {
		return w.FirstEnd.Check(at)
	}
	return nil
}

func utc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
