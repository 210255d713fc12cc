package sim_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
)

// pckCertQuery builds pckcert's query for a raw TCB (CPUSVN, PCESVN), as Intel's quote
// provider sends it: lower-case hex, PCESVN and PCE-ID little-endian.
func pckCertQuery(cpuSVN [16]byte, pceSVN uint16, extra ...string) string {
	q := url.Values{
		"cpusvn": {hex.EncodeToString(cpuSVN[:])},
		"pcesvn": {hex.EncodeToString(binary.LittleEndian.AppendUint16(nil, pceSVN))},
		"pceid":  {"0000"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return sim.SGXBasePath + "/pckcert?" + q.Encode()
}

var encryptedPPID = strings.Repeat("a5", 384)

func TestPCSPCKCert(t *testing.T) {
	w := sharedWorld(t)
	ext := func(tee quote.TEE, st pcs.TCBStatus) pcs.PCKExtensions { return platform(t, w, tee, st).Extensions() }
	up := ext(quote.TEESGX, pcs.StatusUpToDate)
	cfg := ext(quote.TEESGX, pcs.StatusConfigurationNeeded)
	tdx := platform(t, w, quote.TEETDX, pcs.StatusSWHardeningNeeded)
	revoked, err := w.PCKRevokedPlatform(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	qeid := func(p *sim.Platform) string { id := p.QEID(); return hex.EncodeToString(id[:]) }
	var top [16]byte
	for i := range top {
		top[i] = 0xFF
	}
	tests := []struct {
		name string
		url  string
		want string // platform name; "" for 404
	}{
		{"exact up to date", pckCertQuery(up.CPUSVN, up.PCESVN, "encrypted_ppid", encryptedPPID), sim.PlatformName(quote.TEESGX, pcs.StatusUpToDate)},
		{"raw tcb above all", pckCertQuery(top, 0xFFFF, "encrypted_ppid", encryptedPPID), sim.PlatformName(quote.TEESGX, pcs.StatusUpToDate)},
		{"exact configuration needed", pckCertQuery(cfg.CPUSVN, cfg.PCESVN, "encrypted_ppid", encryptedPPID), sim.PlatformName(quote.TEESGX, pcs.StatusConfigurationNeeded)},
		// Up-to-date components with an old PCE: the best certificate with PCESVN <= 13.
		{"old pcesvn", pckCertQuery(up.CPUSVN, 13, "encrypted_ppid", encryptedPPID), sim.PlatformName(quote.TEESGX, pcs.StatusOutOfDate)},
		{"below every certificate", pckCertQuery([16]byte{}, 0, "encrypted_ppid", encryptedPPID), ""},
		{"other pce", pckCertQuery(top, 0xFFFF, "encrypted_ppid", encryptedPPID, "pceid", "0100"), ""},
		{"qeid of a tdx platform", pckCertQuery(top, 0xFFFF, "qeid", qeid(tdx)), tdx.Name()},
		{"qeid and ppid", pckCertQuery(top, 0xFFFF, "qeid", qeid(tdx), "encrypted_ppid", encryptedPPID), tdx.Name()},
		{"qeid below its certificate", pckCertQuery([16]byte{}, 0, "qeid", qeid(tdx)), ""},
		{"qeid of a revoked pck", pckCertQuery(top, 0xFFFF, "qeid", qeid(revoked)), revoked.Name()},
		{"unknown qeid: by tcb", pckCertQuery(cfg.CPUSVN, cfg.PCESVN, "qeid", strings.Repeat("00", 16)), sim.PlatformName(quote.TEESGX, pcs.StatusConfigurationNeeded)},
		{"upper-case hex", sim.SGXBasePath + "/pckcert?encrypted_ppid=" + strings.ToUpper(encryptedPPID) +
			"&cpusvn=" + strings.ToUpper(hex.EncodeToString(up.CPUSVN[:])) + "&pcesvn=1000&pceid=0000", sim.PlatformName(quote.TEESGX, pcs.StatusUpToDate)},
	}
	srv, _ := newPCS(t, w)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, srv, tc.url)
			if tc.want == "" {
				if r.status != http.StatusNotFound || r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeNotFound {
					t.Fatalf("%d %v, want 404", r.status, r.header)
				}
				return
			}
			if r.status != http.StatusOK {
				t.Fatalf("%d %v", r.status, r.header)
			}
			p, err := w.PlatformByName(tc.want)
			if err != nil {
				t.Fatal(err)
			}
			checkPCKCertResponse(t, w, p, r)
		})
	}
}

