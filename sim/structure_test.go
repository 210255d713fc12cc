package sim_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/internal/testvectors"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// The structural indistinguishability tests: a simulated quote and its collateral have the
// layout of the real vectors (internal/testvectors); only values differ.

// realVector is one real quote with its collateral.
type realVector struct {
	quote  *quote.Quote
	raw    []byte
	chain  []*x509.Certificate // PCK, CA, root from the quote
	bundle *pcs.Bundle
	json   map[string]string // the collateral JSON members
}

func loadReal(t *testing.T, q, c string) *realVector {
	t.Helper()
	v := &realVector{raw: testvectors.Read(t, q)}
	var err error
	if v.quote, err = quote.Parse(v.raw); err != nil {
		t.Fatal(err)
	}
	v.chain = chainOf(t, v.quote)
	cj := testvectors.Read(t, c)
	if v.bundle, err = pcs.ParseBundleJSON(cj); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cj, &v.json); err != nil {
		t.Fatal(err)
	}
	return v
}

func chainOf(t *testing.T, q *quote.Quote) []*x509.Certificate {
	t.Helper()
	pemChain, err := q.PCKChainPEM()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := pcs.ParseChainPEM(pemChain)
	if err != nil || len(chain) != 3 {
		t.Fatalf("chain: %d certificates, %v", len(chain), err)
	}
	return chain
}

// simVector is the simulated counterpart of a real vector.
func simVector(t *testing.T, tee quote.TEE) *realVector {
	t.Helper()
	w := sharedWorld(t)
	p := platform(t, w, tee, pcs.StatusUpToDate)
	v := &realVector{raw: quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{1})}
	var err error
	if v.quote, err = quote.Parse(v.raw); err != nil {
		t.Fatal(err)
	}
	v.chain = chainOf(t, v.quote)
	v.bundle = bundleOf(t, p)
	j, err := v.bundle.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &v.json); err != nil {
		t.Fatal(err)
	}
	return v
}

// shape describes DER structure without values: class.tag per element, OIDs spelled out,
// constructed elements recursively, runs of identical siblings collapsed to one "*".
func shape(t *testing.T, der []byte) string {
	t.Helper()
	var parts []string
	for len(der) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(der, &v)
		if err != nil {
			t.Fatalf("shape: %v", err)
		}
		der = rest
		s := fmt.Sprintf("%d.%d", v.Class, v.Tag)
		switch {
		case v.Class == asn1.ClassUniversal && v.Tag == asn1.TagOID:
			var oid asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(v.FullBytes, &oid); err != nil {
				t.Fatal(err)
			}
			s += "=" + oid.String()
		case v.IsCompound:
			s += "{" + shape(t, v.Bytes) + "}"
		}
		if n := len(parts); n > 0 && strings.TrimSuffix(parts[n-1], "*") == s {
			parts[n-1] = s + "*"
			continue
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// extensionLayout lists a certificate's extensions in order with criticality, and the shape of
// each value.
func extensionLayout(t *testing.T, c *x509.Certificate) []string {
	t.Helper()
	var out []string
	for _, e := range c.Extensions {
		out = append(out, fmt.Sprintf("%v critical=%v %s", e.Id, e.Critical, shape(t, e.Value)))
	}
	return out
}

func extValue(c *x509.Certificate, id asn1.ObjectIdentifier) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(id) {
			return e.Value
		}
	}
	return nil
}

