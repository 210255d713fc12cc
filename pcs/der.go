package pcs

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// derPair is one (OID, value) entry of an SGX extension SEQUENCE.
type derPair struct {
	id    asn1.ObjectIdentifier
	value asn1.RawValue
}

// unmarshalExact parses one DER value into v and refuses trailing bytes.
func unmarshalExact(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}

// parsePairs parses der as exactly one SEQUENCE of at most max SEQUENCE { OID, value }.
func parsePairs(der []byte, max int) ([]derPair, error) {
	var outer asn1.RawValue
	if err := unmarshalExact(der, &outer); err != nil {
		return nil, err
	}
	if !isSequence(outer) {
		return nil, errors.New("not a SEQUENCE")
	}
	var pairs []derPair
	for rest := outer.Bytes; len(rest) > 0; {
		if len(pairs) == max {
			return nil, fmt.Errorf("more than %d entries", max)
		}
		var elem asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &elem); err != nil {
			return nil, err
		}
		p, err := parsePair(elem)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", len(pairs), err)
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

func parsePair(elem asn1.RawValue) (derPair, error) {
	var p derPair
	if !isSequence(elem) {
		return p, errors.New("not a SEQUENCE")
	}
	rest, err := asn1.Unmarshal(elem.Bytes, &p.id)
	if err != nil {
		return p, err
	}
	if err := unmarshalExact(rest, &p.value); err != nil {
		return p, err
	}
	return p, nil
}

func isSequence(v asn1.RawValue) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == asn1.TagSequence && v.IsCompound
}

// octetsInto copies a primitive OCTET STRING of exactly len(dst) bytes into dst.
func octetsInto(dst []byte, v asn1.RawValue) error {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString || v.IsCompound {
		return errors.New("not an OCTET STRING")
	}
	if len(v.Bytes) != len(dst) {
		return fmt.Errorf("want %d bytes, got %d", len(dst), len(v.Bytes))
	}
	copy(dst, v.Bytes)
	return nil
}

// parseInt parses a DER INTEGER in 0..max.
func parseInt(v asn1.RawValue, max int) (int, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagInteger {
		return 0, errors.New("not an INTEGER")
	}
	var n int
	if err := unmarshalExact(v.FullBytes, &n); err != nil {
		return 0, err
	}
	if n < 0 || n > max {
		return 0, fmt.Errorf("%d out of range 0..%d", n, max)
	}
	return n, nil
}

// parseEnumerated parses a DER ENUMERATED.
func parseEnumerated(v asn1.RawValue) (int, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagEnum {
		return 0, errors.New("not an ENUMERATED")
	}
	var n asn1.Enumerated
	if err := unmarshalExact(v.FullBytes, &n); err != nil {
		return 0, err
	}
	return int(n), nil
}

// derSequence wraps already-encoded elements in a SEQUENCE.
func derSequence(elems ...[]byte) ([]byte, error) {
	var content []byte
	for _, e := range elems {
		content = append(content, e...)
	}
	return asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: content})
}

// derPairOf encodes SEQUENCE { id, value } where value is a Go value for asn1.Marshal.
func derPairOf(id asn1.ObjectIdentifier, value any) ([]byte, error) {
	idDER, err := asn1.Marshal(id)
	if err != nil {
		return nil, err
	}
	var valDER []byte
	if raw, ok := value.([]byte); ok {
		valDER, err = asn1.Marshal(raw) // OCTET STRING
	} else if der, ok := value.(asn1.RawValue); ok {
		valDER = der.FullBytes
	} else {
		valDER, err = asn1.Marshal(value)
	}
	if err != nil {
		return nil, err
	}
	return derSequence(idDER, valDER)
}
