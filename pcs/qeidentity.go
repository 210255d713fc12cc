package pcs

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secretprov/secretprov/quote"
)

// Enclave identity ids.
const (
	QEIDQE   = "QE"    // SGX quoting enclave
	QEIDQVE  = "QVE"   // SGX quote verification enclave
	QEIDTDQE = "TD_QE" // TDX quoting enclave
)

// QEIdentity is a parsed, not yet verified, Enclave Identity version 2 document (dcap spec
// §4.2) for the QE, QVE or TD_QE. Call CheckSignature before trusting any field.
type QEIdentity struct {
	Raw       []byte   // exact bytes of the "enclaveIdentity" object as received
	Signature [64]byte // ECDSA P-256 r||s over Raw

	ID                      string // QEIDQE, QEIDQVE or QEIDTDQE
	Version                 int    // 2
	IssueDate, NextUpdate   time.Time
	TCBEvaluationDataNumber int
	MiscSelect              [4]byte
	MiscSelectMask          [4]byte
	Attributes              [16]byte
	AttributesMask          [16]byte
	MRSigner                quote.Measurement
	ISVProdID               uint16
	Levels                  []QELevel // non-empty, document order (Intel: descending ISVSVN)
}

// QELevel is one TCB level of an enclave identity.
type QELevel struct {
	ISVSVN      uint16
	TCBDate     time.Time
	Status      TCBStatus // UpToDate, OutOfDate, Revoked (ConfigurationNeeded and OutOfDateConfigurationNeeded tolerated)
	AdvisoryIDs []string
}

// ParseQEIdentity parses a PCS "qe/identity" response body
// {"enclaveIdentity":{…},"signature":"<128 hex>"}, keeping the exact bytes of the
// enclaveIdentity object for the signature check.
func ParseQEIdentity(body []byte) (*QEIdentity, error) {
	var w struct {
		EnclaveIdentity json.RawMessage `json:"enclaveIdentity"`
		Signature       *string         `json:"signature"`
	}
	if err := decodeStrict(body, &w); err != nil {
		return nil, formatErr(DocQEIdentity, "body", err)
	}
	raw, err := rawObject("enclaveIdentity", w.EnclaveIdentity)
	if err != nil {
		return nil, formatErr(DocQEIdentity, "body", err)
	}
	if w.Signature == nil {
		return nil, formatErr(DocQEIdentity, "body", missing("signature"))
	}
	return ParseQEIdentityRaw(raw, *w.Signature)
}

// ParseQEIdentityRaw parses the offline form: the exact signed bytes of the enclaveIdentity
// object and the hex signature (128 digits, either case). raw is copied.
func ParseQEIdentityRaw(raw []byte, sigHex string) (*QEIdentity, error) {
	sig, err := parseSignatureHex(sigHex)
	if err != nil {
		return nil, formatErr(DocQEIdentity, "", err)
	}
	var w qeIdentityWire
	if err := decodeStrict(raw, &w); err != nil {
		return nil, formatErr(DocQEIdentity, "", err)
	}
	q := &QEIdentity{Raw: append([]byte(nil), raw...), Signature: sig}
	if err := q.fill(&w); err != nil {
		return nil, formatErr(DocQEIdentity, "", err)
	}
	return q, nil
}

// CheckSignature verifies Signature over Raw with the signer's ECDSA P-256 key (SHA-256).
// It does not check the signer's chain: see VerifyTCBSigningChain and CheckIssued.
func (q *QEIdentity) CheckSignature(signer *x509.Certificate) error {
	return checkDocSignature(DocQEIdentity, q.Raw, &q.Signature, signer)
}

// TEE returns quote.TEETDX for TD_QE and quote.TEESGX for QE and QVE.
func (q *QEIdentity) TEE() quote.TEE {
	if q.ID == QEIDTDQE {
		return quote.TEETDX
	}
	return quote.TEESGX
}

// CheckFor returns a KindMismatch error unless q is the quoting enclave identity for tee: QE
// for SGX quotes, TD_QE for TDX quotes (a QVE identity never matches).
func (q *QEIdentity) CheckFor(tee quote.TEE) error {
	var want string
	switch tee {
	case quote.TEESGX:
		want = QEIDQE
	case quote.TEETDX:
		want = QEIDTDQE
	}
	if want == "" || q.ID != want {
		return newErr(KindMismatch, DocQEIdentity, fmt.Sprintf("id %s, quote TEE %s", q.ID, tee), nil)
	}
	return nil
}