func TestStructureCertificates(t *testing.T) {
	realSGX := loadReal(t, "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json")
	realTDX := loadReal(t, "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json")
	simSGX, simTDX := simVector(t, quote.TEESGX), simVector(t, quote.TEETDX)
	pairs := []struct {
		name       string
		real, simc *x509.Certificate
	}{
		{"pck processor", realSGX.chain[0], simSGX.chain[0]},
		{"processor ca", realSGX.chain[1], simSGX.chain[1]},
		{"root", realSGX.chain[2], simSGX.chain[2]},
		{"pck platform", realTDX.chain[0], simTDX.chain[0]},
		{"platform ca", realTDX.chain[1], simTDX.chain[1]},
		{"tcb signing", realSGX.bundle.TCBInfoIssuerChain[0], simSGX.bundle.TCBInfoIssuerChain[0]},
		{"pck crl issuer", realTDX.bundle.PCKCRLIssuerChain[0], simTDX.bundle.PCKCRLIssuerChain[0]},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			if r, s := extensionLayout(t, p.real), extensionLayout(t, p.simc); !slices.Equal(r, s) {
				t.Errorf("extensions differ:\nreal %q\nsim  %q", r, s)
			}
			// The whole certificate without extension values: version, serial, algorithms,
			// name attribute types and string types, time encodings, key algorithm.
			if r, s := shape(t, p.real.Raw), shape(t, p.simc.Raw); r != s {
				t.Errorf("certificate shape differs:\nreal %s\nsim  %s", r, s)
			}
			// Key usage and basic constraints have the same values, so the same bytes.
			for _, id := range []asn1.ObjectIdentifier{{2, 5, 29, 15}, {2, 5, 29, 19}} {
				if r, s := extValue(p.real, id), extValue(p.simc, id); !bytes.Equal(r, s) {
					t.Errorf("extension %v: real %x, sim %x", id, r, s)
				}
			}
			if p.real.Subject.CommonName != p.simc.Subject.CommonName || p.simc.Subject.Organization[0] != sim.Organization {
				t.Errorf("subject %q vs %q", p.real.Subject, p.simc.Subject)
			}
		})
	}
	// The SGX extension parses to the layout of the real one (5 or 7 entries, SGX type).
	for _, v := range []struct{ real, simv *realVector }{{realSGX, simSGX}, {realTDX, simTDX}} {
		re, err1 := pcs.ParsePCKExtensions(v.real.chain[0])
		se, err2 := pcs.ParsePCKExtensions(v.simv.chain[0])
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if re.Platform() != se.Platform() || re.SGXType != se.SGXType || (re.SMT == nil) != (se.SMT == nil) {
			t.Errorf("sgx extension: real %+v, sim %+v", re, se)
		}
	}
}

func TestStructureCRLs(t *testing.T) {
	realSGX := loadReal(t, "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json")
	realTDX := loadReal(t, "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json")
	simTDX := simVector(t, quote.TEETDX)
	// Root CRLs (no entries) and platform CRLs (with entries, collapsed by shape).
	for _, p := range []struct {
		name       string
		real, simc *x509.RevocationList
	}{
		{"root crl", realSGX.bundle.RootCRL, simTDX.bundle.RootCRL},
		{"pck crl", realTDX.bundle.PCKCRL, simTDX.bundle.PCKCRL},
	} {
		if r, s := shape(t, p.real.Raw), shape(t, p.simc.Raw); r != s {
			t.Errorf("%s shape differs:\nreal %s\nsim  %s", p.name, r, s)
		}
		if p.real.Number.Sign() <= 0 || p.simc.Number.Sign() <= 0 {
			t.Errorf("%s: crl numbers %v %v", p.name, p.real.Number, p.simc.Number)
		}
	}
}

// layout reads the framing fields of a raw quote at their spec offsets (dcap spec §2.3, §2.4).
type layout struct {
	version, teeType                   uint32
	sigLen, authLen, certType, outerCT int
	certLen, size                      int
}

func layoutOf(raw []byte) layout {
	le16 := func(o int) int { return int(binary.LittleEndian.Uint16(raw[o:])) }
	le32 := func(o int) int { return int(binary.LittleEndian.Uint32(raw[o:])) }
	l := layout{version: uint32(le16(0)), teeType: uint32(le32(4))}
	if l.version == 3 {
		l.sigLen = le32(432)
		sig := 436
		l.authLen = le16(sig + 576)
		l.certType = le16(sig + 578 + l.authLen)
		l.certLen = le32(sig + 580 + l.authLen)
		l.size = sig + l.sigLen
		return l
	}
	l.sigLen = le32(632)
	l.outerCT = le16(764)
	inner := 770 + 384 + 64
	l.authLen = le16(inner)
	l.certType = le16(inner + 2 + l.authLen)
	l.certLen = le32(inner + 4 + l.authLen)
	l.size = 636 + l.sigLen
	return l
}

func TestStructureQuotes(t *testing.T) {
	for _, c := range []struct {
		tee        quote.TEE
		real, coll string
	}{
		{quote.TEESGX, "phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/sgx_quote_collateral.json"},
		{quote.TEETDX, "phala-dcap-qvl/tdx_quote", "phala-dcap-qvl/tdx_quote_collateral.json"},
	} {
		t.Run(c.tee.String(), func(t *testing.T) {
			r, s := loadReal(t, c.real, c.coll), simVector(t, c.tee)
			rl, sl := layoutOf(r.raw), layoutOf(s.raw)
			if rl.version != sl.version || rl.teeType != sl.teeType || rl.authLen != 32 || sl.authLen != 32 ||
				rl.certType != 5 || sl.certType != 5 || rl.outerCT != sl.outerCT {
				t.Errorf("framing: real %+v, sim %+v", rl, sl)
			}
			if sl.size != len(s.raw) || sl.certLen != len(s.quote.CertData) || rl.certLen != len(r.quote.CertData) {
				t.Errorf("sizes: sim %+v (len %d)", sl, len(s.raw))
			}
			// Signature data = fixed parts + auth data + certification data, in both.
			fixed := map[uint32]int{3: 64 + 64 + 384 + 64 + 2 + 2 + 4, 4: 64 + 64 + 2 + 4 + 384 + 64 + 2 + 2 + 4}[rl.version]
			for _, l := range []layout{rl, sl} {
				if l.sigLen != fixed+l.authLen+l.certLen {
					t.Errorf("signature data %d, want %d", l.sigLen, fixed+l.authLen+l.certLen)
				}
			}
			compareQuoteFields(t, r.quote, s.quote)
		})
	}
}

