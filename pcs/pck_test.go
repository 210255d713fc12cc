package pcs

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePCKExtensionsVectors(t *testing.T) {
	// Expected values: vectors README (V1–V6 parse facts).
	tests := []struct {
		quote    string
		fmspc    string
		pcesvn   int // -1: not stated by the README
		comps    []byte
		sgxType  int // -1: not stated
		ca       CAType
		platform bool
	}{
		{"phala-dcap-qvl/sgx_quote", "00A067110000", 13, []byte{11, 11, 2, 2, 255, 1, 0, 0}, SGXTypeStandard, CAProcessor, false},
		{"phala-dcap-qvl/tdx_quote", "B0C06F000000", 11, []byte{3, 3, 2, 2, 4, 1, 0, 5, 0}, SGXTypeScalable, CAPlatform, true},
		{"phala-dcap-qvl/tdx_quote_outdated", "90C06F000000", 13, []byte{3, 3, 2, 2, 4, 1, 0, 3, 0}, -1, CAPlatform, true},
		{"phala-dcap-qvl/tdx-quote.hex", "B0C06F000000", -1, []byte{2, 2, 2, 2, 3, 1, 0, 3}, -1, CAPlatform, true},
		{"phala-dcap-qvl/quote-from-tappd.hex", "B0C06F000000", -1, []byte{2, 2, 2, 2, 3, 1, 0, 3}, -1, CAPlatform, true},
		{"go-tdx-guest/tdx_prod_quote_SPR_E4.dat", "50806F000000", 11, []byte{3, 3, 2, 2, 2, 1, 0, 2}, -1, CAPlatform, true},
		{"go-tdx-guest/quote_v5_sample.dat", "90C06F000000", 13, []byte{4, 4, 2, 2, 4, 1, 0, 5}, -1, CAPlatform, true},
	}
	for _, tt := range tests {
		t.Run(tt.quote, func(t *testing.T) {
			chain := pckChain(t, tt.quote)
			e, err := ParsePCKExtensions(chain[0])
			if err != nil {
				t.Fatal(err)
			}
			if got := e.FMSPC.String(); got != tt.fmspc {
				t.Errorf("FMSPC = %s, want %s", got, tt.fmspc)
			}
			if e.PCEID != (PCEID{}) {
				t.Errorf("PCE-ID = %s, want 0000", e.PCEID)
			}
			if tt.pcesvn >= 0 && int(e.PCESVN) != tt.pcesvn {
				t.Errorf("PCESVN = %d, want %d", e.PCESVN, tt.pcesvn)
			}
			if !bytes.HasPrefix(e.Components[:], tt.comps) {
				t.Errorf("components = %v, want prefix %v", e.Components, tt.comps)
			}
			if tt.sgxType >= 0 && e.SGXType != tt.sgxType {
				t.Errorf("SGX type = %d, want %d", e.SGXType, tt.sgxType)
			}
			if e.Platform() != tt.platform {
				t.Errorf("Platform() = %v, want %v", e.Platform(), tt.platform)
			}
			ca, err := CATypeOf(chain[1])
			if err != nil || ca != tt.ca {
				t.Errorf("CATypeOf = %q, %v; want %q", ca, err, tt.ca)
			}
			// MarshalPCKExtensions reproduces Intel's DER byte for byte.
			der, err := MarshalPCKExtensions(e)
			if err != nil {
				t.Fatal(err)
			}
			if want := sgxExtensionValue(t, chain[0].Extensions); !bytes.Equal(der, want) {
				t.Errorf("MarshalPCKExtensions differs from the certificate's extension\n got %x\nwant %x", der, want)
			}
		})
	}
}

