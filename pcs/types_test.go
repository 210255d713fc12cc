package pcs

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func TestFMSPC(t *testing.T) {
	for _, s := range []string{"00A067110000", "00a067110000", "b0c06F000000"} {
		f, err := ParseFMSPC(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		back, err := ParseFMSPC(f.String())
		if err != nil || back != f {
			t.Errorf("%s: String %s does not round-trip", s, f)
		}
	}
	f, _ := ParseFMSPC("00a067110000")
	if f.String() != "00A067110000" || f != (FMSPC{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00}) {
		t.Errorf("got %s / %x", f, f[:])
	}
	for _, bad := range []string{"", "00A06711000", "00A0671100000", "00A06711000G", "0xA067110000"} {
		_, err := ParseFMSPC(bad)
		wantErr(t, err, KindFormat, "")
	}
	var v struct{ F FMSPC }
	if err := json.Unmarshal([]byte(`{"F":"90c06f000000"}`), &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(v)
	if err != nil || string(out) != `{"F":"90C06F000000"}` {
		t.Errorf("JSON: %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"F":"90c06f"}`), &v); !errors.Is(err, ErrFormat) {
		t.Errorf("short FMSPC in JSON: %v", err)
	}
}

func TestPCEID(t *testing.T) {
	p, err := ParsePCEID("00ff")
	if err != nil || p != (PCEID{0, 0xff}) || p.String() != "00FF" {
		t.Fatalf("got %s, %v", p, err)
	}
	text, _ := p.MarshalText()
	var q PCEID
	if err := q.UnmarshalText(text); err != nil || q != p {
		t.Errorf("text round trip: %s, %v", q, err)
	}
	for _, bad := range []string{"", "0", "000", "00000", "zz00"} {
		_, err := ParsePCEID(bad)
		wantErr(t, err, KindFormat, "")
		wantErr(t, q.UnmarshalText([]byte(bad)), KindFormat, "")
	}
}

func TestTCBStatusValid(t *testing.T) {
	tests := []struct {
		s                    TCBStatus
		platform, module, qe bool
	}{
		{StatusUpToDate, true, true, true},
		{StatusSWHardeningNeeded, true, false, false},
		{StatusConfigurationNeeded, true, false, true},
		{StatusConfigurationAndSWHardeningNeeded, true, false, false},
		{StatusOutOfDate, true, true, true},
		{StatusOutOfDateConfigurationNeeded, true, false, true},
		{StatusRevoked, true, true, true},
		{"", false, false, false},
		{"upToDate", false, false, false},
		{"TCB_NOT_SUPPORTED", false, false, false},
	}
	for _, tt := range tests {
		if tt.s.Valid() != tt.platform || tt.s.validModule() != tt.module || tt.s.validQE() != tt.qe {
			t.Errorf("%q: Valid %v module %v qe %v", tt.s, tt.s.Valid(), tt.s.validModule(), tt.s.validQE())
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("verify: tcb info: %w", newErr(KindSignature, DocTCBInfo, "bad", errors.New("cause")))
	tests := []struct {
		target error
		want   bool
	}{
		{ErrSignature, true},
		{ErrFormat, false},
		{&Error{Kind: KindSignature, Doc: DocTCBInfo}, true},
		{&Error{Kind: KindSignature, Doc: DocQEIdentity}, false},
		{&Error{Doc: DocTCBInfo}, true},
		{&Error{Kind: KindSignature, Detail: "bad"}, false},
	}
	for _, tt := range tests {
		if got := errors.Is(err, tt.target); got != tt.want {
			t.Errorf("errors.Is(err, %#v) = %v", tt.target, got)
		}
	}
	e, ok := errors.AsType[*Error](err)
	if !ok || e.Kind != KindSignature || e.Doc != DocTCBInfo || e.Unwrap() == nil {
		t.Errorf("AsType: %#v", e)
	}
	// Sentinels are distinct from one another.
	all := []error{ErrFormat, ErrSignature, ErrChain, ErrUntrusted, ErrRevoked, ErrExpired, ErrMismatch}
	for i, a := range all {
		for j, b := range all {
			if errors.Is(a, b) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, !(i == j))
			}
		}
	}
	// retag keeps the kind and cause and renames the document.
	cause := errors.New("x")
	r := retag(newErr(KindChain, DocChain, "d", cause), DocTCBInfo, "tcb_info_issuer_chain")
	if !errors.Is(r, &Error{Kind: KindChain, Doc: DocTCBInfo}) || !errors.Is(r, cause) {
		t.Errorf("retag: %v", r)
	}
	if !errors.Is(retag(cause, DocBundle, "p"), &Error{Kind: KindFormat, Doc: DocBundle}) || retag(nil, DocBundle, "") != nil {
		t.Error("retag of a foreign error")
	}
}
