package sim

import (
	"crypto/sha256"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Default FMSPCs of the simulated platforms. They are not Intel FMSPCs, so simulated
// collateral never shares a cache key with real collateral.
var (
	DefaultSGXFMSPC = pcs.FMSPC{0x00, 0xA0, 0x51, 0xA1, 0x00, 0x00}
	DefaultTDXFMSPC = pcs.FMSPC{0xB0, 0xC0, 0x51, 0xA1, 0x00, 0x00}
)

// DefaultTCBEvaluationDataNumber is the tcbEvaluationDataNumber of the simulated collateral.
const DefaultTCBEvaluationDataNumber = 19

// Statuses lists the seven platform TCB statuses in the order the default TCB Info lists
// their levels. The world has one platform per TEE and status.
func Statuses() []pcs.TCBStatus {
	return []pcs.TCBStatus{
		pcs.StatusUpToDate,
		pcs.StatusSWHardeningNeeded,
		pcs.StatusConfigurationAndSWHardeningNeeded,
		pcs.StatusConfigurationNeeded,
		pcs.StatusOutOfDate,
		pcs.StatusOutOfDateConfigurationNeeded,
		pcs.StatusRevoked,
	}
}

// levelRow is one row of a default level table.
type levelRow struct {
	lead       byte // SGX components 1 and 2 (CPU microcode); distinct per row, descending
	config     byte // SGX component 7 (0 where configuration is needed)
	pcesvn     uint16
	date       string
	status     pcs.TCBStatus
	advisories []string
}

// The default tables: one level per status, in QVL's canonical (descending) order, so the
// platform built from a level's own components matches exactly that level.
var sgxRows = []levelRow{
	{16, 1, 16, "2025-05-14", pcs.StatusUpToDate, nil},
	{15, 1, 16, "2025-05-14", pcs.StatusSWHardeningNeeded, []string{"INTEL-SA-00615"}},
	{14, 0, 16, "2025-05-14", pcs.StatusConfigurationAndSWHardeningNeeded, []string{"INTEL-SA-00289", "INTEL-SA-00615"}},
	{13, 0, 16, "2025-05-14", pcs.StatusConfigurationNeeded, []string{"INTEL-SA-00289"}},
	{12, 1, 13, "2024-03-13", pcs.StatusOutOfDate, []string{"INTEL-SA-00828", "INTEL-SA-00615"}},
	{11, 0, 13, "2024-03-13", pcs.StatusOutOfDateConfigurationNeeded, []string{"INTEL-SA-00289", "INTEL-SA-00828", "INTEL-SA-00615"}},
	{5, 0, 5, "2018-01-04", pcs.StatusRevoked, []string{"INTEL-SA-00106", "INTEL-SA-00115", "INTEL-SA-00135"}},
}

var tdxRows = []levelRow{
	{9, 0, 13, "2025-05-14", pcs.StatusUpToDate, nil},
	{8, 0, 13, "2025-05-14", pcs.StatusSWHardeningNeeded, []string{"INTEL-SA-01036"}},
	{7, 0, 13, "2025-05-14", pcs.StatusConfigurationAndSWHardeningNeeded, []string{"INTEL-SA-00960", "INTEL-SA-01036"}},
	{6, 0, 13, "2025-05-14", pcs.StatusConfigurationNeeded, []string{"INTEL-SA-00960"}},
	{4, 0, 11, "2024-03-13", pcs.StatusOutOfDate, []string{"INTEL-SA-00837"}},
	{3, 0, 11, "2024-03-13", pcs.StatusOutOfDateConfigurationNeeded, []string{"INTEL-SA-00837", "INTEL-SA-00960"}},
	{2, 0, 5, "2018-01-04", pcs.StatusRevoked, []string{"INTEL-SA-00106", "INTEL-SA-00115", "INTEL-SA-00837"}},
}

// Descriptions Intel attaches to the components of TDX TCB Info levels.
var (
	sgxComponentInfo = [16]pcs.ComponentInfo{
		{Category: "BIOS", Type: "Early Microcode Update"},
		{Category: "OS/VMM", Type: "SGX Late Microcode Update"},
		{Category: "OS/VMM", Type: "TXT SINIT"},
		{Category: "BIOS"}, {Category: "BIOS"}, {Category: "BIOS"}, {},
		{Category: "OS/VMM", Type: "SEAMLDR ACM"},
	}
	tdxComponentInfo = [16]pcs.ComponentInfo{
		{Category: "OS/VMM", Type: "TDX Module"},
		{Category: "OS/VMM", Type: "TDX Module"},
		{Category: "OS/VMM", Type: "TDX Late Microcode Update"},
	}
)

// DefaultSGXLevels returns the TCB levels of the default SGX TCB Info: one per status, each
// with Intel-style advisory IDs (none for UpToDate).
func DefaultSGXLevels() []pcs.TCBLevel {
	out := make([]pcs.TCBLevel, 0, len(sgxRows))
	for _, r := range sgxRows {
		l := r.level()
		l.SGXComponents = [16]byte{r.lead, r.lead, 3, 3, 255, 255, r.config}
		out = append(out, l)
	}
	return out
}

// DefaultTDXLevels returns the TCB levels of the default TDX TCB Info: one per status; every
// level has TDX components [5 0 2 0 …] (module SVN 5, major 0, TDX late microcode 2).
func DefaultTDXLevels() []pcs.TCBLevel {
	out := make([]pcs.TCBLevel, 0, len(tdxRows))
	for _, r := range tdxRows {
		l := r.level()
		l.SGXComponents = [16]byte{r.lead, r.lead, 2, 2, 3, 1, r.config, 5}
		l.TDXComponents = [16]byte{5, 0, 2}
		l.SGXComponentInfo = sgxComponentInfo
		l.TDXComponentInfo = tdxComponentInfo
		out = append(out, l)
	}
	return out
}

func (r levelRow) level() pcs.TCBLevel {
	return pcs.TCBLevel{
		PCESVN:      r.pcesvn,
		TCBDate:     mustDate(r.date),
		Status:      r.status,
		AdvisoryIDs: append([]string(nil), r.advisories...),
	}
}

func mustDate(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic("sim: bad built-in date " + s)
	}
	return t
}

