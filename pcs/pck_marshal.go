package pcs

import (
	"encoding/asn1"
	"fmt"
)

// MarshalPCKExtensions encodes e as the DER value of the SGX extension, with the layout of
// Intel's PCK certificates: PPID, TCB (16 components, PCESVN, CPUSVN), PCE-ID, FMSPC, SGX type
// and, when e.PlatformInstanceID is set, Platform Instance ID and Configuration (only the
// booleans that are non-nil, in OID order). UnmarshalPCKExtensions inverts it.
func MarshalPCKExtensions(e *PCKExtensions) ([]byte, error) {
	if e == nil {
		return nil, formatErr(DocPCKExtensions, "nil extensions", nil)
	}
	if err := e.checkMarshalable(); err != nil {
		return nil, formatErr(DocPCKExtensions, "marshal", err)
	}
	tcb, err := e.marshalTCB()
	if err != nil {
		return nil, formatErr(DocPCKExtensions, "marshal", err)
	}
	type entry struct {
		id    asn1.ObjectIdentifier
		value any
	}
	entries := []entry{
		{oid(1), e.PPID[:]},
		{oid(2), asn1.RawValue{FullBytes: tcb}},
		{oid(3), e.PCEID[:]},
		{oid(4), e.FMSPC[:]},
		{oid(5), asn1.Enumerated(e.SGXType)},
	}
	if e.Platform() {
		conf, err := e.marshalConfiguration()
		if err != nil {
			return nil, formatErr(DocPCKExtensions, "marshal", err)
		}
		entries = append(entries,
			entry{oid(6), e.PlatformInstanceID},
			entry{oid(7), asn1.RawValue{FullBytes: conf}})
	}
	elems := make([][]byte, 0, len(entries))
	for _, en := range entries {
		b, err := derPairOf(en.id, en.value)
		if err != nil {
			return nil, formatErr(DocPCKExtensions, "marshal", err)
		}
		elems = append(elems, b)
	}
	out, err := derSequence(elems...)
	if err != nil {
		return nil, formatErr(DocPCKExtensions, "marshal", err)
	}
	return out, nil
}

func (e *PCKExtensions) checkMarshalable() error {
	if e.SGXType < SGXTypeStandard || e.SGXType > SGXTypeScalableWithIntegrity {
		return fmt.Errorf("unknown SGX type %d", e.SGXType)
	}
	if e.PlatformInstanceID != nil && len(e.PlatformInstanceID) != 16 {
		return fmt.Errorf("platform instance ID: want 16 bytes, got %d", len(e.PlatformInstanceID))
	}
	if !e.Platform() && (e.Dynamic != nil || e.CachedKeys != nil || e.SMT != nil) {
		return fmt.Errorf("configuration flags need a platform instance ID")
	}
	return nil
}

func (e *PCKExtensions) marshalTCB() ([]byte, error) {
	elems := make([][]byte, 0, tcbEntryCount)
	for i, c := range e.Components {
		b, err := derPairOf(OIDTCBComponent(i+1), int(c))
		if err != nil {
			return nil, err
		}
		elems = append(elems, b)
	}
	pce, err := derPairOf(oid(2, 17), int(e.PCESVN))
	if err != nil {
		return nil, err
	}
	cpu, err := derPairOf(oid(2, 18), e.CPUSVN[:])
	if err != nil {
		return nil, err
	}
	return derSequence(append(elems, pce, cpu)...)
}

func (e *PCKExtensions) marshalConfiguration() ([]byte, error) {
	var elems [][]byte
	for i, flag := range []*bool{e.Dynamic, e.CachedKeys, e.SMT} {
		if flag == nil {
			continue
		}
		b, err := derPairOf(oid(7, i+1), *flag)
		if err != nil {
			return nil, err
		}
		elems = append(elems, b)
	}
	return derSequence(elems...)
}