// checkPCKCertResponse checks a pckcert answer carries p's certificate and Intel's headers.
func checkPCKCertResponse(t *testing.T, w *sim.World, p *sim.Platform, r got) {
	t.Helper()
	block, rest := pem.Decode(r.body)
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		t.Fatalf("body is not one PEM certificate: %.40q", r.body)
	}
	if !bytes.Equal(block.Bytes, p.PCK().Raw) {
		t.Fatalf("certificate of another platform than %s", p.Name())
	}
	chain := p.Chain()
	chainHeader(t, r.header, sim.HeaderPCKCertIssuerChain, chain[1], chain[2])
	e := p.Extensions()
	tcbm := strings.ToUpper(hex.EncodeToString(append(e.CPUSVN[:], byte(e.PCESVN), byte(e.PCESVN>>8))))
	for name, want := range map[string]string{
		sim.HeaderTCBm:          tcbm,
		sim.HeaderFMSPC:         e.FMSPC.String(),
		sim.HeaderPCKCertCAType: string(p.CA()),
		"Content-Type":          "application/x-pem-file",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := pcs.ParsePCKExtensions(p.PCK()); err != nil {
		t.Errorf("served certificate: %v", err)
	}
}

func TestPCSPCKCertErrors(t *testing.T) {
	w := sharedWorld(t)
	srv, _ := newPCS(t, w)
	var cpu [16]byte
	base := url.Values{
		"encrypted_ppid": {encryptedPPID},
		"cpusvn":         {hex.EncodeToString(cpu[:])},
		"pcesvn":         {"1000"},
		"pceid":          {"0000"},
	}
	tests := []struct {
		name string
		edit func(q url.Values)
	}{
		{"no cpusvn", func(q url.Values) { q.Del("cpusvn") }},
		{"short cpusvn", func(q url.Values) { q.Set("cpusvn", "00") }},
		{"cpusvn not hex", func(q url.Values) { q.Set("cpusvn", strings.Repeat("zz", 16)) }},
		{"no pcesvn", func(q url.Values) { q.Del("pcesvn") }},
		{"pcesvn twice", func(q url.Values) { q.Add("pcesvn", "1000") }},
		{"no pceid", func(q url.Values) { q.Del("pceid") }},
		{"no ppid and no qeid", func(q url.Values) { q.Del("encrypted_ppid") }},
		{"empty ppid and no qeid", func(q url.Values) { q.Set("encrypted_ppid", "") }},
		{"short ppid", func(q url.Values) { q.Set("encrypted_ppid", "a5a5") }},
		{"ppid not hex", func(q url.Values) { q.Set("encrypted_ppid", strings.Repeat("x", 768)) }},
		{"ppid twice", func(q url.Values) { q.Add("encrypted_ppid", encryptedPPID) }},
		{"bad qeid", func(q url.Values) { q.Set("qeid", "1234") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range base {
				q[k] = append([]string(nil), v...)
			}
			tc.edit(q)
			r := get(t, srv, sim.SGXBasePath+"/pckcert?"+q.Encode())
			if r.status != http.StatusBadRequest || r.header.Get(sim.HeaderErrorCode) != sim.ErrorCodeInvalidParameter {
				t.Errorf("%d %v, want 400 %s", r.status, r.header, sim.ErrorCodeInvalidParameter)
			}
		})
	}
	// The base query itself is valid: only the TCB is too low.
	if r := get(t, srv, sim.SGXBasePath+"/pckcert?"+base.Encode()); r.status != http.StatusNotFound {
		t.Errorf("base query: %d, want 404", r.status)
	}
}
