package pcs

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"slices"
)

// The SGX extension OID tree of PCK certificates (dcap spec §3.3). The exported values are
// copies for callers (package sim builds certificates with them); parsing uses private ones.
var (
	OIDSGXExtensions      = oid()
	OIDPPID               = oid(1)
	OIDTCB                = oid(2)
	OIDPCESVN             = oid(2, 17)
	OIDCPUSVN             = oid(2, 18)
	OIDPCEID              = oid(3)
	OIDFMSPC              = oid(4)
	OIDSGXType            = oid(5)
	OIDPlatformInstanceID = oid(6)
	OIDConfiguration      = oid(7)
	OIDDynamicPlatform    = oid(7, 1)
	OIDCachedKeys         = oid(7, 2)
	OIDSMTEnabled         = oid(7, 3)
)

// OIDTCBComponent returns the OID of SGX TCB component n (1..16), 1.2.840.113741.1.13.1.2.n.
func OIDTCBComponent(n int) asn1.ObjectIdentifier { return oid(2, n) }

var sgxExtensionArcs = []int{1, 2, 840, 113741, 1, 13, 1}

func oid(arcs ...int) asn1.ObjectIdentifier {
	return append(slices.Clone(sgxExtensionArcs), arcs...)
}

// SGX types (OID 1.2.840.113741.1.13.1.5).
const (
	SGXTypeStandard              = 0
	SGXTypeScalable              = 1
	SGXTypeScalableWithIntegrity = 2
)

// Top-level entry counts of the SGX extension (QVL AttestationParsers.h).
const (
	processorExtensionCount = 5
	platformExtensionCount  = 7
	tcbEntryCount           = 18
)

// PCKExtensions is the content of the SGX extension of a PCK certificate.
type PCKExtensions struct {
	PPID       [16]byte
	Components [16]byte // SGX TCB COMP01..16 SVNs, used for TCB level matching
	PCESVN     uint16
	CPUSVN     [16]byte // informational; not used for matching
	PCEID      PCEID
	FMSPC      FMSPC
	SGXType    int // SGXTypeStandard, SGXTypeScalable or SGXTypeScalableWithIntegrity

	// Platform-CA certificates only (7-entry layout); nil/absent for Processor-CA ones.
	// PlatformInstanceID non-nil (16 bytes) selects the 7-entry layout in MarshalPCKExtensions.
	PlatformInstanceID []byte
	Dynamic            *bool // dynamicPlatform, if present in Configuration
	CachedKeys         *bool // cachedKeys, if present in Configuration
	SMT                *bool // smtEnabled, if present in Configuration
}

// Platform reports whether e uses the Platform-CA layout (Platform Instance ID and
// Configuration present).
func (e *PCKExtensions) Platform() bool { return e.PlatformInstanceID != nil }

// ParsePCKExtensions finds the SGX extension (OID 1.2.840.113741.1.13.1) in a PCK certificate
// and parses it strictly; see UnmarshalPCKExtensions.
func ParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	if cert == nil {
		return nil, formatErr(DocPCKExtensions, "no certificate", nil)
	}
	var found []byte
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oid()) {
			continue
		}
		if found != nil {
			return nil, formatErr(DocPCKExtensions, "extension present twice", nil)
		}
		found = ext.Value
	}
	if found == nil {
		return nil, formatErr(DocPCKExtensions, "extension missing", nil)
	}
	return UnmarshalPCKExtensions(found)
}

// UnmarshalPCKExtensions parses the DER value of the SGX extension. The top-level SEQUENCE must
// hold exactly 5 (Processor CA) or 7 (Platform CA) (OID, value) pairs, the TCB SEQUENCE exactly
// 18; every value has the exact ASN.1 type and size of dcap spec §3.3; unknown or duplicate
// OIDs and trailing bytes are refused. Entries are accepted in any order (QVL looks them up by
// OID); MarshalPCKExtensions writes Intel's order.
func UnmarshalPCKExtensions(der []byte) (*PCKExtensions, error) {
	pairs, err := parsePairs(der, platformExtensionCount)
	if err != nil {
		return nil, formatErr(DocPCKExtensions, "top-level sequence", err)
	}
	if len(pairs) != processorExtensionCount && len(pairs) != platformExtensionCount {
		return nil, formatErr(DocPCKExtensions, fmt.Sprintf("want 5 or 7 entries, got %d", len(pairs)), nil)
	}
	e := &PCKExtensions{}
	seen := make(map[int]bool, len(pairs))
	for _, p := range pairs {
		arc, ok := sgxArc(p.id, 0)
		if !ok || arc < 1 || arc > platformExtensionCount {
			return nil, formatErr(DocPCKExtensions, fmt.Sprintf("unknown OID %v", p.id), nil)
		}
		if seen[arc] {
			return nil, formatErr(DocPCKExtensions, fmt.Sprintf("duplicate OID %v", p.id), nil)
		}
		seen[arc] = true
		if err := e.setTopLevel(arc, p.value); err != nil {
			return nil, formatErr(DocPCKExtensions, fmt.Sprintf("OID %v", p.id), err)
		}
	}
	for arc := 1; arc <= len(pairs); arc++ {
		if !seen[arc] {
			return nil, formatErr(DocPCKExtensions, fmt.Sprintf("missing OID %v", oid(arc)), nil)
		}
	}
	return e, nil
}

