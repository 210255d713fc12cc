package ratls

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/verify"
)

func TestVerifyCertificate(t *testing.T) {
	keys(t)
	cert := newRATLS(t, mrEnclaveA).Leaf
	plain := errors.New("collateral server down")
	tests := []struct {
		name         string
		v            *fakeVerifier
		at           time.Time
		wantReason   Reason
		wantEvidence bool
	}{
		{"ok", newVerifier(), testTime, "", true},
		{"verify reason passes through", &fakeVerifier{err: &verify.Error{Reason: verify.ReasonTCBRevoked}}, testTime, Reason(verify.ReasonTCBRevoked), true},
		{"untyped verifier error", &fakeVerifier{err: plain}, testTime, ReasonVerificationFailed, true},
		{"zero time", newVerifier(), time.Time{}, ReasonVerificationFailed, true},
		{"no result", &fakeVerifier{nilRes: true}, testTime, ReasonVerificationFailed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := VerifyCertificate(context.Background(), cert, tt.v, tt.at)
			if got := ReasonOf(err); got != tt.wantReason {
				t.Fatalf("reason %q, want %q: %v", got, tt.wantReason, err)
			}
			if (ev != nil) != tt.wantEvidence {
				t.Fatalf("evidence %v", ev)
			}
			if ev.Binding != BindingTCG || ev.Certificate != cert || ev.Quote.SGX.MREnclave != mrEnclaveA {
				t.Errorf("evidence %+v", ev)
			}
			if err == nil && ev.Result.SGX.MREnclave != mrEnclaveA {
				t.Errorf("result identity %v", ev.Result.SGX.MREnclave)
			}
		})
	}
	_, err := VerifyCertificate(context.Background(), cert, &fakeVerifier{err: &verify.Error{Reason: verify.ReasonTCBRevoked}}, testTime)
	if !errors.Is(err, verify.ErrTCBRevoked) || verify.ReasonOf(err) != verify.ReasonTCBRevoked {
		t.Errorf("verify.Error not reachable: %v", err)
	}
	_, err = VerifyCertificate(context.Background(), cert, &fakeVerifier{err: plain}, testTime)
	if !errors.Is(err, plain) {
		t.Errorf("cause not reachable: %v", err)
	}
	if ev, err := VerifyCertificate(context.Background(), makeCert(t, certParts{key: keyP384}), newVerifier(), testTime); ev != nil || ReasonOf(err) != ReasonExtensionMissing {
		t.Errorf("no extension: %v %v", ev, err)
	}
}

func evidenceWith(mut func(r *quote.EnclaveReport, res *verify.Result)) *Evidence {
	r := testReport(mrEnclaveA)
	res := &verify.Result{TEE: "sgx", TCBStatus: pcs.StatusUpToDate}
	mut(&r, res)
	res.SGX = &r
	return &Evidence{Result: res, Binding: BindingTCG}
}

func TestAuthorizers(t *testing.T) {
	none := func(*quote.EnclaveReport, *verify.Result) {}
	tests := []struct {
		name string
		a    Authorizer
		ev   *Evidence
		want Reason // "" = authorized
	}{
		{"mrenclave ok", AuthorizeMREnclave(mrEnclaveB, mrEnclaveA), evidenceWith(none), ""},
		{"mrenclave other", AuthorizeMREnclave(mrEnclaveB), evidenceWith(none), ReasonIdentityMismatch},
		{"mrenclave none allowed", AuthorizeMREnclave(), evidenceWith(none), ReasonIdentityMismatch},
		{"debug", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(r *quote.EnclaveReport, _ *verify.Result) { r.Attributes[0] |= flagDebug }), ReasonAttributesRefused},
		{"not initialized", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(r *quote.EnclaveReport, _ *verify.Result) { r.Attributes[0] &^= flagInitialized }), ReasonAttributesRefused},
		{"32-bit", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(r *quote.EnclaveReport, _ *verify.Result) { r.Attributes[0] &^= flagMode64Bit }), ReasonAttributesRefused},
		{"provision key", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(r *quote.EnclaveReport, _ *verify.Result) { r.Attributes[0] |= flagProvisionKey }), ReasonAttributesRefused},
		{"einittoken key", AuthorizeMRSigner(mrSignerA, 7, 0), evidenceWith(func(r *quote.EnclaveReport, _ *verify.Result) { r.Attributes[0] |= flagEINITToken }), ReasonAttributesRefused},
		{"out of date", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(_ *quote.EnclaveReport, res *verify.Result) { res.TCBStatus = pcs.StatusOutOfDate }), ReasonTCBRefused},
		{"sw hardening needed", AuthorizeMREnclave(mrEnclaveA), evidenceWith(func(_ *quote.EnclaveReport, res *verify.Result) { res.TCBStatus = pcs.StatusSWHardeningNeeded }), ReasonTCBRefused},
		{"collateral expired", AuthorizeMRSigner(mrSignerA, 7, 3), evidenceWith(func(_ *quote.EnclaveReport, res *verify.Result) { res.CollateralExpired = true }), ReasonTCBRefused},
		{"tdx", AuthorizeMREnclave(mrEnclaveA), &Evidence{Result: &verify.Result{TEE: "tdx", TCBStatus: pcs.StatusUpToDate, TDX: &quote.TDReport{}}}, ReasonIdentityMismatch},
		{"nil result", AuthorizeMRSigner(mrSignerA, 7, 3), &Evidence{}, ReasonIdentityMismatch},
		{"mrsigner ok, svn equal", AuthorizeMRSigner(mrSignerA, 7, 3), evidenceWith(none), ""},
		{"mrsigner ok, svn higher", AuthorizeMRSigner(mrSignerA, 7, 1), evidenceWith(none), ""},
		{"mrsigner svn lower", AuthorizeMRSigner(mrSignerA, 7, 4), evidenceWith(none), ReasonIdentityMismatch},
		{"mrsigner other product", AuthorizeMRSigner(mrSignerA, 8, 0), evidenceWith(none), ReasonIdentityMismatch},
		{"mrsigner other signer", AuthorizeMRSigner(quote.Measurement{1}, 7, 0), evidenceWith(none), ReasonIdentityMismatch},
		{"any insecure", AuthorizeAnyInsecure(), evidenceWith(func(r *quote.EnclaveReport, res *verify.Result) {
			r.Attributes[0] |= flagDebug
			res.TCBStatus = pcs.StatusOutOfDate
		}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.a(tt.ev)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %q, want %q: %v", got, tt.want, err)
			}
		})
	}
}

func TestAuthorizeMREnclaveCopiesArgs(t *testing.T) {
	allowed := []quote.Measurement{mrEnclaveA}
	a := AuthorizeMREnclave(allowed...)
	allowed[0] = mrEnclaveB
	if err := a(evidenceWith(func(*quote.EnclaveReport, *verify.Result) {})); err != nil {
		t.Errorf("authorizer changed with its argument slice: %v", err)
	}
}

func TestReasonsDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range verify.Reasons() {
		seen[string(r)] = true
	}
	for _, r := range Reasons() {
		if seen[string(r)] {
			t.Errorf("reason %q is not unique across ratls and verify", r)
		}
		seen[string(r)] = true
		if err := (&Error{Reason: r}); !errors.Is(err, &Error{Reason: r}) || ReasonOf(err) != r {
			t.Errorf("reason %q does not round-trip", r)
		}
	}
	if ReasonOf(nil) != "" || ReasonOf(io.EOF) != "" {
		t.Error("ReasonOf of a non-refusal")
	}
}
