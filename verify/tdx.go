package verify

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

const stepTDXModule = "tdx module"

// moduleVerdict is the TDX module identity check (dcap spec §5.5 step 6, §5.7 last paragraph).
type moduleVerdict struct {
	identity *pcs.TDXModuleIdentity // nil when TEE_TCB_SVN[1] == 0 (module status UpToDate)
	level    *pcs.ModuleLevel
}

func (m *moduleVerdict) status() pcs.TCBStatus {
	if m.identity == nil {
		return pcs.StatusUpToDate
	}
	if m.level == nil {
		return ""
	}
	return m.level.Status
}

// moduleID is the identity id for a module major version, e.g. 1 → "TDX_01".
func moduleID(major byte) string {
	return "TDX_" + strings.ToUpper(hex.EncodeToString([]byte{major}))
}

// findModuleIdentity returns the identity for a module major version (id compared ignoring
// case), or nil.
func findModuleIdentity(t *pcs.TCBInfo, major byte) *pcs.TDXModuleIdentity {
	id := moduleID(major)
	for i := range t.TDXModuleIdentities {
		if strings.EqualFold(t.TDXModuleIdentities[i].ID, id) {
			return &t.TDXModuleIdentities[i]
		}
	}
	return nil
}

// checkTDXModule compares MRSIGNERSEAM and SEAMATTRIBUTES with the expected module signer and
// finds the module's TCB level. With TEE_TCB_SVN[1] (module major version) zero the signer is
// tdxModule and the module status is UpToDate; otherwise it is the identity TDX_<major>, whose
// first level with isvsvn <= TEE_TCB_SVN[0] gives the status.
func checkTDXModule(r *quote.TDReport, t *pcs.TCBInfo) (*moduleVerdict, error) {
	if t.TDXModule == nil {
		return nil, fail(ReasonCollateralMismatch, stepTDXModule, errors.New("tcb info has no tdxModule"))
	}
	mv := &moduleVerdict{}
	want := t.TDXModule
	if major := r.TEETCBSVN[1]; major > 0 {
		mv.identity = findModuleIdentity(t, major)
		if mv.identity == nil {
			return nil, mismatch(ReasonCollateralMismatch, stepTDXModule, "tcb info has no identity for the TDX module version",
				moduleID(major), "no such tdxModuleIdentities entry")
		}
		want = &mv.identity.TDXModule
	}
	if r.MRSignerSEAM != want.MRSigner {
		return nil, mismatch(ReasonCollateralMismatch, stepTDXModule, "MRSIGNERSEAM differs from the TDX module signer",
			want.MRSigner.String(), r.MRSignerSEAM.String())
	}
	if r.SEAMAttributes != want.Attributes || r.SEAMAttributes != [8]byte{} {
		return nil, mismatch(ReasonCollateralMismatch, stepTDXModule, "SEAMATTRIBUTES differ from the TDX module attributes",
			hex.EncodeToString(want.Attributes[:]), hex.EncodeToString(r.SEAMAttributes[:]))
	}
	if mv.identity == nil {
		return mv, nil
	}
	for i := range mv.identity.Levels {
		if mv.identity.Levels[i].ISVSVN <= r.TEETCBSVN[0] {
			mv.level = &mv.identity.Levels[i]
			return mv, nil
		}
	}
	return mv, mismatch(ReasonTCBNotSupported, stepTDXModule, "TDX module ISVSVN is below every module TCB level",
		fmt.Sprintf(">= %d", mv.identity.Levels[len(mv.identity.Levels)-1].ISVSVN), fmt.Sprint(r.TEETCBSVN[0]))
}

// evaluateTDX finds the TDX platform level: the first level (canonical order) that the PCK's
// SGX components and PCESVN meet and whose TDX components TEE_TCB_SVN meets, from index 0, or
// from index 2 when the module major version is non-zero (bytes 0 and 1 are then judged by
// the module identity). The first level meeting only the SGX part is kept for the relaunch
// rule.
func (v *verdict) evaluateTDX(q *quote.Quote, c *pckChain, col *collateral) error {
	mv, err := checkTDXModule(q.TDX, col.tcb)
	v.module = mv
	if err != nil {
		return err
	}
	svn := q.TDX.TEETCBSVN
	from := 0
	if svn[1] > 0 {
		from = 2
	}
	for i := range col.levels {
		l := &col.levels[i]
		if !sgxMatches(l, c.ext) {
			continue
		}
		if v.sgx == nil {
			v.sgx = l
		}
		if atLeast(svn[:], l.TDXComponents[:], from) {
			v.platform = l
			break
		}
	}
	if v.platform == nil {
		return noLevel(c.ext, fmt.Sprintf(", tee tcb svn %x", svn))
	}
	return nil
}

// relaunchAdvised applies Intel's TD relaunch rule (dcap spec §5.8, TDX 1.5 quotes only): the
// platform is out of date only because of the TDX module the TD was launched on, while the
// current module (TEE_TCB_SVN2) meets the newest TCB level.
func (v *verdict) relaunchAdvised(r *quote.TDReport, col *collateral, tdxStatus pcs.TCBStatus) (bool, error) {
	if !r.V15 || v.qe == nil || v.qe.Status != pcs.StatusUpToDate || v.module == nil ||
		v.module.status() != pcs.StatusOutOfDate {
		return false, nil
	}
	switch v.sgx.Status {
	case pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded, pcs.StatusConfigurationNeeded,
		pcs.StatusConfigurationAndSWHardeningNeeded:
	default:
		return false, nil
	}
	if tdxStatus != pcs.StatusOutOfDate && tdxStatus != pcs.StatusOutOfDateConfigurationNeeded {
		return false, nil
	}
	newest, svn2 := &col.levels[0], r.TEETCBSVN2
	if svn2[1] == 0 {
		return svn2[0] >= newest.TDXComponents[0] && svn2[2] >= newest.TDXComponents[2], nil
	}
	id := findModuleIdentity(col.tcb, svn2[1])
	if id == nil || len(id.Levels) == 0 {
		return false, mismatch(ReasonCollateralMismatch, stepTDXModule, "tcb info has no identity for the current TDX module version",
			moduleID(svn2[1]), "no such tdxModuleIdentities entry")
	}
	return svn2[0] >= id.Levels[0].ISVSVN && svn2[2] >= newest.TDXComponents[2], nil
}