func (e *PCKExtensions) setTopLevel(arc int, v asn1.RawValue) error {
	switch arc {
	case 1:
		return octetsInto(e.PPID[:], v)
	case 2:
		return e.setTCB(v)
	case 3:
		return octetsInto(e.PCEID[:], v)
	case 4:
		return octetsInto(e.FMSPC[:], v)
	case 5:
		n, err := parseEnumerated(v)
		if err != nil {
			return err
		}
		if n < SGXTypeStandard || n > SGXTypeScalableWithIntegrity {
			return fmt.Errorf("unknown SGX type %d", n)
		}
		e.SGXType = n
		return nil
	case 6:
		e.PlatformInstanceID = make([]byte, 16)
		return octetsInto(e.PlatformInstanceID, v)
	default: // 7
		return e.setConfiguration(v)
	}
}

func (e *PCKExtensions) setTCB(v asn1.RawValue) error {
	pairs, err := parsePairs(v.FullBytes, tcbEntryCount)
	if err != nil {
		return err
	}
	if len(pairs) != tcbEntryCount {
		return fmt.Errorf("TCB: want %d entries, got %d", tcbEntryCount, len(pairs))
	}
	seen := make(map[int]bool, tcbEntryCount)
	for _, p := range pairs {
		arc, ok := sgxArc(p.id, 2)
		if !ok || arc < 1 || arc > tcbEntryCount {
			return fmt.Errorf("TCB: unknown OID %v", p.id)
		}
		if seen[arc] {
			return fmt.Errorf("TCB: duplicate OID %v", p.id)
		}
		seen[arc] = true
		var err error
		switch {
		case arc <= 16:
			var n int
			n, err = parseInt(p.value, 0xff)
			e.Components[arc-1] = byte(n)
		case arc == 17:
			var n int
			n, err = parseInt(p.value, 0xffff)
			e.PCESVN = uint16(n)
		default:
			err = octetsInto(e.CPUSVN[:], p.value)
		}
		if err != nil {
			return fmt.Errorf("TCB OID %v: %w", p.id, err)
		}
	}
	return nil
}

func (e *PCKExtensions) setConfiguration(v asn1.RawValue) error {
	pairs, err := parsePairs(v.FullBytes, 3)
	if err != nil {
		return err
	}
	for _, p := range pairs {
		arc, ok := sgxArc(p.id, 7)
		if !ok || arc < 1 || arc > 3 {
			return fmt.Errorf("configuration: unknown OID %v", p.id)
		}
		dst := [...]**bool{&e.Dynamic, &e.CachedKeys, &e.SMT}[arc-1]
		if *dst != nil {
			return fmt.Errorf("configuration: duplicate OID %v", p.id)
		}
		var b bool
		if p.value.Class != asn1.ClassUniversal || p.value.Tag != asn1.TagBoolean {
			return fmt.Errorf("configuration OID %v: not a BOOLEAN", p.id)
		}
		if err := unmarshalExact(p.value.FullBytes, &b); err != nil {
			return fmt.Errorf("configuration OID %v: %w", p.id, err)
		}
		*dst = &b
	}
	return nil
}

// sgxArc returns the last arc of id if id is the SGX extension OID followed by the arc
// prefix (none for top level, or one parent arc) and exactly one more arc.
func sgxArc(id asn1.ObjectIdentifier, parent int) (int, bool) {
	n := len(sgxExtensionArcs)
	want := n + 1
	if parent != 0 {
		want = n + 2
	}
	if len(id) != want || !slices.Equal(id[:n], sgxExtensionArcs) {
		return 0, false
	}
	if parent != 0 && id[n] != parent {
		return 0, false
	}
	return id[len(id)-1], true
}
