package sim

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"

	"github.com/secretprov/secretprov/quote"
)

// Identity is what the quoted enclave (SGX) or trust domain (TDX) is. SGX fields are used on
// SGX platforms and TDX fields on TDX platforms; the others are ignored. Zero attributes mean
// the values real workloads have (see the fields); Debug sets the debug bit on top.
type Identity struct {
	// SGX enclave.
	MREnclave    quote.Measurement
	MRSigner     quote.Measurement
	ISVProdID    uint16
	ISVSVN       uint16
	Attributes   [16]byte // zero: INIT|MODE64BIT, XFRM 0xE7 (0500…00E700…00)
	MiscSelect   uint32
	ConfigSVN    uint16
	ConfigID     [64]byte
	ISVExtProdID [16]byte
	ISVFamilyID  [16]byte

	// TDX trust domain.
	MRTD          quote.TDMeasurement
	RTMRs         [4]quote.TDMeasurement
	MRConfigID    quote.TDMeasurement
	MROwner       quote.TDMeasurement
	MROwnerConfig quote.TDMeasurement
	TDAttributes  [8]byte // zero: SEPT_VE_DISABLE only (0000001000000000), as in the real vectors
	XFAM          [8]byte // zero: E702060000000000

	// Debug sets SGX ATTRIBUTES.DEBUG or TDATTRIBUTES.DEBUG (TUD bit 0).
	Debug bool
}

var (
	defaultSGXAttributes = [16]byte{0x05, 8: 0xE7}
	defaultTDAttributes  = [8]byte{3: 0x10}
	defaultXFAM          = [8]byte{0xE7, 0x02, 0x06}
)

// DefaultIdentity is the identity of the simulated demo workload: fixed, obviously synthetic
// MRENCLAVE, MRSIGNER (SHA-256 of labels) and MRTD (SHA-384 of a label), ISVPRODID 0, ISVSVN
// 0, not debug.
func DefaultIdentity() Identity {
	return Identity{
		MREnclave: label("enclave"),
		MRSigner:  label("enclave signer"),
		MRTD:      sha512.Sum384([]byte("secretprov simulated trust domain")),
	}
}

// QuoteHooks let a test forge a quote at the three points where a real one is produced. Each
// hook may change anything in the quote; what was already signed is then no longer valid.
type QuoteHooks struct {
	// BeforeQESign runs when the quote is assembled (header, body, attestation key, QE
	// authentication data, certification data, and the QE report with REPORTDATA =
	// SHA-256(attestation key ‖ auth data) ‖ zeros), before the PCK key signs the QE report.
	BeforeQESign func(q *quote.Quote)
	// BeforeSign runs after the QE report is signed, before the attestation key signs the
	// header and body (quote.Quote.SignedData).
	BeforeSign func(q *quote.Quote)
	// AfterSign runs on the finished quote, before it is encoded.
	AfterSign func(q *quote.Quote)
}

// Enclave is a workload running on a simulated platform. Its Quote method satisfies
// ratls.Attester, so it can stand in for Gramine's /dev/attestation or TDX's configfs-tsm.
type Enclave struct {
	Platform *Platform
	Identity Identity
	Hooks    QuoteHooks // zero: an honest quote
}

// Enclave returns an enclave (SGX) or trust domain (TDX) with identity id on p.
func (p *Platform) Enclave(id Identity) *Enclave { return &Enclave{Platform: p, Identity: id} }

// Quote returns a binary quote whose report data is reportData: SGX v3 on an SGX platform, TDX
// v4 (TD report 1.0, type-6 certification data) on a TDX platform, with the platform's PCK
// chain as type-5 certification data. It only fails if the context is done or signing fails.
func (e *Enclave) Quote(ctx context.Context, reportData [64]byte) ([]byte, error) {
	q, err := e.QuoteValue(ctx, reportData)
	if err != nil {
		return nil, err
	}
	return q.Marshal(), nil
}

// QuoteValue is Quote without the final encoding.
func (e *Enclave) QuoteValue(ctx context.Context, reportData [64]byte) (*quote.Quote, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sim: quote: %w", err)
	}
	p := e.Platform
	q, err := p.assemble(&e.Identity, reportData)
	if err != nil {
		return nil, err
	}
	run(e.Hooks.BeforeQESign, q)
	p.world.mu.RLock()
	pckKey := p.pckKey
	p.world.mu.RUnlock()
	if q.QEReportSignature, err = signRaw(pckKey, q.QEReportBytes()); err != nil {
		return nil, err
	}
	run(e.Hooks.BeforeSign, q)
	if q.Signature, err = signRaw(p.attKey, q.SignedData()); err != nil {
		return nil, err
	}
	run(e.Hooks.AfterSign, q)
	return q, nil
}