// The simulated TDX module: major version 1 (identity "TDX_01"), ISV SVN 6, signed by Intel's
// all-zero MRSIGNERSEAM like the real module.
const (
	tdxModuleMajor  = 1
	tdxModuleISVSVN = 6
)

// defaultModule is the tdxModule and module identity signer values (Intel's: zero MRSIGNER,
// zero attributes, all-ones mask).
func defaultModule() pcs.TDXModule {
	return pcs.TDXModule{AttributesMask: [8]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}}
}

// defaultModuleIdentities mirrors Intel's: TDX_03 and TDX_01 with UpToDate/OutOfDate levels.
func defaultModuleIdentities() []pcs.TDXModuleIdentity {
	return []pcs.TDXModuleIdentity{
		{ID: "TDX_03", TDXModule: defaultModule(), Levels: []pcs.ModuleLevel{
			{ISVSVN: 3, TCBDate: mustDate("2024-03-13"), Status: pcs.StatusUpToDate},
		}},
		{ID: "TDX_01", TDXModule: defaultModule(), Levels: []pcs.ModuleLevel{
			{ISVSVN: 4, TCBDate: mustDate("2024-03-13"), Status: pcs.StatusUpToDate},
			{ISVSVN: 2, TCBDate: mustDate("2023-08-09"), Status: pcs.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00837"}},
		}},
	}
}

// qeSpec is a simulated quoting enclave: the values of its report and of its identity.
type qeSpec struct {
	id        string // pcs.QEIDQE or pcs.QEIDTDQE
	mrEnclave quote.Measurement
	mrSigner  quote.Measurement
	prodID    uint16
	svn       uint16 // the QE's own ISVSVN (the newest identity level)
	levels    []pcs.QELevel
}

// label derives a fixed, obviously non-Intel measurement from a text.
func label(s string) quote.Measurement { return sha256.Sum256([]byte("secretprov simulated " + s)) }

// qeAttributes are the QE report ATTRIBUTES: INIT|MODE64BIT|PROVISIONKEY, XFRM 0xE7, as in real
// quotes; the identity requires INIT|PROVISIONKEY under mask FBFF…, i.e. DEBUG clear.
var (
	qeAttributes         = [16]byte{0x15, 8: 0xE7}
	qeIdentityAttributes = [16]byte{0x11}
	qeIdentityAttrMask   = [16]byte{0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}
	qeMiscSelectMask     = [4]byte{0xFF, 0xFF, 0xFF, 0xFF}
)

func qeFor(tee quote.TEE) qeSpec {
	if tee == quote.TEETDX {
		return qeSpec{
			id: pcs.QEIDTDQE, mrEnclave: label("TD quoting enclave"), mrSigner: label("TD quoting enclave signer"),
			prodID: 2, svn: 4,
			levels: []pcs.QELevel{
				{ISVSVN: 4, TCBDate: mustDate("2024-03-13"), Status: pcs.StatusUpToDate},
				{ISVSVN: 2, TCBDate: mustDate("2023-08-09"), Status: pcs.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00837"}},
			},
		}
	}
	return qeSpec{
		id: pcs.QEIDQE, mrEnclave: label("quoting enclave"), mrSigner: label("quoting enclave signer"),
		prodID: 1, svn: 8,
		levels: []pcs.QELevel{
			{ISVSVN: 8, TCBDate: mustDate("2024-03-13"), Status: pcs.StatusUpToDate},
			{ISVSVN: 6, TCBDate: mustDate("2021-11-10"), Status: pcs.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00615"}},
			{ISVSVN: 5, TCBDate: mustDate("2020-11-11"), Status: pcs.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00477", "INTEL-SA-00615"}},
			{ISVSVN: 2, TCBDate: mustDate("2019-05-15"), Status: pcs.StatusOutOfDate, AdvisoryIDs: []string{"INTEL-SA-00219", "INTEL-SA-00293", "INTEL-SA-00334", "INTEL-SA-00477", "INTEL-SA-00615"}},
		},
	}
}

// qeIdentityFor is the unsigned QE Identity document of the simulated QE for tee.
func qeIdentityFor(tee quote.TEE, issue, next time.Time) *pcs.QEIdentity {
	qe := qeFor(tee)
	return &pcs.QEIdentity{
		ID: qe.id, Version: 2, IssueDate: issue, NextUpdate: next,
		TCBEvaluationDataNumber: DefaultTCBEvaluationDataNumber,
		MiscSelectMask:          qeMiscSelectMask,
		Attributes:              qeIdentityAttributes,
		AttributesMask:          qeIdentityAttrMask,
		MRSigner:                qe.mrSigner,
		ISVProdID:               qe.prodID,
		Levels:                  append([]pcs.QELevel(nil), qe.levels...),
	}
}
