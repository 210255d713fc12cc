package pcs

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

type tcbLevelWire struct {
	TCB         json.RawMessage `json:"tcb"`
	TCBDate     *string         `json:"tcbDate"`
	TCBStatus   *string         `json:"tcbStatus"`
	AdvisoryIDs []string        `json:"advisoryIDs"`
}

// tcbV3Wire is a version 3 level's "tcb" object.
type tcbV3Wire struct {
	SGX    []componentWire `json:"sgxtcbcomponents"`
	PCESVN *uint16         `json:"pcesvn"`
	TDX    []componentWire `json:"tdxtcbcomponents"`
}

type componentWire struct {
	SVN      *uint8  `json:"svn"`
	Category *string `json:"category"`
	Type     *string `json:"type"`
}

type tdxModuleWire struct {
	MRSigner       *string `json:"mrsigner"`
	Attributes     *string `json:"attributes"`
	AttributesMask *string `json:"attributesMask"`
}

type tdxModuleIdentityWire struct {
	ID *string `json:"id"`
	tdxModuleWire
	TCBLevels []moduleLevelWire `json:"tcbLevels"`
}

type moduleLevelWire struct {
	TCB *struct {
		ISVSVN *uint8 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     *string  `json:"tcbDate"`
	TCBStatus   *string  `json:"tcbStatus"`
	AdvisoryIDs []string `json:"advisoryIDs"`
}

type levelKey struct {
	sgx [16]byte
	pce uint16
	tdx [16]byte
}

// parseTCBLevels converts and checks the platform levels: non-empty, bounded, valid statuses,
// no two levels with the same components and PCESVN.
func parseTCBLevels(ws []tcbLevelWire, version int, tdx bool) ([]TCBLevel, error) {
	if len(ws) == 0 {
		return nil, fmt.Errorf("tcbLevels: missing or empty")
	}
	if len(ws) > MaxTCBLevels {
		return nil, fmt.Errorf("tcbLevels: more than %d", MaxTCBLevels)
	}
	levels := make([]TCBLevel, len(ws))
	seen := make(map[levelKey]bool, len(ws))
	for i := range ws {
		l := &levels[i]
		if err := l.fill(&ws[i], version, tdx); err != nil {
			return nil, fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
		k := levelKey{l.SGXComponents, l.PCESVN, l.TDXComponents}
		if seen[k] {
			return nil, fmt.Errorf("tcbLevels[%d]: duplicate level", i)
		}
		seen[k] = true
	}
	return levels, nil
}

func (l *TCBLevel) fill(w *tcbLevelWire, version int, tdx bool) error {
	if len(w.TCB) == 0 || string(w.TCB) == "null" {
		return missing("tcb")
	}
	var err error
	if version == 2 {
		err = l.fillTCBv2(w.TCB)
	} else {
		err = l.fillTCBv3(w.TCB, tdx)
	}
	if err != nil {
		return err
	}
	if l.TCBDate, err = parseDate("tcbDate", w.TCBDate); err != nil {
		return err
	}
	if w.TCBStatus == nil {
		return missing("tcbStatus")
	}
	if l.Status = TCBStatus(*w.TCBStatus); !l.Status.Valid() {
		return fmt.Errorf("tcbStatus: unknown %q", *w.TCBStatus)
	}
	l.AdvisoryIDs = w.AdvisoryIDs
	return checkAdvisories(w.AdvisoryIDs)
}

// fillTCBv2 reads {"sgxtcbcomp01svn":n, …, "sgxtcbcomp16svn":n, "pcesvn":n}.
func (l *TCBLevel) fillTCBv2(raw json.RawMessage) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("tcb: %w", err)
	}
	for i := range l.SGXComponents {
		name := fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)
		v, ok := m[name]
		if !ok || string(v) == "null" {
			return missing("tcb." + name)
		}
		if err := json.Unmarshal(v, &l.SGXComponents[i]); err != nil {
			return fmt.Errorf("tcb.%s: %w", name, err)
		}
	}
	v, ok := m["pcesvn"]
	if !ok || string(v) == "null" {
		return missing("tcb.pcesvn")
	}
	if err := json.Unmarshal(v, &l.PCESVN); err != nil {
		return fmt.Errorf("tcb.pcesvn: %w", err)
	}
	return nil
}

func (l *TCBLevel) fillTCBv3(raw json.RawMessage, tdx bool) error {
	var w tcbV3Wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return fmt.Errorf("tcb: %w", err)
	}
	if err := fillComponents("sgxtcbcomponents", w.SGX, &l.SGXComponents, &l.SGXComponentInfo); err != nil {
		return err
	}
	if w.PCESVN == nil {
		return missing("tcb.pcesvn")
	}
	l.PCESVN = *w.PCESVN
	switch {
	case tdx:
		return fillComponents("tdxtcbcomponents", w.TDX, &l.TDXComponents, &l.TDXComponentInfo)
	case w.TDX != nil:
		return fmt.Errorf("tcb.tdxtcbcomponents: present in an SGX TCB Info")
	}
	return nil
}