// Validity returns the document's validity [issueDate, nextUpdate].
func (q *QEIdentity) Validity() Validity {
	return Validity{Doc: DocQEIdentity, Name: "Enclave Identity " + q.ID, NotBefore: q.IssueDate, NotAfter: q.NextUpdate}
}

type qeIdentityWire struct {
	ID                      *string       `json:"id"`
	Version                 *int          `json:"version"`
	IssueDate               *string       `json:"issueDate"`
	NextUpdate              *string       `json:"nextUpdate"`
	TCBEvaluationDataNumber *int          `json:"tcbEvaluationDataNumber"`
	MiscSelect              *string       `json:"miscselect"`
	MiscSelectMask          *string       `json:"miscselectMask"`
	Attributes              *string       `json:"attributes"`
	AttributesMask          *string       `json:"attributesMask"`
	MRSigner                *string       `json:"mrsigner"`
	ISVProdID               *uint16       `json:"isvprodid"`
	TCBLevels               []qeLevelWire `json:"tcbLevels"`
}

type qeLevelWire struct {
	TCB *struct {
		ISVSVN *uint16 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     *string  `json:"tcbDate"`
	TCBStatus   *string  `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs"`
}

func (q *QEIdentity) fill(w *qeIdentityWire) error {
	if err := q.fillHeader(w); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		s    *string
		dst  []byte
	}{
		{"miscselect", w.MiscSelect, q.MiscSelect[:]},
		{"miscselectMask", w.MiscSelectMask, q.MiscSelectMask[:]},
		{"attributes", w.Attributes, q.Attributes[:]},
		{"attributesMask", w.AttributesMask, q.AttributesMask[:]},
		{"mrsigner", w.MRSigner, q.MRSigner[:]},
	} {
		if err := hexField(f.name, f.s, f.dst); err != nil {
			return err
		}
	}
	if w.ISVProdID == nil {
		return missing("isvprodid")
	}
	q.ISVProdID = *w.ISVProdID
	levels, err := parseQELevels(w.TCBLevels)
	q.Levels = levels
	return err
}

func (q *QEIdentity) fillHeader(w *qeIdentityWire) error {
	switch {
	case w.ID == nil:
		return missing("id")
	case *w.ID != QEIDQE && *w.ID != QEIDQVE && *w.ID != QEIDTDQE:
		return fmt.Errorf("id: unknown %q", *w.ID)
	case w.Version == nil:
		return missing("version")
	case *w.Version != 2:
		return fmt.Errorf("version: unsupported %d", *w.Version)
	}
	q.ID, q.Version = *w.ID, *w.Version
	var err error
	if q.IssueDate, err = parseDate("issueDate", w.IssueDate); err != nil {
		return err
	}
	if q.NextUpdate, err = parseDate("nextUpdate", w.NextUpdate); err != nil {
		return err
	}
	if q.NextUpdate.Before(q.IssueDate) {
		return fmt.Errorf("nextUpdate %s before issueDate %s", *w.NextUpdate, *w.IssueDate)
	}
	q.TCBEvaluationDataNumber, err = evaluationDataNumber(w.TCBEvaluationDataNumber)
	return err
}

func parseQELevels(ws []qeLevelWire) ([]QELevel, error) {
	if len(ws) == 0 {
		return nil, fmt.Errorf("tcbLevels: missing or empty")
	}
	if len(ws) > MaxTCBLevels {
		return nil, fmt.Errorf("tcbLevels: more than %d", MaxTCBLevels)
	}
	levels := make([]QELevel, len(ws))
	seen := make(map[uint16]bool, len(ws))
	for i, w := range ws {
		if err := levels[i].fill(&w, seen); err != nil {
			return nil, fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}
	return levels, nil
}

func (l *QELevel) fill(w *qeLevelWire, seen map[uint16]bool) error {
	if w.TCB == nil || w.TCB.ISVSVN == nil {
		return missing("tcb.isvsvn")
	}
	l.ISVSVN = *w.TCB.ISVSVN
	if seen[l.ISVSVN] {
		return fmt.Errorf("duplicate isvsvn %d", l.ISVSVN)
	}
	seen[l.ISVSVN] = true
	var err error
	if l.TCBDate, err = parseDate("tcbDate", w.TCBDate); err != nil {
		return err
	}
	if w.TCBStatus == nil {
		return missing("tcbStatus")
	}
	if l.Status = TCBStatus(*w.TCBStatus); !l.Status.validQE() {
		return fmt.Errorf("tcbStatus: %q not allowed for an enclave identity", *w.TCBStatus)
	}
	l.AdvisoryIDs = w.AdvisoryIDs
	return checkAdvisories(w.AdvisoryIDs)
}