func TestParsePCKExtensionsDetails(t *testing.T) {
	sgx, err := ParsePCKExtensions(pckChain(t, "phala-dcap-qvl/sgx_quote")[0])
	if err != nil {
		t.Fatal(err)
	}
	// CPUSVN as printed by `openssl asn1parse` for this certificate.
	if got, want := sgx.CPUSVN[:], mustHex(t, "0b0b0202ff0100000000000000000000"); !bytes.Equal(got, want) {
		t.Errorf("CPUSVN = %x, want %x", got, want)
	}
	if sgx.PlatformInstanceID != nil || sgx.Dynamic != nil || sgx.CachedKeys != nil || sgx.SMT != nil {
		t.Errorf("Processor-CA certificate has platform fields: %+v", sgx)
	}
	tdx, err := ParsePCKExtensions(pckChain(t, "phala-dcap-qvl/tdx_quote")[0])
	if err != nil {
		t.Fatal(err)
	}
	// dcap spec §3.3: the TDX vector's PCK has Configuration all TRUE.
	for name, flag := range map[string]*bool{"dynamic": tdx.Dynamic, "cachedKeys": tdx.CachedKeys, "smt": tdx.SMT} {
		if flag == nil || !*flag {
			t.Errorf("%s = %v, want true", name, flag)
		}
	}
	if len(tdx.PlatformInstanceID) != 16 {
		t.Errorf("platform instance ID has %d bytes", len(tdx.PlatformInstanceID))
	}
}

func sgxExtensionValue(t testing.TB, exts []pkix.Extension) []byte {
	t.Helper()
	for _, e := range exts {
		if e.Id.Equal(OIDSGXExtensions) {
			return e.Value
		}
	}
	t.Fatal("no SGX extension")
	return nil
}

func TestParsePCKExtensionsMissing(t *testing.T) {
	_, err := ParsePCKExtensions(intelRoot(t))
	wantErr(t, err, KindFormat, DocPCKExtensions)
	_, err = ParsePCKExtensions(nil)
	wantErr(t, err, KindFormat, DocPCKExtensions)
}

