package wire

import (
	"errors"
	"math"
)

// Gramine's secret provisioning V1 framing (spec §2.2). The NUL terminators are part of the
// magics: Gramine reads and compares every byte, NUL included.
const (
	// V1RequestMagic is the whole V1 request: 34 ASCII characters and a NUL, 35 bytes.
	V1RequestMagic = "SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"
	// V1ResponseMagic starts the V1 response: 36 ASCII characters (colon included) and a
	// NUL, 37 bytes. A 4-byte big-endian secret length and the secret follow.
	V1ResponseMagic = "SECRET_PROVISION_RA_TLS_RESPONSE_V1:\x00"
	// V1RequestSize is the size of the V1 request in bytes.
	V1RequestSize = len(V1RequestMagic)
	// V1ResponseHeaderSize is the size of the V1 response before the secret: magic and length.
	V1ResponseHeaderSize = len(V1ResponseMagic) + 4
	// MaxV1SecretSize is the largest length the V1 framing allows (Gramine refuses > INT_MAX).
	MaxV1SecretSize = math.MaxInt32
)

// Our named-secrets extension (see the package documentation for the byte layout).
const (
	// NamedRequestMagic starts a named-secrets request: 27 ASCII characters and a NUL.
	NamedRequestMagic = "SECRETPROV_NAMED_REQUEST_V1\x00"
	// NamedResponseMagic starts a named-secrets response or a refusal: 28 ASCII characters
	// and a NUL.
	NamedResponseMagic = "SECRETPROV_NAMED_RESPONSE_V1\x00"
)

// Protocol ceilings of the named-secrets extension, fixed by its field widths.
const (
	// MaxNamesCeiling is the most names one request can carry (2-byte count).
	MaxNamesCeiling = math.MaxUint16
	// MaxNameLenCeiling is the longest name the format can carry (1-byte length).
	MaxNameLenCeiling = math.MaxUint8
	// MaxReasonLen is the longest reason code, in a refusal or an entry.
	MaxReasonLen = 64
)

// Defaults used for every zero or negative field of [Limits].
const (
	DefaultMaxSecretSize = 1 << 20
	DefaultMaxNames      = 64
	DefaultMaxNameLen    = 128
	DefaultMaxTotalSize  = 16 << 20
)

// Limits bounds what a reader accepts and what a writer agrees to produce. The zero value means
// the defaults; a field that is zero or negative takes its default, and a field above what the
// format can carry is lowered to that ceiling.
type Limits struct {
	// MaxSecretSize bounds one secret value, in the V1 response and in a named entry.
	// Default 1 MiB; at most [MaxV1SecretSize].
	MaxSecretSize int
	// MaxNames bounds the names of one named request. Default 64; at most [MaxNamesCeiling].
	MaxNames int
	// MaxNameLen bounds one name, in bytes. Default 128; at most [MaxNameLenCeiling].
	MaxNameLen int
	// MaxTotalSize bounds the sum of the values of one named response. Default 16 MiB.
	MaxTotalSize int
}

func (l Limits) norm() Limits {
	l.MaxSecretSize = clampLimit(l.MaxSecretSize, DefaultMaxSecretSize, MaxV1SecretSize)
	l.MaxNames = clampLimit(l.MaxNames, DefaultMaxNames, MaxNamesCeiling)
	l.MaxNameLen = clampLimit(l.MaxNameLen, DefaultMaxNameLen, MaxNameLenCeiling)
	l.MaxTotalSize = clampLimit(l.MaxTotalSize, DefaultMaxTotalSize, math.MaxInt)
	return l
}

func clampLimit(v, def, ceiling int) int {
	if v <= 0 {
		return def
	}
	return min(v, ceiling)
}

// Errors reported by the readers and writers, always wrapped with the step and the offset that
// failed; test them with [errors.Is].
var (
	// ErrBadMagic: the bytes read are not a magic the reader accepts at that point.
	ErrBadMagic = errors.New("unexpected magic")
	// ErrTruncated: the stream ended inside a message. The error also matches
	// io.ErrUnexpectedEOF.
	ErrTruncated = errors.New("truncated message")
	// ErrTooLarge: a declared size or count is above the limit.
	ErrTooLarge = errors.New("size limit exceeded")
	// ErrEmptySecret: a secret of zero bytes (Gramine requires secret_size > 0).
	ErrEmptySecret = errors.New("empty secret")
	// ErrInvalidName: a secret name is empty, has a byte outside [A-Za-z0-9._-], is "." or
	// "..", or repeats an earlier name of the same request.
	ErrInvalidName = errors.New("invalid secret name")
	// ErrMalformed: any other structural error (zero names, unknown kind or status, a response
	// that does not answer the names requested, an invalid reason code).
	ErrMalformed = errors.New("malformed message")
	// ErrRefused: the server sent a refusal; the error is a [*RefusalError].
	ErrRefused = errors.New("refused by server")
)

// RefusalError is what [ReadNamedResponse] returns when the server sent a refusal instead of
// secrets. Reason is the server's reason code, e.g. "identity_mismatch".
type RefusalError struct {
	Reason string
}

func (e *RefusalError) Error() string { return "wire: refused by server: " + e.Reason }

// Is reports whether target is [ErrRefused].
func (e *RefusalError) Is(target error) bool { return target == ErrRefused }

// Kind says which protocol a first message asked for.
type Kind uint8

// Kinds of request.
const (
	// KindV1 is Gramine's V1 request: the client wants the one "first secret".
	KindV1 Kind = iota + 1
	// KindNamed is our named-secrets request.
	KindNamed
)

func (k Kind) String() string {
	switch k {
	case KindV1:
		return "v1"
	case KindNamed:
		return "named"
	default:
		return "unknown"
	}
}

// Request is a decoded first message.
type Request struct {
	Kind  Kind
	Names []string // KindNamed only: the names, in the order the client sent them
}

// Status is the answer for one name of a named request.
type Status uint8

// Statuses of a named entry. The values are the wire bytes.
const (
	StatusFound      Status = 0x00 // the value follows
	StatusNotGranted Status = 0x01 // the secret may exist but policy does not grant it
	StatusNotFound   Status = 0x02 // no secret of that name
)

func (s Status) String() string {
	switch s {
	case StatusFound:
		return "found"
	case StatusNotGranted:
		return "not_granted"
	case StatusNotFound:
		return "not_found"
	default:
		return "unknown"
	}
}

func (s Status) valid() bool { return s <= StatusNotFound }

// Entry is the answer for one name. Value is set only with StatusFound; Reason, an optional
// reason code, only with the other statuses.
type Entry struct {
	Name   string
	Status Status
	Value  []byte
	Reason string
}

// Kinds of named response, the byte after [NamedResponseMagic].
const (
	responseSecrets byte = 0x00
	responseRefusal byte = 0x01
)
