package sim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// The forge (STYLE.md §5.5): every method below changes the world in memory so that a test can
// build a negative case for another package — any certificate field, TCB level, document or
// date. Documents and certificates are re-signed with the world's keys, so only what the
// test changed is wrong. Save persists the changes; PCSHandler serves them at once.

// Reissue re-signs all collateral as issued at issue: TCB Info and QE Identity (standard and
// early) issueDate and PCK CRL thisUpdate = issue, their nextUpdate = issue + validity (zero:
// the world's collateral validity); the root CA CRL is valid for a year from issue. CRL numbers
// increase. Use it to refresh a world or, with a past issue time, to make stale collateral.
// Certificates are not changed.
func (w *World) Reissue(issue time.Time, validity time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	issue = issue.UTC().Truncate(time.Second)
	if validity > 0 {
		w.validity = validity
	}
	next := issue.Add(w.validity)
	if err := w.redateLocked(w.tcbInfo, w.qeIdentity, issue, next); err != nil {
		return err
	}
	if err := w.redateLocked(w.earlyTCBInfo, w.earlyQEIdentity, issue, next); err != nil {
		return err
	}
	if err := w.resignCRL(w.root, &w.rootCRL, issue, issue.Add(rootCRLValidity), nil); err != nil {
		return err
	}
	for ca, crl := range w.pckCRL {
		issuer, err := w.caFor(ca)
		if err != nil {
			return err
		}
		if err := w.resignCRL(issuer, &crl, issue, next, nil); err != nil {
			return err
		}
		w.pckCRL[ca] = crl
	}
	w.now = issue
	w.changed()
	return nil
}

// redateLocked re-signs one set of TCB Infos and QE Identities, standard or early, as issued
// at issue and valid until next (Reissue); the caller holds w.mu for writing.
func (w *World) redateLocked(infos map[quote.TEE]*pcs.TCBInfo, qes map[quote.TEE]*pcs.QEIdentity, issue, next time.Time) error {
	for tee, cur := range infos {
		t := cloneTCBInfo(cur)
		t.IssueDate, t.NextUpdate = issue, next
		signed, err := signTCBInfo(w.tcbSigning.key, t)
		if err != nil {
			return err
		}
		q := cloneQEIdentity(qes[tee])
		q.IssueDate, q.NextUpdate = issue, next
		signedQE, err := signQEIdentity(w.tcbSigning.key, q)
		if err != nil {
			return err
		}
		infos[tee], qes[tee] = signed, signedQE
	}
	return nil
}

// resignCRL re-signs *crl with a new number, optional new dates and an optional extra entry.
func (w *World) resignCRL(issuer *authority, crl **x509.RevocationList, thisUpdate, nextUpdate time.Time, add *revocation) error {
	s := crlSpecOf(*crl, issuer)
	s.number.Add(s.number, big.NewInt(1))
	if !thisUpdate.IsZero() {
		s.thisUpdate, s.nextUpdate = thisUpdate, nextUpdate
	}
	if add != nil {
		s.revoked = append(s.revoked, *add)
	}
	signed, err := signCRL(s)
	if err != nil {
		return err
	}
	*crl = signed
	return nil
}

// EditTCBInfo replaces the TCB Info for tee by a re-signed copy changed by edit: levels,
// statuses, advisories, dates, FMSPC, module identities... The result must still parse
// (package pcs); for bytes that do not, sign them with SignDocument. edit runs without the
// world locked.
func (w *World) EditTCBInfo(tee quote.TEE, edit func(*pcs.TCBInfo)) error {
	w.mu.RLock()
	cur, signer := w.tcbInfo[tee], w.tcbSigning
	w.mu.RUnlock()
	if cur == nil {
		return fmt.Errorf("%w: tcb info for %s", ErrNotFound, tee)
	}
	t := cloneTCBInfo(cur)
	edit(t)
	signed, err := signTCBInfo(signer.key, t)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tcbInfo[tee] = signed
	w.changed()
	return nil
}

// EditQEIdentity replaces the QE Identity for tee by a re-signed copy changed by edit, which
// runs without the world locked.
func (w *World) EditQEIdentity(tee quote.TEE, edit func(*pcs.QEIdentity)) error {
	w.mu.RLock()
	cur, signer := w.qeIdentity[tee], w.tcbSigning
	w.mu.RUnlock()
	if cur == nil {
		return fmt.Errorf("%w: qe identity for %s", ErrNotFound, tee)
	}
	q := cloneQEIdentity(cur)
	edit(q)
	signed, err := signQEIdentity(signer.key, q)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.qeIdentity[tee] = signed
	w.changed()
	return nil
}