// pckDER builds an SGX extension from entries, each SEQUENCE { OID, value }.
func pckDER(t *testing.T, entries ...[]byte) []byte {
	t.Helper()
	b, err := derSequence(entries...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pair(t *testing.T, id asn1.ObjectIdentifier, v any) []byte {
	t.Helper()
	b, err := derPairOf(id, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tcbEntries returns the 18 TCB pairs with component i set to comp[i] (as any Go value).
func tcbEntries(t *testing.T, override map[int]any) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 1; i <= 18; i++ {
		var v any = 1
		if i == 18 {
			v = make([]byte, 16)
		}
		if o, ok := override[i]; ok {
			v = o
		}
		if v == nil {
			continue
		}
		out = append(out, pair(t, oid(2, i), v))
	}
	return out
}

func TestUnmarshalPCKExtensionsRejects(t *testing.T) {
	tcb := func(override map[int]any, extra ...[]byte) []byte {
		return pair(t, OIDTCB, asn1.RawValue{FullBytes: pckDER(t, append(tcbEntries(t, override), extra...)...)})
	}
	ppid := pair(t, OIDPPID, make([]byte, 16))
	pceid := pair(t, OIDPCEID, make([]byte, 2))
	fmspc := pair(t, OIDFMSPC, make([]byte, 6))
	sgxType := pair(t, OIDSGXType, asn1.Enumerated(0))
	pii := pair(t, OIDPlatformInstanceID, make([]byte, 16))
	conf := func(entries ...[]byte) []byte {
		return pair(t, OIDConfiguration, asn1.RawValue{FullBytes: pckDER(t, entries...)})
	}
	good := tcb(nil)
	valid := pckDER(t, ppid, good, pceid, fmspc, sgxType)
	if _, err := UnmarshalPCKExtensions(valid); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	validPlatform := pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(pair(t, OIDSMTEnabled, false)))
	if _, err := UnmarshalPCKExtensions(validPlatform); err != nil {
		t.Fatalf("platform baseline: %v", err)
	}
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"four entries", pckDER(t, ppid, good, pceid, fmspc)},
		{"six entries", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii)},
		{"eight entries", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(), pair(t, oid(8), 1))},
		{"duplicate OID", pckDER(t, ppid, good, pceid, fmspc, fmspc)},
		{"unknown OID", pckDER(t, ppid, good, pceid, fmspc, pair(t, oid(9), 1))},
		{"foreign OID", pckDER(t, ppid, good, pceid, fmspc, pair(t, asn1.ObjectIdentifier{1, 2, 3}, 1))},
		{"trailing bytes", append(bytes.Clone(valid), 0)},
		{"not a sequence", []byte{0x04, 0x01, 0x00}},
		{"five entries without SGX type", pckDER(t, ppid, good, pceid, fmspc, pii)},
		{"PPID 15 bytes", pckDER(t, pair(t, OIDPPID, make([]byte, 15)), good, pceid, fmspc, sgxType)},
		{"PCE-ID 3 bytes", pckDER(t, ppid, good, pair(t, OIDPCEID, make([]byte, 3)), fmspc, sgxType)},
		{"FMSPC 7 bytes", pckDER(t, ppid, good, pceid, pair(t, OIDFMSPC, make([]byte, 7)), sgxType)},
		{"FMSPC as INTEGER", pckDER(t, ppid, good, pceid, pair(t, OIDFMSPC, 5), sgxType)},
		{"SGX type 3", pckDER(t, ppid, good, pceid, fmspc, pair(t, OIDSGXType, asn1.Enumerated(3)))},
		{"SGX type as INTEGER", pckDER(t, ppid, good, pceid, fmspc, pair(t, OIDSGXType, 0))},
		{"TCB 17 entries", pckDER(t, ppid, tcb(map[int]any{5: nil}), pceid, fmspc, sgxType)},
		{"TCB 19 entries", pckDER(t, ppid, tcb(nil, pair(t, oid(2, 19), 1)), pceid, fmspc, sgxType)},
		{"TCB duplicate", pckDER(t, ppid, tcb(map[int]any{5: nil}, pair(t, oid(2, 4), 1)), pceid, fmspc, sgxType)},
		{"TCB unknown OID", pckDER(t, ppid, tcb(map[int]any{5: nil}, pair(t, oid(2, 19), 1)), pceid, fmspc, sgxType)},
		{"component 256", pckDER(t, ppid, tcb(map[int]any{3: 256}), pceid, fmspc, sgxType)},
		{"component -1", pckDER(t, ppid, tcb(map[int]any{3: -1}), pceid, fmspc, sgxType)},
		{"component as OCTET STRING", pckDER(t, ppid, tcb(map[int]any{3: []byte{1}}), pceid, fmspc, sgxType)},
		{"PCESVN 65536", pckDER(t, ppid, tcb(map[int]any{17: 65536}), pceid, fmspc, sgxType)},
		{"CPUSVN 15 bytes", pckDER(t, ppid, tcb(map[int]any{18: make([]byte, 15)}), pceid, fmspc, sgxType)},
		{"CPUSVN as INTEGER", pckDER(t, ppid, tcb(map[int]any{18: 7}), pceid, fmspc, sgxType)},
		{"TCB not a sequence", pckDER(t, ppid, pair(t, OIDTCB, make([]byte, 4)), pceid, fmspc, sgxType)},
		{"platform ID 15 bytes", pckDER(t, ppid, good, pceid, fmspc, sgxType, pair(t, OIDPlatformInstanceID, make([]byte, 15)), conf())},
		{"config duplicate", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(pair(t, OIDSMTEnabled, true), pair(t, OIDSMTEnabled, true)))},
		{"config unknown", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(pair(t, oid(7, 4), true)))},
		{"config not BOOLEAN", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(pair(t, OIDCachedKeys, 1)))},
		{"config four entries", pckDER(t, ppid, good, pceid, fmspc, sgxType, pii, conf(pair(t, OIDDynamicPlatform, true),
			pair(t, OIDCachedKeys, true), pair(t, OIDSMTEnabled, true), pair(t, OIDSMTEnabled, true)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := UnmarshalPCKExtensions(tt.der)
			wantErr(t, err, KindFormat, DocPCKExtensions)
		})
	}
}

