package verify

import (
	"bytes"
	"encoding/hex"
	"slices"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// Result is what verification established about a quote. It is plain data; its JSON form is
// the CLI's contract (`secretprov quote verify --json`), so fields are only ever added.
//
// A Result is returned with every error once the quote parsed; fields that were not reached
// are zero (TCBStatus is empty when no TCB level was determined).
type Result struct {
	TEE          string `json:"tee"` // "sgx" or "tdx"
	QuoteVersion int    `json:"quote_version"`
	// TCBStatus is Intel's status string after convergence with the QE (and, for TDX, the
	// TDX module) status, as Intel's QvE reports it.
	TCBStatus pcs.TCBStatus `json:"tcb_status"`
	// AdvisoryIDs are the Intel security advisories of the matched platform TCB level (for
	// TDX, the TDX level), as QvE reports them; never nil (empty when no level matched).
	AdvisoryIDs []string `json:"advisory_ids"`
	// CollateralExpired is set when the verification time is outside the validity of any
	// certificate, CRL, TCB Info or QE Identity involved (before notBefore/thisUpdate/
	// issueDate or after notAfter/nextUpdate).
	CollateralExpired bool      `json:"collateral_expired"`
	FMSPC             string    `json:"fmspc"`                          // from the PCK certificate, upper-case hex
	TCBDate           time.Time `json:"tcb_date,omitzero"`              // tcbDate of the matched platform level
	EarliestExpiry    time.Time `json:"earliest_expiry,omitzero"`       // earliest notAfter/nextUpdate involved
	TCBEvalDataNumber int       `json:"tcb_eval_data_number,omitempty"` // min of TCB Info's and QE Identity's

	Identity

	// The statuses before convergence, for logs: the matched platform level (TDX level for
	// TDX), the QE identity level and the TDX module identity level.
	PlatformStatus    pcs.TCBStatus `json:"platform_status,omitempty"`
	QEStatus          pcs.TCBStatus `json:"qe_status,omitempty"`
	ModuleStatus      pcs.TCBStatus `json:"module_status,omitempty"`
	QEAdvisoryIDs     []string      `json:"qe_advisory_ids,omitempty"`
	ModuleAdvisoryIDs []string      `json:"module_advisory_ids,omitempty"`
	// TDRelaunchAdvised is Intel's TD_RELAUNCH_ADVISED (TDX 1.5 quotes only): the platform is
	// out of date only because the TD runs on an old TDX module and relaunching it would fix
	// that. TCBStatus then stays OutOfDate(ConfigurationNeeded).
	TDRelaunchAdvised bool `json:"td_relaunch_advised,omitempty"`

	// The quote's body (shared with the Quote, not copied); Identity holds copies.
	SGX *quote.EnclaveReport `json:"-"` // the enclave report of an SGX quote
	TDX *quote.TDReport      `json:"-"` // the TD report of a TDX quote
}

// Identity is the enclave or TD identity taken from the quote body, flattened into Result's
// JSON. Fields that do not apply to the quote's TEE are nil and omitted; fields that apply are
// set even when zero.
type Identity struct {
	// SGX
	MREnclave  *quote.Measurement `json:"mrenclave,omitempty"`
	MRSigner   *quote.Measurement `json:"mrsigner,omitempty"`
	ISVProdID  *uint16            `json:"isv_prod_id,omitempty"`
	ISVSVN     *uint16            `json:"isv_svn,omitempty"`
	Attributes Hex                `json:"attributes,omitempty"` // 16 bytes: FLAGS ‖ XFRM
	// TDX
	MRTD         *quote.TDMeasurement  `json:"mrtd,omitempty"`
	RTMRs        []quote.TDMeasurement `json:"rtmrs,omitempty"`         // RTMR0..3
	TDAttributes Hex                   `json:"td_attributes,omitempty"` // 8 bytes
	// Both
	Debug      *bool `json:"debug,omitempty"` // SGX ATTRIBUTES.DEBUG or TDATTRIBUTES.DEBUG
	ReportData Hex   `json:"report_data,omitempty"`
}

// Hex is a byte string whose text (and JSON) form is lower-case hex.
type Hex []byte

// String returns lower-case hex.
func (h Hex) String() string { return hex.EncodeToString(h) }

// MarshalText implements encoding.TextMarshaler.
func (h Hex) MarshalText() ([]byte, error) { return hex.AppendEncode(nil, h), nil }

// newResult fills what the parsed quote alone says. ok is false for a hand-built Quote whose
// body does not agree with its header.
func newResult(q *quote.Quote) (*Result, bool) {
	r := &Result{TEE: q.Header.TEE.String(), QuoteVersion: int(q.Header.Version), AdvisoryIDs: []string{}}
	switch {
	case q.SGX != nil && q.TDX == nil && q.Header.TEE == quote.TEESGX:
		r.SGX = q.SGX
		r.Identity = sgxIdentity(q.SGX)
	case q.TDX != nil && q.SGX == nil && q.Header.TEE == quote.TEETDX:
		r.TDX = q.TDX
		r.Identity = tdxIdentity(q.TDX)
	default:
		return r, false
	}
	return r, true
}

func sgxIdentity(b *quote.EnclaveReport) Identity {
	mrenclave, mrsigner := b.MREnclave, b.MRSigner
	prod, svn, debug := b.ISVProdID, b.ISVSVN, b.Debug()
	return Identity{
		MREnclave:  &mrenclave,
		MRSigner:   &mrsigner,
		ISVProdID:  &prod,
		ISVSVN:     &svn,
		Attributes: Hex(bytes.Clone(b.Attributes[:])),
		Debug:      &debug,
		ReportData: Hex(bytes.Clone(b.ReportData[:])),
	}
}

func tdxIdentity(b *quote.TDReport) Identity {
	mrtd, debug := b.MRTD, b.Debug()
	return Identity{
		MRTD:         &mrtd,
		RTMRs:        slices.Clone(b.RTMRs[:]),
		TDAttributes: Hex(bytes.Clone(b.TDAttributes[:])),
		Debug:        &debug,
		ReportData:   Hex(bytes.Clone(b.ReportData[:])),
	}
}