// SignDocument signs arbitrary bytes with the TCB Signing key, as r‖s: for tests that need a
// correctly signed TCB Info or QE Identity that MarshalTCBInfo would not write.
func (w *World) SignDocument(raw []byte) ([64]byte, error) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return signRaw(w.tcbSigning.key, raw)
}

// SignRS signs data with key as DCAP signs quotes, QE reports and PCS documents: ECDSA P-256
// over SHA-256(data), encoded as r‖s (32 big-endian bytes each). It is for tests that forge a
// signature with a key of their own, e.g. a quote re-signed by an attestation key no Quoting
// Enclave certified, or a QE report signed by a forged PCK key. key must be a P-256 key.
func SignRS(key *ecdsa.PrivateKey, data []byte) ([64]byte, error) {
	if key == nil || key.Curve != elliptic.P256() {
		return [64]byte{}, errors.New("sim: sign r||s: key is not an ECDSA P-256 key")
	}
	return signRaw(key, data)
}

// Revoke lists cert's serial number in the CRL of its issuer: the root CA CRL for the PCK CAs
// and the TCB Signing certificate, the PCK CRL of the processor or platform CA for PCK
// certificates. The CRL is re-signed with the next CRL number.
func (w *World) Revoke(cert *x509.Certificate) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.revokeLocked(cert); err != nil {
		return err
	}
	w.changed()
	return nil
}

func (w *World) revokeLocked(cert *x509.Certificate) error {
	entry := &revocation{serial: new(big.Int).Set(cert.SerialNumber), date: w.now}
	switch {
	case bytes.Equal(cert.RawIssuer, w.root.cert.RawSubject):
		if revokes(w.rootCRL, cert.SerialNumber) {
			return nil
		}
		return w.resignCRL(w.root, &w.rootCRL, time.Time{}, time.Time{}, entry)
	case bytes.Equal(cert.RawIssuer, w.processorCA.cert.RawSubject):
		return w.revokePCK(pcs.CAProcessor, w.processorCA, entry)
	case bytes.Equal(cert.RawIssuer, w.platformCA.cert.RawSubject):
		return w.revokePCK(pcs.CAPlatform, w.platformCA, entry)
	}
	return fmt.Errorf("%w: issuer of %q in this world", ErrNotFound, cert.Subject)
}

func (w *World) revokePCK(ca pcs.CAType, issuer *authority, entry *revocation) error {
	crl := w.pckCRL[ca]
	if revokes(crl, entry.serial) {
		return nil
	}
	if err := w.resignCRL(issuer, &crl, time.Time{}, time.Time{}, entry); err != nil {
		return err
	}
	w.pckCRL[ca] = crl
	return nil
}

// ReissueCert re-issues the certificate of a CA or TCB Signing role with the same key, changed
// by edit (validity, names, extensions, key usage...), signed by its usual issuer. Certificates
// it issued earlier keep their signatures; a changed subject therefore breaks their chain, a
// changed validity does not. edit runs without the world locked.
func (w *World) ReissueCert(role Role, edit func(*x509.Certificate)) error {
	w.mu.RLock()
	a, err := w.authorityOf(role)
	issuer := w.root
	w.mu.RUnlock()
	if err != nil {
		return err
	}
	if role == RoleRoot {
		issuer = nil
	}
	cert, err := issue(templateOf(a.cert), &a.key.PublicKey, issuer, a.key, edit)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.setAuthority(role, &authority{cert: cert, key: a.key})
	w.changed()
	return nil
}

// ReissuePCK re-issues p's PCK certificate with the same key, changed by edit (which runs
// without the world locked), signed by its PCK CA. The platform's Status becomes "" (the forge
// decides the outcome).
func (w *World) ReissuePCK(p *Platform, edit func(*x509.Certificate)) error {
	w.mu.RLock()
	from := p.pck
	issuer, err := w.caFor(p.ca)
	w.mu.RUnlock()
	if err != nil {
		return err
	}
	cert, err := w.signPCK(p, issuer, from, time.Time{}, edit)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	p.pck = cert
	if ext, err := pcs.ParsePCKExtensions(cert); err == nil {
		p.ext = *ext
	}
	p.status = ""
	w.changed()
	return nil
}
