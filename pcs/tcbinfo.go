package pcs

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"time"

	"github.com/secretprov/secretprov/quote"
)

// TCB Info ids.
const (
	TCBInfoIDSGX = "SGX"
	TCBInfoIDTDX = "TDX"
)

// TCBInfo is a parsed, not yet verified, TCB Info document (dcap spec §4.1), version 2 (SGX)
// or 3 (SGX or TDX). Raw and Signature are what Intel signed; everything else is derived from
// Raw. Call CheckSignature with the TCB Signing certificate before trusting any field.
type TCBInfo struct {
	Raw       []byte   // exact bytes of the "tcbInfo" object as received
	Signature [64]byte // ECDSA P-256 r||s over Raw

	ID                      string // "SGX" or "TDX" (version 2 documents have no id: "SGX")
	Version                 int    // 2 or 3
	IssueDate, NextUpdate   time.Time
	FMSPC                   FMSPC
	PCEID                   PCEID
	TCBType                 int // always 0
	TCBEvaluationDataNumber int

	TDXModule           *TDXModule          // TDX only (required there)
	TDXModuleIdentities []TDXModuleIdentity // TDX only (optional), document order
	Levels              []TCBLevel          // non-empty, document order
}

// TCBLevel is one platform TCB level.
type TCBLevel struct {
	SGXComponents [16]byte
	PCESVN        uint16
	TDXComponents [16]byte // TDX TCB Info only

	// Optional descriptive "category"/"type" of each component (version 3; empty if absent).
	SGXComponentInfo [16]ComponentInfo
	TDXComponentInfo [16]ComponentInfo

	TCBDate     time.Time
	Status      TCBStatus
	AdvisoryIDs []string
}

// ComponentInfo is the optional description of a TCB component, e.g. {"BIOS",
// "Early Microcode Update"}.
type ComponentInfo struct {
	Category string
	Type     string
}

// TDXModule describes the TDX module signer (tdxModule, and each tdxModuleIdentities entry).
type TDXModule struct {
	MRSigner       quote.TDMeasurement
	Attributes     [8]byte
	AttributesMask [8]byte
}

// TDXModuleIdentity is one entry of tdxModuleIdentities, e.g. id "TDX_01" for module major
// version 1. The id is kept as written; its letters may be in either case (dcap spec §5.5 step
// 6 looks it up case-insensitively), so compare ids with strings.EqualFold or MajorVersion.
type TDXModuleIdentity struct {
	ID string
	TDXModule
	Levels []ModuleLevel // non-empty, document order
}

// MajorVersion returns the module major version encoded in the id ("TDX_0B" → 11).
func (m *TDXModuleIdentity) MajorVersion() uint8 {
	v, _ := parseModuleID(m.ID)
	return v
}

// ModuleLevel is one TCB level of a TDX module identity.
type ModuleLevel struct {
	ISVSVN      uint8
	TCBDate     time.Time
	Status      TCBStatus // UpToDate, OutOfDate or Revoked
	AdvisoryIDs []string
}

// ParseTCBInfo parses a PCS "tcb" response body {"tcbInfo":{…},"signature":"<128 hex>"},
// keeping the exact bytes of the tcbInfo object for the signature check.
func ParseTCBInfo(body []byte) (*TCBInfo, error) {
	var w struct {
		TCBInfo   json.RawMessage `json:"tcbInfo"`
		Signature *string         `json:"signature"`
	}
	if err := decodeStrict(body, &w); err != nil {
		return nil, formatErr(DocTCBInfo, "body", err)
	}
	raw, err := rawObject("tcbInfo", w.TCBInfo)
	if err != nil {
		return nil, formatErr(DocTCBInfo, "body", err)
	}
	if w.Signature == nil {
		return nil, formatErr(DocTCBInfo, "body", missing("signature"))
	}
	return ParseTCBInfoRaw(raw, *w.Signature)
}

// ParseTCBInfoRaw parses the offline form: the exact signed bytes of the tcbInfo object and
// the hex signature (128 digits, either case). raw is copied.
func ParseTCBInfoRaw(raw []byte, sigHex string) (*TCBInfo, error) {
	sig, err := parseSignatureHex(sigHex)
	if err != nil {
		return nil, formatErr(DocTCBInfo, "", err)
	}
	var w tcbInfoWire
	if err := decodeStrict(raw, &w); err != nil {
		return nil, formatErr(DocTCBInfo, "", err)
	}
	t := &TCBInfo{Raw: append([]byte(nil), raw...), Signature: sig}
	if err := t.fill(&w); err != nil {
		return nil, formatErr(DocTCBInfo, "", err)
	}
	return t, nil
}

// CheckSignature verifies Signature over Raw with the signer's ECDSA P-256 key (SHA-256).
// It does not check the signer's chain: see VerifyTCBSigningChain and CheckIssued.
func (t *TCBInfo) CheckSignature(signer *x509.Certificate) error {
	return checkDocSignature(DocTCBInfo, t.Raw, &t.Signature, signer)
}

