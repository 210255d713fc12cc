package verify

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestErrorIsAndReasonOf(t *testing.T) {
	sentinels := map[Reason]*Error{
		ReasonQuoteMalformed: ErrQuoteMalformed, ReasonQuoteUnsupported: ErrQuoteUnsupported,
		ReasonPCKChainInvalid: ErrPCKChainInvalid, ReasonPCKRevoked: ErrPCKRevoked,
		ReasonCollateralUnavailable: ErrCollateralUnavailable, ReasonCRLInvalid: ErrCRLInvalid,
		ReasonTCBInfoInvalid: ErrTCBInfoInvalid, ReasonQEIdentityInvalid: ErrQEIdentityInvalid,
		ReasonCollateralMismatch: ErrCollateralMismatch, ReasonQEReportSignatureInvalid: ErrQEReportSignatureInvalid,
		ReasonQEReportBindingInvalid: ErrQEReportBindingInvalid, ReasonQEIdentityMismatch: ErrQEIdentityMismatch,
		ReasonQuoteSignatureInvalid: ErrQuoteSignatureInvalid, ReasonTCBNotSupported: ErrTCBNotSupported,
		ReasonTCBRevoked: ErrTCBRevoked, ReasonCollateralExpired: ErrCollateralExpired,
	}
	if len(sentinels) != len(Reasons()) {
		t.Fatalf("%d sentinels for %d reasons", len(sentinels), len(Reasons()))
	}
	for _, r := range Reasons() {
		s, ok := sentinels[r]
		if !ok || s.Reason != r {
			t.Fatalf("no sentinel for %s", r)
		}
		err := fmt.Errorf("outer: %w", &Error{Reason: r, Step: "x", Err: io.EOF})
		if !errors.Is(err, s) || ReasonOf(err) != r || !errors.Is(err, io.EOF) {
			t.Errorf("%s: errors.Is/ReasonOf/Unwrap broken for %v", r, err)
		}
		for _, other := range Reasons() {
			if other != r && errors.Is(err, sentinels[other]) {
				t.Errorf("%s matches sentinel %s", r, other)
			}
		}
		if e, ok := errors.AsType[*Error](err); !ok || e.Step != "x" {
			t.Errorf("%s: AsType failed", r)
		}
	}
	if ReasonOf(nil) != "" || ReasonOf(io.EOF) != "" {
		t.Error("ReasonOf of a foreign error is not empty")
	}
}

// TestErrorSentence checks the message names step, expected and actual values (for people;
// programs use Reason).
func TestErrorSentence(t *testing.T) {
	e := mismatch(ReasonCollateralMismatch, "collateral match", "tcb info is for another platform (FMSPC)", "00A067110000", "B0C06F000000")
	msg := e.Error()
	for _, part := range []string{"verify: collateral match", "another platform", "want 00A067110000", "got B0C06F000000"} {
		if !strings.Contains(msg, part) {
			t.Errorf("%q lacks %q", msg, part)
		}
	}
	if got := ErrPCKRevoked.Error(); got != "verify: pck revoked" {
		t.Errorf("sentinel message %q", got)
	}
	// A real refusal: the sentence names the check.
	b := loadBundle(t, sgxCollateral)
	b.TCBInfo = loadBundle(t, tdxCollateral).TCBInfo
	_, err := Quote(readQuote(t, sgxQuote), b, mustTime(t, v1At))
	if msg := err.Error(); !strings.Contains(msg, "want SGX, got TDX") {
		t.Errorf("mismatch message %q", msg)
	}
	_, err = Quote(readQuote(t, sgxQuote), loadBundle(t, sgxCollateral), mustTime(t, "2025-07-19T10:01:19Z"))
	if msg := err.Error(); !strings.Contains(msg, "qe identity") || !strings.Contains(msg, "to 2025-07-19T10:01:18Z") ||
		!strings.Contains(msg, "want valid at 2025-07-19T10:01:19Z") {
		t.Errorf("expiry message %q", msg)
	}
}

func TestAppendSigDER(t *testing.T) {
	var sig [64]byte
	sig[31], sig[32] = 0x01, 0x80 // r = 1, s has its top bit set
	got := appendSigDER(nil, &sig)
	want := append([]byte{0x30, 3 + 35, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00}, sig[32:]...)
	if string(got) != string(want) {
		t.Fatalf("DER %x, want %x", got, want)
	}
	var zero [64]byte
	if got := appendSigDER(nil, &zero); string(got) != "\x30\x06\x02\x01\x00\x02\x01\x00" {
		t.Fatalf("zero DER %x", got)
	}
}