func fillComponents(field string, ws []componentWire, svns *[16]byte, info *[16]ComponentInfo) error {
	if len(ws) != len(svns) {
		return fmt.Errorf("tcb.%s: want %d components, got %d", field, len(svns), len(ws))
	}
	for i, c := range ws {
		if c.SVN == nil {
			return missing(fmt.Sprintf("tcb.%s[%d].svn", field, i))
		}
		svns[i] = *c.SVN
		if c.Category != nil {
			info[i].Category = *c.Category
		}
		if c.Type != nil {
			info[i].Type = *c.Type
		}
	}
	return nil
}

// fillTDX applies the id-specific rules: an SGX TCB Info has no tdxModule*, a TDX one has a
// tdxModule and optionally module identities.
func (t *TCBInfo) fillTDX(w *tcbInfoWire) error {
	if t.ID != TCBInfoIDTDX {
		if w.TDXModule != nil || w.TDXModuleIdentities != nil {
			return fmt.Errorf("tdxModule: present in an SGX TCB Info")
		}
		return nil
	}
	if w.TDXModule == nil {
		return missing("tdxModule")
	}
	t.TDXModule = &TDXModule{}
	if err := t.TDXModule.fill("tdxModule", w.TDXModule); err != nil {
		return err
	}
	if w.TDXModuleIdentities == nil {
		return nil
	}
	ids, err := parseModuleIdentities(*w.TDXModuleIdentities)
	t.TDXModuleIdentities = ids
	return err
}

func (m *TDXModule) fill(field string, w *tdxModuleWire) error {
	if err := hexField(field+".mrsigner", w.MRSigner, m.MRSigner[:]); err != nil {
		return err
	}
	if err := hexField(field+".attributes", w.Attributes, m.Attributes[:]); err != nil {
		return err
	}
	return hexField(field+".attributesMask", w.AttributesMask, m.AttributesMask[:])
}

func parseModuleIdentities(ws []tdxModuleIdentityWire) ([]TDXModuleIdentity, error) {
	if len(ws) > MaxModules {
		return nil, fmt.Errorf("tdxModuleIdentities: more than %d", MaxModules)
	}
	ids := make([]TDXModuleIdentity, len(ws))
	seen := make(map[uint8]bool, len(ws))
	for i := range ws {
		field := fmt.Sprintf("tdxModuleIdentities[%d]", i)
		if err := ids[i].fill(field, &ws[i]); err != nil {
			return nil, err
		}
		v := ids[i].MajorVersion()
		if seen[v] {
			return nil, fmt.Errorf("%s: duplicate id %q", field, ids[i].ID)
		}
		seen[v] = true
	}
	return ids, nil
}

func (m *TDXModuleIdentity) fill(field string, w *tdxModuleIdentityWire) error {
	if w.ID == nil {
		return missing(field + ".id")
	}
	if _, ok := parseModuleID(*w.ID); !ok {
		return fmt.Errorf("%s.id: %q is not TDX_<2 hex digits>", field, *w.ID)
	}
	m.ID = *w.ID
	if err := m.TDXModule.fill(field, &w.tdxModuleWire); err != nil {
		return err
	}
	levels, err := parseModuleLevels(field, w.TCBLevels)
	m.Levels = levels
	return err
}

func parseModuleLevels(field string, ws []moduleLevelWire) ([]ModuleLevel, error) {
	if len(ws) == 0 {
		return nil, fmt.Errorf("%s.tcbLevels: missing or empty", field)
	}
	if len(ws) > MaxTCBLevels {
		return nil, fmt.Errorf("%s.tcbLevels: more than %d", field, MaxTCBLevels)
	}
	levels := make([]ModuleLevel, len(ws))
	seen := make(map[uint8]bool, len(ws))
	for i, w := range ws {
		lf := fmt.Sprintf("%s.tcbLevels[%d]", field, i)
		if w.TCB == nil || w.TCB.ISVSVN == nil {
			return nil, missing(lf + ".tcb.isvsvn")
		}
		l := &levels[i]
		l.ISVSVN = *w.TCB.ISVSVN
		if seen[l.ISVSVN] {
			return nil, fmt.Errorf("%s: duplicate isvsvn %d", lf, l.ISVSVN)
		}
		seen[l.ISVSVN] = true
		var err error
		if l.TCBDate, err = parseDate(lf+".tcbDate", w.TCBDate); err != nil {
			return nil, err
		}
		if w.TCBStatus == nil {
			return nil, missing(lf + ".tcbStatus")
		}
		if l.Status = TCBStatus(*w.TCBStatus); !l.Status.validModule() {
			return nil, fmt.Errorf("%s.tcbStatus: %q not allowed for a TDX module", lf, *w.TCBStatus)
		}
		l.AdvisoryIDs = w.AdvisoryIDs
		if err := checkAdvisories(w.AdvisoryIDs); err != nil {
			return nil, fmt.Errorf("%s: %w", lf, err)
		}
	}
	return levels, nil
}

// parseModuleID parses "TDX_<2 hex digits>" into the major version. The whole id is
// case-insensitive ("tdx_0b" too), as QVL's lookup is (dcap spec §5.5 step 6).
func parseModuleID(id string) (uint8, bool) {
	const prefix = "TDX_"
	if len(id) != len(prefix)+2 || !strings.EqualFold(id[:len(prefix)], prefix) {
		return 0, false
	}
	var b [1]byte
	if _, err := hex.Decode(b[:], []byte(id[len(prefix):])); err != nil {
		return 0, false
	}
	return b[0], true
}
