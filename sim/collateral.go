package sim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/secretprov/secretprov/pcs"
)

// intelTime is Intel's date format in TCB Info and QE Identity: "2025-06-19T10:56:11Z".
const intelTime = "2006-01-02T15:04:05Z"

func formatTime(t time.Time) string { return t.UTC().Format(intelTime) }

// upperHex is Intel's hex case in collateral JSON (fmspc, pceId, mrsigner, masks...).
func upperHex(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// The JSON shapes below list their fields in Intel's key order (encoding/json keeps struct
// order), so MarshalTCBInfo and MarshalQEIdentity write the same key sequence as PCS.

type tcbInfoJSON struct {
	ID                      string               `json:"id"`
	Version                 int                  `json:"version"`
	IssueDate               string               `json:"issueDate"`
	NextUpdate              string               `json:"nextUpdate"`
	FMSPC                   string               `json:"fmspc"`
	PCEID                   string               `json:"pceId"`
	TCBType                 int                  `json:"tcbType"`
	TCBEvaluationDataNumber int                  `json:"tcbEvaluationDataNumber"`
	TDXModule               *moduleJSON          `json:"tdxModule,omitempty"`
	TDXModuleIdentities     []moduleIdentityJSON `json:"tdxModuleIdentities,omitempty"`
	TCBLevels               []tcbLevelJSON       `json:"tcbLevels"`
}

type moduleJSON struct {
	MRSigner       string `json:"mrsigner"`
	Attributes     string `json:"attributes"`
	AttributesMask string `json:"attributesMask"`
}

type moduleIdentityJSON struct {
	ID string `json:"id"`
	moduleJSON
	TCBLevels []svnLevelJSON `json:"tcbLevels"`
}

type tcbLevelJSON struct {
	TCB struct {
		SGX    []componentJSON `json:"sgxtcbcomponents"`
		PCESVN uint16          `json:"pcesvn"`
		TDX    []componentJSON `json:"tdxtcbcomponents,omitempty"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

type componentJSON struct {
	SVN      byte   `json:"svn"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

type svnLevelJSON struct {
	TCB struct {
		ISVSVN uint16 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     string   `json:"tcbDate"`
	TCBStatus   string   `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
}

type qeIdentityJSON struct {
	ID                      string         `json:"id"`
	Version                 int            `json:"version"`
	IssueDate               string         `json:"issueDate"`
	NextUpdate              string         `json:"nextUpdate"`
	TCBEvaluationDataNumber int            `json:"tcbEvaluationDataNumber"`
	MiscSelect              string         `json:"miscselect"`
	MiscSelectMask          string         `json:"miscselectMask"`
	Attributes              string         `json:"attributes"`
	AttributesMask          string         `json:"attributesMask"`
	MRSigner                string         `json:"mrsigner"`
	ISVProdID               uint16         `json:"isvprodid"`
	TCBLevels               []svnLevelJSON `json:"tcbLevels"`
}

// MarshalTCBInfo writes the tcbInfo object of t as Intel's PCS does (version 3 layout): compact
// JSON, Intel's key order, dates as "2006-01-02T15:04:05Z", upper-case hex, optional members
// (advisoryIDs, component category/type, TDX members) only when set. tdxtcbcomponents are
// written when t.ID is "TDX". Raw and Signature are ignored.
func MarshalTCBInfo(t *pcs.TCBInfo) ([]byte, error) {
	w := tcbInfoJSON{
		ID: t.ID, Version: t.Version,
		IssueDate: formatTime(t.IssueDate), NextUpdate: formatTime(t.NextUpdate),
		FMSPC: t.FMSPC.String(), PCEID: t.PCEID.String(),
		TCBType: t.TCBType, TCBEvaluationDataNumber: t.TCBEvaluationDataNumber,
	}
	if t.TDXModule != nil {
		m := moduleOf(t.TDXModule)
		w.TDXModule = &m
	}
	for i := range t.TDXModuleIdentities {
		id := &t.TDXModuleIdentities[i]
		mi := moduleIdentityJSON{ID: id.ID, moduleJSON: moduleOf(&id.TDXModule)}
		for _, l := range id.Levels {
			mi.TCBLevels = append(mi.TCBLevels, svnLevel(uint16(l.ISVSVN), l.TCBDate, l.Status, l.AdvisoryIDs))
		}
		w.TDXModuleIdentities = append(w.TDXModuleIdentities, mi)
	}
	tdx := t.ID == pcs.TCBInfoIDTDX
	w.TCBLevels = make([]tcbLevelJSON, 0, len(t.Levels))
	for i := range t.Levels {
		w.TCBLevels = append(w.TCBLevels, tcbLevelOf(&t.Levels[i], tdx))
	}
	return compactJSON(&w)
}

func moduleOf(m *pcs.TDXModule) moduleJSON {
	return moduleJSON{MRSigner: upperHex(m.MRSigner[:]), Attributes: upperHex(m.Attributes[:]), AttributesMask: upperHex(m.AttributesMask[:])}
}

func tcbLevelOf(l *pcs.TCBLevel, tdx bool) tcbLevelJSON {
	var j tcbLevelJSON
	j.TCB.SGX = components(l.SGXComponents, l.SGXComponentInfo)
	j.TCB.PCESVN = l.PCESVN
	if tdx {
		j.TCB.TDX = components(l.TDXComponents, l.TDXComponentInfo)
	}
	j.TCBDate = formatTime(l.TCBDate)
	j.TCBStatus = string(l.Status)
	j.AdvisoryIDs = slices.Clone(l.AdvisoryIDs)
	return j
}

func components(svns [16]byte, info [16]pcs.ComponentInfo) []componentJSON {
	out := make([]componentJSON, 16)
	for i := range out {
		out[i] = componentJSON{SVN: svns[i], Category: info[i].Category, Type: info[i].Type}
	}
	return out
}

func svnLevel(svn uint16, date time.Time, status pcs.TCBStatus, advisories []string) svnLevelJSON {
	var j svnLevelJSON
	j.TCB.ISVSVN = svn
	j.TCBDate = formatTime(date)
	j.TCBStatus = string(status)
	j.AdvisoryIDs = slices.Clone(advisories)
	return j
}

// MarshalQEIdentity writes the enclaveIdentity object of q as Intel's PCS does (version 2
// layout): compact JSON in Intel's key order and formats. Raw and Signature are ignored.
func MarshalQEIdentity(q *pcs.QEIdentity) ([]byte, error) {
	w := qeIdentityJSON{
		ID: q.ID, Version: q.Version,
		IssueDate: formatTime(q.IssueDate), NextUpdate: formatTime(q.NextUpdate),
		TCBEvaluationDataNumber: q.TCBEvaluationDataNumber,
		MiscSelect:              upperHex(q.MiscSelect[:]),
		MiscSelectMask:          upperHex(q.MiscSelectMask[:]),
		Attributes:              upperHex(q.Attributes[:]),
		AttributesMask:          upperHex(q.AttributesMask[:]),
		MRSigner:                upperHex(q.MRSigner[:]),
		ISVProdID:               q.ISVProdID,
		TCBLevels:               make([]svnLevelJSON, 0, len(q.Levels)),
	}
	for _, l := range q.Levels {
		w.TCBLevels = append(w.TCBLevels, svnLevel(l.ISVSVN, l.TCBDate, l.Status, l.AdvisoryIDs))
	}
	return compactJSON(&w)
}

func compactJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("sim: collateral: marshal: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// signRaw returns the 64-byte r‖s ECDSA-P256-SHA256 signature of raw, the form of PCS document
// signatures (dcap spec §1).
func signRaw(key *ecdsa.PrivateKey, raw []byte) ([64]byte, error) {
	var sig [64]byte
	h := sha256.Sum256(raw)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return sig, fmt.Errorf("sim: collateral: sign: %w", err)
	}
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

// signTCBInfo marshals, signs and re-parses t; the result's Raw is exactly what was signed.
func signTCBInfo(key *ecdsa.PrivateKey, t *pcs.TCBInfo) (*pcs.TCBInfo, error) {
	raw, err := MarshalTCBInfo(t)
	if err != nil {
		return nil, err
	}
	sig, err := signRaw(key, raw)
	if err != nil {
		return nil, err
	}
	signed, err := pcs.ParseTCBInfoRaw(raw, hex.EncodeToString(sig[:]))
	if err != nil {
		return nil, fmt.Errorf("sim: collateral: tcb info does not parse: %w", err)
	}
	return signed, nil
}

// signQEIdentity marshals, signs and re-parses q.
func signQEIdentity(key *ecdsa.PrivateKey, q *pcs.QEIdentity) (*pcs.QEIdentity, error) {
	raw, err := MarshalQEIdentity(q)
	if err != nil {
		return nil, err
	}
	sig, err := signRaw(key, raw)
	if err != nil {
		return nil, err
	}
	signed, err := pcs.ParseQEIdentityRaw(raw, hex.EncodeToString(sig[:]))
	if err != nil {
		return nil, fmt.Errorf("sim: collateral: qe identity does not parse: %w", err)
	}
	return signed, nil
}

// TCBInfoBody returns the PCS response body of a signed TCB Info:
// {"tcbInfo":<Raw>,"signature":"<128 lower-case hex>"}.
func TCBInfoBody(t *pcs.TCBInfo) []byte { return documentBody("tcbInfo", t.Raw, t.Signature) }

// QEIdentityBody returns the PCS response body of a signed QE Identity:
// {"enclaveIdentity":<Raw>,"signature":"<128 lower-case hex>"}.
func QEIdentityBody(q *pcs.QEIdentity) []byte {
	return documentBody("enclaveIdentity", q.Raw, q.Signature)
}

func documentBody(member string, raw []byte, sig [64]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"` + member + `":`)
	b.Write(raw)
	b.WriteString(`,"signature":"` + hex.EncodeToString(sig[:]) + `"}`)
	return b.Bytes()
}

// cloneTCBInfo deep-copies the fields of t (not Raw/Signature) for editing.
func cloneTCBInfo(t *pcs.TCBInfo) *pcs.TCBInfo {
	c := *t
	c.Raw, c.Signature = nil, [64]byte{}
	if t.TDXModule != nil {
		m := *t.TDXModule
		c.TDXModule = &m
	}
	c.TDXModuleIdentities = slices.Clone(t.TDXModuleIdentities)
	for i := range c.TDXModuleIdentities {
		mi := &c.TDXModuleIdentities[i]
		mi.Levels = slices.Clone(mi.Levels)
		for j := range mi.Levels {
			mi.Levels[j].AdvisoryIDs = slices.Clone(mi.Levels[j].AdvisoryIDs)
		}
	}
	c.Levels = slices.Clone(t.Levels)
	for i := range c.Levels {
		c.Levels[i].AdvisoryIDs = slices.Clone(c.Levels[i].AdvisoryIDs)
	}
	return &c
}

// cloneQEIdentity deep-copies the fields of q (not Raw/Signature) for editing.
func cloneQEIdentity(q *pcs.QEIdentity) *pcs.QEIdentity {
	c := *q
	c.Raw, c.Signature = nil, [64]byte{}
	c.Levels = slices.Clone(q.Levels)
	for i := range c.Levels {
		c.Levels[i].AdvisoryIDs = slices.Clone(c.Levels[i].AdvisoryIDs)
	}
	return &c
}
