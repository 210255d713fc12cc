package sim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"net/url"
	"strconv"
	"strings"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
)

// PCK certificate retrieval (dcap spec §6.1, §6.2). Nothing in secretprov fetches PCK
// certificates: quotes carry their PCK chain. The endpoint exists for what a user of
// "secretprov sim pcs" as a stand-in for Intel's service hits first: Intel's quote provider
// (QPL/QCNL) and PCCS-style tools ask for the platform's PCK certificate by
//
//	GET /sgx/certification/v4/pckcert?encrypted_ppid=HEX&cpusvn=HEX&pcesvn=HEX&pceid=HEX[&qeid=HEX]
//
// (Intel PCS needs encrypted_ppid; a PCCS takes qeid instead, QCNL sends both). The answer is
// the PEM certificate with the headers SGX-PCK-Certificate-Issuer-Chain (PCK CA ‖ root),
// SGX-TCBm (CPUSVN ‖ PCESVN of the certificate, upper-case hex, PCESVN little-endian as in the
// request: Intel's answer quoted in enarx/enarx issue #2380 reads "SGX-TCBm:
// 0A0A02020201040000000000000000000B00", PCESVN 11), SGX-FMSPC and
// SGX-PCK-Certificate-CA-Type. The simulator cannot decrypt a PPID, so:
//
//   - qeid equal to a platform's QE ID (the first 16 bytes of its quotes' user data,
//     Platform.QEID, "qe_id" in the world directory's state) selects that platform, SGX or TDX;
//   - otherwise encrypted_ppid (768 hex digits, any value) stands for "the" SGX platform type
//     of the world, and the certificate is chosen among the world's SGX platforms of a TCB
//     status as Intel chooses among a platform's certificates: the highest TCB (16 components,
//     then PCESVN) not above the raw TCB asked for, taking CPUSVN byte i as component i (the
//     simulator's CPUSVN-to-components mapping);
//   - a pceid other than the world's, or a raw TCB below every certificate, is 404.
//
// No API key is required. pckcerts (every certificate of a platform, for a PCCS's own
// caching) and Azure's JSON variant of pckcert are not simulated.

// Response headers of pckcert.
const (
	HeaderPCKCertIssuerChain = "SGX-PCK-Certificate-Issuer-Chain"
	HeaderTCBm               = "SGX-TCBm"
	HeaderFMSPC              = "SGX-FMSPC"
	HeaderPCKCertCAType      = "SGX-PCK-Certificate-CA-Type"
)

// encryptedPPIDLen is the length in hex digits of an RSA-3072 encrypted PPID.
const encryptedPPIDLen = 2 * 384

// QEID returns the platform's QE ID: the first 16 bytes of the user data in its quotes'
// header, which Intel's quote provider sends as pckcert's qeid.
func (p *Platform) QEID() [16]byte { return p.qeID }

// pckCertQuery is a parsed pckcert request.
type pckCertQuery struct {
	qeID    [16]byte
	hasQEID bool
	cpuSVN  [16]byte
	pceSVN  uint16
	pceID   pcs.PCEID
}

func parsePCKCertQuery(q url.Values) (*pckCertQuery, *response) {
	var pq pckCertQuery
	var pceSVN [2]byte
	for _, f := range []struct {
		name string
		dst  []byte
	}{{"cpusvn", pq.cpuSVN[:]}, {"pcesvn", pceSVN[:]}, {"pceid", pq.pceID[:]}} {
		if !hexParam(q, f.name, f.dst) {
			return nil, badParam(f.name + " is required: " + strconv.Itoa(2*len(f.dst)) + " hex digits")
		}
	}
	pq.pceSVN = binary.LittleEndian.Uint16(pceSVN[:])
	if q.Has("qeid") {
		if !hexParam(q, "qeid", pq.qeID[:]) {
			return nil, badParam("qeid: want 32 hex digits")
		}
		pq.hasQEID = true
	}
	ppid, hasPPID := single(q, "encrypted_ppid")
	switch {
	case q.Has("encrypted_ppid") && !hasPPID:
		return nil, badParam("encrypted_ppid must be given once")
	case ppid != "" && (len(ppid) != encryptedPPIDLen || !isHex(ppid)):
		return nil, badParam("encrypted_ppid: want 768 hex digits")
	case ppid == "" && !pq.hasQEID:
		return nil, badParam("encrypted_ppid (or qeid) is required")
	}
	return &pq, nil
}

// hexParam decodes the only value of a parameter into exactly len(dst) bytes.
func hexParam(q url.Values, name string, dst []byte) bool {
	v, ok := single(q, name)
	if !ok || len(v) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(v))
	return err == nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func (h *pcsHandler) pckCert(q url.Values) *response {
	pq, resp := parsePCKCertQuery(q)
	if resp != nil {
		return resp
	}
	p := h.platformForPCK(pq)
	if p == nil {
		return notFound("no PCK certificate for this platform and TCB")
	}
	e := p.Extensions()
	tcbm := make([]byte, 0, 18)
	tcbm = append(tcbm, e.CPUSVN[:]...)
	tcbm = binary.LittleEndian.AppendUint16(tcbm, e.PCESVN)
	resp = document("application/x-pem-file", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.PCK().Raw}))
	resp.header.Set(HeaderPCKCertIssuerChain, IssuerChainHeader(p.Chain()[1:]))
	resp.header.Set(HeaderTCBm, strings.ToUpper(hex.EncodeToString(tcbm)))
	resp.header.Set(HeaderFMSPC, e.FMSPC.String())
	resp.header.Set(HeaderPCKCertCAType, string(p.CA()))
	return resp
}

// platformForPCK selects the platform whose certificate answers pq (see the comment above),
// or nil.
func (h *pcsHandler) platformForPCK(pq *pckCertQuery) *Platform {
	platforms := h.world.Platforms()
	if pq.hasQEID {
		for _, p := range platforms {
			if p.qeID == pq.qeID {
				if e := p.Extensions(); e.PCEID == pq.pceID && pq.covers(&e) {
					return p
				}
				return nil
			}
		}
	}
	var best *Platform
	var bestExt pcs.PCKExtensions
	for _, p := range platforms {
		e := p.Extensions()
		if p.TEE() != quote.TEESGX || p.Status() == "" || e.PCEID != pq.pceID || !pq.covers(&e) {
			continue
		}
		if best == nil || higherTCB(&e, &bestExt) {
			best, bestExt = p, e
		}
	}
	return best
}

// covers reports whether the raw TCB asked for is at or above the certificate's TCB.
func (pq *pckCertQuery) covers(e *pcs.PCKExtensions) bool {
	for i, c := range e.Components {
		if c > pq.cpuSVN[i] {
			return false
		}
	}
	return e.PCESVN <= pq.pceSVN
}

// higherTCB orders certificates as QVL orders TCB levels: components, then PCESVN.
func higherTCB(a, b *pcs.PCKExtensions) bool {
	if c := bytes.Compare(a.Components[:], b.Components[:]); c != 0 {
		return c > 0
	}
	return a.PCESVN > b.PCESVN
}