func run(hook func(*quote.Quote), q *quote.Quote) {
	if hook != nil {
		hook(q)
	}
}

// qeAuthData is the QE authentication data of Intel's QE: the 32 bytes 00 01 … 1F.
func qeAuthData() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// assemble builds the unsigned quote: header, body, attestation key, QE report bound to it,
// QE authentication data and the PCK chain.
func (p *Platform) assemble(id *Identity, reportData [64]byte) (*quote.Quote, error) {
	ecdhPub, err := p.attKey.PublicKey.ECDH()
	if err != nil {
		return nil, fmt.Errorf("sim: quote: attestation key: %w", err)
	}
	qe := qeFor(p.tee)
	ext := p.Extensions()
	q := &quote.Quote{
		Header: quote.Header{
			Version: 3, AttestationKeyType: quote.AttestationKeyECDSAP256, TEE: p.tee,
			QESVN: qe.svn, PCESVN: ext.PCESVN, QEVendorID: quote.IntelQEVendorID(),
		},
		QEAuthData:   qeAuthData(),
		CertDataType: quote.CertDataPCKChain,
		CertData:     chainPEM(p.Chain()),
	}
	copy(q.Header.UserData[:], p.qeID[:])
	copy(q.AttestationKey[:], ecdhPub.Bytes()[1:]) // drop the 0x04 prefix: X ‖ Y
	if p.tee == quote.TEETDX {
		q.Header.Version, q.Header.QESVN, q.Header.PCESVN = 4, 0, 0 // v4: reserved bytes
		q.BodyType, q.TDX = quote.BodyTypeTD10, p.tdReport(id, reportData)
	} else {
		q.BodyType, q.SGX = quote.BodyTypeSGX, enclaveReport(id, ext.CPUSVN, reportData)
	}
	q.QEReport = quote.EnclaveReport{
		CPUSVN: ext.CPUSVN, Attributes: qeAttributes,
		MREnclave: qe.mrEnclave, MRSigner: qe.mrSigner, ISVProdID: qe.prodID, ISVSVN: qe.svn,
	}
	binding := sha256.Sum256(append(q.AttestationKey[:], q.QEAuthData...))
	copy(q.QEReport.ReportData[:], binding[:])
	return q, nil
}

func enclaveReport(id *Identity, cpusvn [16]byte, reportData [64]byte) *quote.EnclaveReport {
	r := &quote.EnclaveReport{
		CPUSVN: cpusvn, MiscSelect: id.MiscSelect, ISVExtProdID: id.ISVExtProdID,
		Attributes: id.Attributes, MREnclave: id.MREnclave, MRSigner: id.MRSigner,
		ConfigID: id.ConfigID, ISVProdID: id.ISVProdID, ISVSVN: id.ISVSVN,
		ConfigSVN: id.ConfigSVN, ISVFamilyID: id.ISVFamilyID, ReportData: reportData,
	}
	if r.Attributes == ([16]byte{}) {
		r.Attributes = defaultSGXAttributes
	}
	if id.Debug {
		r.Attributes[0] |= 0x02
	}
	return r
}

func (p *Platform) tdReport(id *Identity, reportData [64]byte) *quote.TDReport {
	r := &quote.TDReport{
		TEETCBSVN: p.teeTCBSVN, MRSEAM: p.mrSEAM,
		TDAttributes: id.TDAttributes, XFAM: id.XFAM,
		MRTD: id.MRTD, MRConfigID: id.MRConfigID, MROwner: id.MROwner, MROwnerConfig: id.MROwnerConfig,
		RTMRs: id.RTMRs, ReportData: reportData,
	}
	if r.TDAttributes == ([8]byte{}) {
		r.TDAttributes = defaultTDAttributes
	}
	if r.XFAM == ([8]byte{}) {
		r.XFAM = defaultXFAM
	}
	if id.Debug {
		r.TDAttributes[0] |= 0x01
	}
	return r
}
