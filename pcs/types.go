package pcs

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/secretprov/secretprov/quote"
)

// FMSPC is the 6-byte Family-Model-Stepping-Platform-CustomSKU value that selects a TCB Info.
type FMSPC [6]byte

// ParseFMSPC parses 12 hex digits, in either case.
func ParseFMSPC(s string) (FMSPC, error) {
	var f FMSPC
	if err := decodeHexInto(f[:], s); err != nil {
		return FMSPC{}, formatErr("", "fmspc", err)
	}
	return f, nil
}

// String returns the upper-case hex form Intel uses, e.g. "00A067110000".
func (f FMSPC) String() string { return strings.ToUpper(hex.EncodeToString(f[:])) }

// MarshalText implements encoding.TextMarshaler (upper-case hex).
func (f FMSPC) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex, either case).
func (f *FMSPC) UnmarshalText(b []byte) error {
	v, err := ParseFMSPC(string(b))
	if err != nil {
		return err
	}
	*f = v
	return nil
}

// PCEID is the 2-byte identifier of the Provisioning Certification Enclave.
type PCEID [2]byte

// ParsePCEID parses 4 hex digits, in either case.
func ParsePCEID(s string) (PCEID, error) {
	var p PCEID
	if err := decodeHexInto(p[:], s); err != nil {
		return PCEID{}, formatErr("", "pce id", err)
	}
	return p, nil
}

// String returns upper-case hex, e.g. "0000".
func (p PCEID) String() string { return strings.ToUpper(hex.EncodeToString(p[:])) }

// MarshalText implements encoding.TextMarshaler (upper-case hex).
func (p PCEID) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (hex, either case).
func (p *PCEID) UnmarshalText(b []byte) error {
	v, err := ParsePCEID(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// CAType says which Intel intermediate CA issued a PCK certificate; it selects the PCK CRL.
type CAType string

// The two PCK CAs (the values are PCS's "ca" query parameter).
const (
	CAProcessor CAType = "processor"
	CAPlatform  CAType = "platform"
)

// Common names of the Intel certificates (dcap spec §3).
const (
	CNProcessorCA = "Intel SGX PCK Processor CA"
	CNPlatformCA  = "Intel SGX PCK Platform CA"
)

// Valid reports whether c is one of the two known CA types.
func (c CAType) Valid() bool { return c == CAProcessor || c == CAPlatform }

// CATypeOf returns the CA type of a PCK intermediate (the PCK certificate's issuer) from its
// exact subject common name. Any other name is a KindChain error.
func CATypeOf(issuer *x509.Certificate) (CAType, error) {
	if issuer == nil {
		return "", newErr(KindChain, DocPCKCA, "no certificate", nil)
	}
	switch issuer.Subject.CommonName {
	case CNProcessorCA:
		return CAProcessor, nil
	case CNPlatformCA:
		return CAPlatform, nil
	}
	return "", newErr(KindChain, DocPCKCA, fmt.Sprintf("unknown PCK CA %q", issuer.Subject.CommonName), nil)
}

// TCBStatus is the status of a TCB level as written by Intel.
type TCBStatus string

// The platform TCB statuses (dcap spec §4.1). Module and QE levels use a subset.
const (
	StatusUpToDate                          TCBStatus = "UpToDate"
	StatusSWHardeningNeeded                 TCBStatus = "SWHardeningNeeded"
	StatusConfigurationNeeded               TCBStatus = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         TCBStatus = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      TCBStatus = "OutOfDateConfigurationNeeded"
	StatusRevoked                           TCBStatus = "Revoked"
)

// Valid reports whether s is one of the seven platform TCB statuses.
func (s TCBStatus) Valid() bool {
	switch s {
	case StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded,
		StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate,
		StatusOutOfDateConfigurationNeeded, StatusRevoked:
		return true
	}
	return false
}

// validModule reports whether s is allowed in a TDX module identity level.
func (s TCBStatus) validModule() bool {
	return s == StatusUpToDate || s == StatusOutOfDate || s == StatusRevoked
}

// validQE reports whether s is allowed in an enclave identity level: UpToDate, OutOfDate,
// Revoked, and the two configuration statuses QVL tolerates (dcap spec §4.2).
func (s TCBStatus) validQE() bool {
	return s.validModule() || s == StatusConfigurationNeeded || s == StatusOutOfDateConfigurationNeeded
}

// Key identifies the collateral a platform needs: TCB Info and QE Identity are selected by TEE
// and FMSPC, the PCK CRL by the CA type.
type Key struct {
	TEE   quote.TEE
	FMSPC FMSPC
	CA    CAType
}

// String returns e.g. "sgx/00A067110000/processor".
func (k Key) String() string {
	return k.TEE.String() + "/" + k.FMSPC.String() + "/" + string(k.CA)
}

// decodeHexInto decodes exactly len(dst) bytes of hex (either case) into dst.
func decodeHexInto(dst []byte, s string) error {
	if len(s) != 2*len(dst) {
		return fmt.Errorf("want %d hex digits, got %d characters", 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return err
	}
	return nil
}