// TEE returns quote.TEESGX or quote.TEETDX according to ID.
func (t *TCBInfo) TEE() quote.TEE {
	if t.ID == TCBInfoIDTDX {
		return quote.TEETDX
	}
	return quote.TEESGX
}

// CheckFor returns a KindMismatch error unless t applies to a platform with this TEE, FMSPC
// and PCE-ID (dcap spec §5.5: FMSPC and PCE-ID from the PCK certificate).
func (t *TCBInfo) CheckFor(tee quote.TEE, fmspc FMSPC, pceID PCEID) error {
	switch {
	case t.TEE() != tee:
		return newErr(KindMismatch, DocTCBInfo, fmt.Sprintf("id %s, quote TEE %s", t.ID, tee), nil)
	case t.FMSPC != fmspc:
		return newErr(KindMismatch, DocTCBInfo, fmt.Sprintf("fmspc %s, platform %s", t.FMSPC, fmspc), nil)
	case t.PCEID != pceID:
		return newErr(KindMismatch, DocTCBInfo, fmt.Sprintf("pceId %s, platform %s", t.PCEID, pceID), nil)
	}
	return nil
}

// Validity returns the document's validity [issueDate, nextUpdate].
func (t *TCBInfo) Validity() Validity {
	return Validity{Doc: DocTCBInfo, Name: "TCB Info " + t.ID + " " + t.FMSPC.String(), NotBefore: t.IssueDate, NotAfter: t.NextUpdate}
}

type tcbInfoWire struct {
	ID                      *string                  `json:"id"`
	Version                 *int                     `json:"version"`
	IssueDate               *string                  `json:"issueDate"`
	NextUpdate              *string                  `json:"nextUpdate"`
	FMSPC                   *string                  `json:"fmspc"`
	PCEID                   *string                  `json:"pceId"`
	TCBType                 *int                     `json:"tcbType"`
	TCBEvaluationDataNumber *int                     `json:"tcbEvaluationDataNumber"`
	TDXModule               *tdxModuleWire           `json:"tdxModule"`
	TDXModuleIdentities     *[]tdxModuleIdentityWire `json:"tdxModuleIdentities"`
	TCBLevels               []tcbLevelWire           `json:"tcbLevels"`
}

func (t *TCBInfo) fill(w *tcbInfoWire) error {
	if err := t.fillHeader(w); err != nil {
		return err
	}
	if err := t.fillTDX(w); err != nil {
		return err
	}
	levels, err := parseTCBLevels(w.TCBLevels, t.Version, t.ID == TCBInfoIDTDX)
	if err != nil {
		return err
	}
	t.Levels = levels
	return nil
}

func (t *TCBInfo) fillHeader(w *tcbInfoWire) error {
	var err error
	if t.ID, t.Version, err = tcbInfoIDVersion(w); err != nil {
		return err
	}
	if t.IssueDate, err = parseDate("issueDate", w.IssueDate); err != nil {
		return err
	}
	if t.NextUpdate, err = parseDate("nextUpdate", w.NextUpdate); err != nil {
		return err
	}
	if t.NextUpdate.Before(t.IssueDate) {
		return fmt.Errorf("nextUpdate %s before issueDate %s", *w.NextUpdate, *w.IssueDate)
	}
	if err := hexField("fmspc", w.FMSPC, t.FMSPC[:]); err != nil {
		return err
	}
	if err := hexField("pceId", w.PCEID, t.PCEID[:]); err != nil {
		return err
	}
	if w.TCBType == nil {
		return missing("tcbType")
	}
	if *w.TCBType != 0 {
		return fmt.Errorf("tcbType: unsupported %d", *w.TCBType)
	}
	n, err := evaluationDataNumber(w.TCBEvaluationDataNumber)
	t.TCBEvaluationDataNumber = n
	return err
}

// tcbInfoIDVersion checks the version (2 or 3) and the id (absent or "SGX" in version 2,
// "SGX" or "TDX" in version 3).
func tcbInfoIDVersion(w *tcbInfoWire) (string, int, error) {
	if w.Version == nil {
		return "", 0, missing("version")
	}
	switch v := *w.Version; {
	case v == 2 && (w.ID == nil || *w.ID == TCBInfoIDSGX):
		return TCBInfoIDSGX, v, nil
	case v == 2:
		return "", 0, fmt.Errorf("id: %q in a version 2 TCB Info", *w.ID)
	case v != 3:
		return "", 0, fmt.Errorf("version: unsupported %d", v)
	case w.ID == nil:
		return "", 0, missing("id")
	case *w.ID != TCBInfoIDSGX && *w.ID != TCBInfoIDTDX:
		return "", 0, fmt.Errorf("id: unknown %q", *w.ID)
	default:
		return *w.ID, v, nil
	}
}