func compareQuoteFields(t *testing.T, r, s *quote.Quote) {
	t.Helper()
	rh, sh := r.Header, s.Header
	if rh.AttestationKeyType != sh.AttestationKeyType || rh.QEVendorID != sh.QEVendorID || r.BodyType != s.BodyType ||
		!bytes.Equal(rh.UserData[16:], sh.UserData[16:]) {
		t.Errorf("header: real %+v, sim %+v", rh, sh)
	}
	if !bytes.HasSuffix(r.CertData, []byte("-----END CERTIFICATE-----\n\x00")) || !bytes.HasSuffix(s.CertData, []byte("-----END CERTIFICATE-----\n\x00")) {
		t.Errorf("certification data must end in a NUL after the PEM chain")
	}
	rq, sq := r.QEReport, s.QEReport
	var zero [32]byte
	if rq.Attributes != sq.Attributes || rq.MiscSelect != sq.MiscSelect || rq.ISVProdID != sq.ISVProdID ||
		!bytes.Equal(rq.ReportData[32:], zero[:]) || !bytes.Equal(sq.ReportData[32:], zero[:]) {
		t.Errorf("qe report: real %+v\nsim %+v", rq, sq)
	}
	if !bytes.Equal(r.QEAuthData, s.QEAuthData) {
		t.Errorf("qe auth data: real %x, sim %x", r.QEAuthData, s.QEAuthData)
	}
	switch {
	case r.SGX != nil:
		if r.SGX.Attributes != s.SGX.Attributes || r.SGX.MiscSelect != s.SGX.MiscSelect || r.SGX.CPUSVN == ([16]byte{}) || s.SGX.CPUSVN == ([16]byte{}) {
			t.Errorf("enclave report: real attributes %x, sim %x", r.SGX.Attributes, s.SGX.Attributes)
		}
	case r.TDX != nil:
		rt, st := r.TDX, s.TDX
		if rt.TDAttributes != st.TDAttributes || rt.XFAM != st.XFAM || rt.SEAMAttributes != st.SEAMAttributes ||
			rt.MRSignerSEAM != st.MRSignerSEAM || rt.TEETCBSVN[1] != st.TEETCBSVN[1] || rt.V15 != st.V15 {
			t.Errorf("td report: real %+v\nsim %+v", rt, st)
		}
	}
}

// TestIssuerChainHeaderIsIntels: encoding the certificates of a real PCS header gives the real
// header value byte for byte.
func TestIssuerChainHeaderIsIntels(t *testing.T) {
	for _, name := range []string{"pckCrlIssuerChain", "tcbInfoIssuerChain", "qeIdentityIssuerChain"} {
		chain, err := pcs.ParseChainPEM(testvectors.Read(t, "go-tdx-guest/"+name+".pem"))
		if err != nil {
			t.Fatal(err)
		}
		want := string(testvectors.Read(t, "go-tdx-guest/"+name+".urlencoded.txt"))
		if got := sim.IssuerChainHeader(chain); got != want {
			t.Errorf("%s:\ngot  %.120s…\nwant %.120s…", name, got, want)
		}
	}
}

// TestPCKExtensionBytesAreIntels: the SGX extension DER of a real PCK certificate is reproduced
// by marshalling its parsed content (what the simulator does for its own PCKs).
func TestPCKExtensionBytesAreIntels(t *testing.T) {
	for _, name := range []string{"phala-dcap-qvl/sgx_quote", "phala-dcap-qvl/tdx_quote"} {
		q, err := quote.Parse(testvectors.Read(t, name))
		if err != nil {
			t.Fatal(err)
		}
		leaf := chainOf(t, q)[0]
		ext, err := pcs.ParsePCKExtensions(leaf)
		if err != nil {
			t.Fatal(err)
		}
		der, err := pcs.MarshalPCKExtensions(ext)
		if err != nil {
			t.Fatal(err)
		}
		if want := extValue(leaf, pcs.OIDSGXExtensions); !bytes.Equal(der, want) {
			t.Errorf("%s: marshal %s, intel %s", name, hex.EncodeToString(der), hex.EncodeToString(want))
		}
	}
}
