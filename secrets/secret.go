package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Redacted is what every printed, logged or marshalled form of a [Secret] shows instead of its
// value.
const Redacted = "REDACTED"

// VersionLen is the length of a version: the first 16 hex digits (64 bits) of the SHA-256 of
// the value.
const VersionLen = 16

// Secret is one named secret value with its version. It is immutable and safe to share between
// goroutines. Its value leaves it only through [Secret.Bytes]: every way of printing it
// (fmt verbs, slog, JSON, text marshalling) shows the name, the version and [Redacted].
//
// The zero Secret has no name, no version and no value.
type Secret struct {
	name string
	// value is two pointers away from the Secret: when a Secret is an unexported field of
	// another struct, fmt cannot call its methods and prints it by reflection, which shows a
	// pointer below the top level as an address; a verb that does not fit a pointer (%s, %q)
	// makes fmt print that pointer once more at the top level, which dereferences one pointer
	// only, and still shows the second as an address.
	value   *sealed
	version string
}

type sealed struct{ b *[]byte }

func seal(b []byte) *sealed { return &sealed{b: &b} }

// New returns a secret holding a copy of value. It checks neither the name nor the value;
// [Load] does.
func New(name string, value []byte) Secret {
	return Secret{
		name:    name,
		value:   seal(append([]byte(nil), value...)),
		version: Version(value),
	}
}

// Version returns the version of a value: the first [VersionLen] hex digits of its SHA-256,
// so that an operator can match it with `sha256sum FILE | cut -c1-16`. It identifies content,
// it does not hide it: for a guessable value (a short password) a reader of the version can
// confirm a guess.
func Version(value []byte) string {
	sum := sha256.Sum256(value)
	return hex.EncodeToString(sum[:VersionLen/2])
}

// Name returns the secret's name.
func (s Secret) Name() string { return s.name }

// Version returns the secret's version (see the package function [Version]).
func (s Secret) Version() string { return s.version }

// Len returns the length of the value in bytes.
func (s Secret) Len() int {
	if s.value == nil {
		return 0
	}
	return len(*s.value.b)
}

// Bytes returns a copy of the value: the caller may keep, change or zero it (and should zero it
// once sent) without affecting the Secret or any other reader of the same snapshot.
func (s Secret) Bytes() []byte {
	if s.value == nil {
		return nil
	}
	return append([]byte(nil), *s.value.b...)
}

// String returns the name and version with [Redacted] in place of the value, e.g.
// secret(db-password, version 9f86d081884c7d65, REDACTED).
func (s Secret) String() string {
	return "secret(" + s.name + ", version " + s.version + ", " + Redacted + ")"
}

// GoString is the %#v form: the name and version with [Redacted] in place of the value.
func (s Secret) GoString() string {
	return "secrets.Secret{name:" + strconv.Quote(s.name) + ", version:" + strconv.Quote(s.version) +
		", value:" + Redacted + "}"
}

// Format implements [fmt.Formatter] so that no verb, flag or width can print the value: %#v
// prints [Secret.GoString], %q the quoted [Secret.String], and every other verb (%v %+v %s %x
// %X %d ...) [Secret.String].
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// LogValue implements [slog.LogValuer]: a group of name, version and value=[Redacted].
func (s Secret) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", s.name),
		slog.String("version", s.version),
		slog.String("value", Redacted),
	)
}

// redactedJSON is the JSON form of a Secret.
type redactedJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Value   string `json:"value"`
}

// MarshalJSON returns {"name":…,"version":…,"value":"REDACTED"}.
func (s Secret) MarshalJSON() ([]byte, error) {
	return json.Marshal(redactedJSON{Name: s.name, Version: s.version, Value: Redacted})
}

// MarshalText returns [Secret.String]; encoders that use it (encoding/xml, encoding/gob, YAML,
// JSON map keys) therefore never see the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
