package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestModuleIdentityIDCase: a TCB Info whose module identity id is written in lower case
// ("tdx_01") is looked up like "TDX_01" (dcap spec §5.5 step 6), with the same verdict.
func TestModuleIdentityIDCase(t *testing.T) {
	f := newForge(t, tdxQuote, tdxCollateral)
	raw, at := f.quote(leafSpec{}), mustTime(t, v2At)
	want, err := Quote(raw, f.bundle(bundleSpec{}), at, WithRoot(f.root))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{`"id":"tdx_01"`, `"id":"Tdx_01"`} {
		b := f.bundle(bundleSpec{tcbEdit: replace(t, `"id":"TDX_01"`, id)})
		got, err := Quote(raw, b, at, WithRoot(f.root))
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: result differs (-TDX_01 +%s):\n%s", id, id, diff)
		}
		if _, err := warm(t, parseQuote(t, raw), b, at, WithRoot(f.root)); err != nil {
			t.Errorf("%s warm: %v", id, err)
		}
	}
}

// TestPCKCRLIssuerChainRefusals: the PCK CRL issuer chain must be a Processor or Platform CA under
// the trusted root, checked when the bundle is (pcs.VerifyPCKCRLIssuerChain).
func TestPCKCRLIssuerChainRefusals(t *testing.T) {
	raw, at := readQuote(t, sgxQuote), mustTime(t, v1At)
	tdx := loadBundle(t, tdxCollateral)
	tests := []struct {
		name   string
		edit   func(b *x509.Certificate, chain []*x509.Certificate) []*x509.Certificate
		rootAs bool // also replace the PCK CRL by the root CRL, which the root signs
		reason Reason
		want   bool // Want/Got name the root keys
	}{
		// The root names itself "...Root CA" and signs the root CRL, but it is no PCK CA.
		{"root as its own pck ca", func(root *x509.Certificate, _ []*x509.Certificate) []*x509.Certificate {
			return []*x509.Certificate{root, root}
		}, true, ReasonCRLInvalid, false},
		{"tcb signing certificate as pck ca", func(_ *x509.Certificate, _ []*x509.Certificate) []*x509.Certificate {
			return loadBundle(t, sgxCollateral).TCBInfoIssuerChain
		}, false, ReasonCRLInvalid, false},
		{"pck ca under a test root", func(_ *x509.Certificate, chain []*x509.Certificate) []*x509.Certificate {
			f := newForge(t, sgxQuote, sgxCollateral)
			return []*x509.Certificate{chain[0], f.root}
		}, false, ReasonCRLInvalid, true},
		{"three certificates", func(root *x509.Certificate, chain []*x509.Certificate) []*x509.Certificate {
			return []*x509.Certificate{chain[0], root, root}
		}, false, ReasonCRLInvalid, false},
		{"other ca's chain", func(_ *x509.Certificate, _ []*x509.Certificate) []*x509.Certificate {
			return tdx.PCKCRLIssuerChain
		}, false, ReasonCRLInvalid, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := loadBundle(t, sgxCollateral)
			b.PCKCRLIssuerChain = tc.edit(IntelRoot(), b.PCKCRLIssuerChain)
			if tc.rootAs {
				b.PCKCRL = b.RootCRL
			}
			_, err := Quote(raw, b, at)
			wantReason(t, err, tc.reason)
			if e, ok := errors.AsType[*Error](err); !ok || (e.Want != "") != tc.want {
				t.Errorf("want/got of %v: %v", err, ok)
			}
			v, _ := New(Static(b))
			_, err = v.Verify(context.Background(), parseQuote(t, raw), at)
			wantReason(t, err, tc.reason)
		})
	}
}