func TestPCKExtensionsOrderInsensitive(t *testing.T) {
	e, err := ParsePCKExtensions(pckChain(t, "phala-dcap-qvl/tdx_quote")[0])
	if err != nil {
		t.Fatal(err)
	}
	der, err := MarshalPCKExtensions(e)
	if err != nil {
		t.Fatal(err)
	}
	pairs, err := parsePairs(der, 7)
	if err != nil {
		t.Fatal(err)
	}
	var reversed [][]byte
	for i := len(pairs) - 1; i >= 0; i-- {
		b, err := derPairOf(pairs[i].id, pairs[i].value)
		if err != nil {
			t.Fatal(err)
		}
		reversed = append(reversed, b)
	}
	got, err := UnmarshalPCKExtensions(pckDER(t, reversed...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("reordered entries parse differently (-want +got):\n%s", diff)
	}
}

func TestMarshalPCKExtensions(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		e    PCKExtensions
		ok   bool
	}{
		{"processor", PCKExtensions{PCESVN: 0xffff, Components: [16]byte{255, 1}, SGXType: SGXTypeScalableWithIntegrity}, true},
		{"platform all flags", PCKExtensions{PlatformInstanceID: make([]byte, 16), Dynamic: &yes, CachedKeys: &no, SMT: &yes}, true},
		{"platform no flags", PCKExtensions{PlatformInstanceID: make([]byte, 16), SGXType: SGXTypeScalable}, true},
		{"platform some flags", PCKExtensions{PlatformInstanceID: make([]byte, 16), CachedKeys: &yes}, true},
		{"bad SGX type", PCKExtensions{SGXType: 3}, false},
		{"negative SGX type", PCKExtensions{SGXType: -1}, false},
		{"short instance ID", PCKExtensions{PlatformInstanceID: make([]byte, 3)}, false},
		{"flags without instance ID", PCKExtensions{SMT: &yes}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := MarshalPCKExtensions(&tt.e)
			if !tt.ok {
				wantErr(t, err, KindFormat, DocPCKExtensions)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := UnmarshalPCKExtensions(der)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&tt.e, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
	_, err := MarshalPCKExtensions(nil)
	wantErr(t, err, KindFormat, DocPCKExtensions)
}

func TestExportedOIDs(t *testing.T) {
	want := map[string]asn1.ObjectIdentifier{
		"1.2.840.113741.1.13.1":      OIDSGXExtensions,
		"1.2.840.113741.1.13.1.1":    OIDPPID,
		"1.2.840.113741.1.13.1.2":    OIDTCB,
		"1.2.840.113741.1.13.1.2.1":  OIDTCBComponent(1),
		"1.2.840.113741.1.13.1.2.16": OIDTCBComponent(16),
		"1.2.840.113741.1.13.1.2.17": OIDPCESVN,
		"1.2.840.113741.1.13.1.2.18": OIDCPUSVN,
		"1.2.840.113741.1.13.1.3":    OIDPCEID,
		"1.2.840.113741.1.13.1.4":    OIDFMSPC,
		"1.2.840.113741.1.13.1.5":    OIDSGXType,
		"1.2.840.113741.1.13.1.6":    OIDPlatformInstanceID,
		"1.2.840.113741.1.13.1.7":    OIDConfiguration,
		"1.2.840.113741.1.13.1.7.1":  OIDDynamicPlatform,
		"1.2.840.113741.1.13.1.7.2":  OIDCachedKeys,
		"1.2.840.113741.1.13.1.7.3":  OIDSMTEnabled,
	}
	for s, id := range want {
		if id.String() != s {
			t.Errorf("got %s, want %s", id, s)
		}
	}
	// Mutating an exported OID must not change parsing.
	OIDFMSPC[len(OIDFMSPC)-1] = 99
	defer func() { OIDFMSPC[len(OIDFMSPC)-1] = 4 }()
	if _, err := ParsePCKExtensions(pckChain(t, "phala-dcap-qvl/sgx_quote")[0]); err != nil {
		t.Errorf("parsing depends on exported OID values: %v", err)
	}
}
