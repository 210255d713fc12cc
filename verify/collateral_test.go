package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretprov/secretprov/pcs"
)

// TestRealCollateralTampered damages the real, Intel-signed collateral of V1/V2.
func TestRealCollateralTampered(t *testing.T) {
	sgxB, tdxB := loadBundle(t, sgxCollateral), loadBundle(t, tdxCollateral)
	tests := []struct {
		name   string
		quote  string
		edit   func(b *pcs.Bundle)
		reason Reason
	}{
		{"tcb info byte flipped", sgxQuote, func(b *pcs.Bundle) { b.TCBInfo = flipTCB(b.TCBInfo, 40) }, ReasonTCBInfoInvalid},
		{"tcb info signature flipped", sgxQuote, func(b *pcs.Bundle) {
			c := *b.TCBInfo
			c.Signature[5] ^= 1
			b.TCBInfo = &c
		}, ReasonTCBInfoInvalid},
		{"qe identity byte flipped", sgxQuote, func(b *pcs.Bundle) { b.QEIdentity = flipQE(b.QEIdentity, 40) }, ReasonQEIdentityInvalid},
		{"tdx tcb info byte flipped", tdxQuote, func(b *pcs.Bundle) { b.TCBInfo = flipTCB(b.TCBInfo, 100) }, ReasonTCBInfoInvalid},
		{"tdx qe identity byte flipped", tdxQuote, func(b *pcs.Bundle) { b.QEIdentity = flipQE(b.QEIdentity, 100) }, ReasonQEIdentityInvalid},
		{"sgx quote, tdx collateral", sgxQuote, func(b *pcs.Bundle) { *b = *tdxB }, ReasonCollateralMismatch},
		{"tdx quote, sgx collateral", tdxQuote, func(b *pcs.Bundle) { *b = *sgxB }, ReasonCollateralMismatch},
		{"sgx tcb info, td_qe identity", sgxQuote, func(b *pcs.Bundle) { b.QEIdentity = tdxB.QEIdentity }, ReasonCollateralMismatch},
		{"tdx tcb info, qe identity", tdxQuote, func(b *pcs.Bundle) { b.QEIdentity = sgxB.QEIdentity }, ReasonCollateralMismatch},
		{"sgx quote, tdx tcb info", sgxQuote, func(b *pcs.Bundle) { b.TCBInfo = tdxB.TCBInfo }, ReasonCollateralMismatch},
		{"pck crl of the other ca", sgxQuote, func(b *pcs.Bundle) {
			b.PCKCRL, b.PCKCRLIssuerChain = tdxB.PCKCRL, tdxB.PCKCRLIssuerChain
		}, ReasonCollateralMismatch},
		{"pck crl not by its issuer chain", sgxQuote, func(b *pcs.Bundle) { b.PCKCRL = tdxB.PCKCRL }, ReasonCRLInvalid},
		{"root crl replaced by pck crl", sgxQuote, func(b *pcs.Bundle) { b.RootCRL = b.PCKCRL }, ReasonCRLInvalid},
		{"root crl missing", sgxQuote, func(b *pcs.Bundle) { b.RootCRL = nil }, ReasonCRLInvalid},
		{"pck crl missing", sgxQuote, func(b *pcs.Bundle) { b.PCKCRL = nil }, ReasonCRLInvalid},
		{"pck crl issuer chain short", sgxQuote, func(b *pcs.Bundle) { b.PCKCRLIssuerChain = b.PCKCRLIssuerChain[:1] }, ReasonCRLInvalid},
		{"tcb info missing", sgxQuote, func(b *pcs.Bundle) { b.TCBInfo = nil }, ReasonTCBInfoInvalid},
		{"qe identity missing", sgxQuote, func(b *pcs.Bundle) { b.QEIdentity = nil }, ReasonQEIdentityInvalid},
		{"tcb info chain short", sgxQuote, func(b *pcs.Bundle) { b.TCBInfoIssuerChain = b.TCBInfoIssuerChain[:1] }, ReasonTCBInfoInvalid},
		{"tcb info signed by pck ca chain", sgxQuote, func(b *pcs.Bundle) { b.TCBInfoIssuerChain = b.PCKCRLIssuerChain }, ReasonTCBInfoInvalid},
		{"qe identity chain reversed", sgxQuote, func(b *pcs.Bundle) {
			c := b.QEIdentityIssuerChain
			b.QEIdentityIssuerChain = []*x509.Certificate{c[1], c[0]}
		}, ReasonQEIdentityInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := loadBundle(t, sgxCollateral)
			if tc.quote == tdxQuote {
				b = loadBundle(t, tdxCollateral)
			}
			tc.edit(b)
			raw, at := readQuote(t, tc.quote), mustTime(t, v1At)
			r, err := Quote(raw, b, at)
			wantReason(t, err, tc.reason)
			if r == nil {
				t.Fatal("nil Result")
			}
			_, err = warm(t, parseQuote(t, raw), b, at)
			wantReason(t, err, tc.reason)
		})
	}
}

func flipTCB(t *pcs.TCBInfo, i int) *pcs.TCBInfo {
	c := *t
	c.Raw = bytes.Clone(t.Raw)
	c.Raw[i] ^= 1
	return &c
}

func flipQE(q *pcs.QEIdentity, i int) *pcs.QEIdentity {
	c := *q
	c.Raw = bytes.Clone(q.Raw)
	c.Raw[i] ^= 1
	return &c
}

// TestUntrustedRoot: the real chain under a test root, and a forged chain under Intel's.
func TestUntrustedRoot(t *testing.T) {
	f := newForge(t, sgxQuote, sgxCollateral)
	at := mustTime(t, v1At)
	_, err := Quote(readQuote(t, sgxQuote), loadBundle(t, sgxCollateral), at, WithRoot(f.root))
	wantReason(t, err, ReasonPCKChainInvalid)
	_, err = Quote(f.quote(leafSpec{}), f.bundle(bundleSpec{}), at)
	wantReason(t, err, ReasonPCKChainInvalid)
	// Collateral under the test root with the real quote: the chain is refused first.
	_, err = Quote(readQuote(t, sgxQuote), f.bundle(bundleSpec{}), at)
	wantReason(t, err, ReasonCRLInvalid)
}

// TestForgedCollateral builds collateral and PCK certificates under a test root to reach the
// negative cases real data cannot: revocations, wrong signers, dates, edited documents.
func TestForgedCollateral(t *testing.T) {
	future := [2]time.Time{mustTime(t, "2025-07-02T00:00:00Z"), mustTime(t, "2025-08-01T00:00:00Z")}
	past := [2]time.Time{mustTime(t, "2025-05-01T00:00:00Z"), mustTime(t, "2025-06-30T23:59:59Z")}
	const matched = `,{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0}],"pcesvn":13},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"ConfigurationAndSWHardeningNeeded"`
	cfgSW := pcs.TCBStatus("ConfigurationAndSWHardeningNeeded")
	tests := []struct {
		name   string
		leaf   leafSpec
		spec   bundleSpec
		opts   []Option
		reason Reason
		status pcs.TCBStatus
	}{
		{name: "baseline", status: cfgSW},
		{name: "pck revoked", spec: bundleSpec{revokePCK: true}, reason: ReasonPCKRevoked},
		{name: "pck ca revoked by root crl", spec: bundleSpec{revokeCA: true}, reason: ReasonPCKRevoked},
		{name: "tcb signing cert revoked", spec: bundleSpec{revokeSigner: true}, reason: ReasonTCBInfoInvalid},
		{name: "pck crl wrong signature", spec: bundleSpec{pckCRLKey: newKey(t)}, reason: ReasonCRLInvalid},
		{name: "tcb info wrong signature", spec: bundleSpec{tcbKey: newKey(t)}, reason: ReasonTCBInfoInvalid},
		{name: "tcb info wrong fmspc", spec: bundleSpec{tcbEdit: replace(t, `"fmspc":"00A067110000"`, `"fmspc":"00A067110001"`)}, reason: ReasonCollateralMismatch},
		{name: "pck wrong fmspc", leaf: leafSpec{ext: func(e *pcs.PCKExtensions) { e.FMSPC[5] = 0x42 }}, reason: ReasonCollateralMismatch},
		{name: "tcb info wrong pce id", spec: bundleSpec{tcbEdit: replace(t, `"pceId":"0000"`, `"pceId":"0001"`)}, reason: ReasonCollateralMismatch},
		{name: "pck crl expired", spec: bundleSpec{pckCRLWindow: past}, reason: ReasonCollateralExpired, status: cfgSW},
		{name: "pck crl expired allowed", spec: bundleSpec{pckCRLWindow: past}, opts: []Option{WithExpiredCollateralAllowed()}, status: cfgSW},
		{name: "root crl from the future", spec: bundleSpec{rootCRLWindow: future}, reason: ReasonCollateralExpired, status: cfgSW},
		{name: "tcb info from the future", spec: bundleSpec{tcbEdit: replace(t, `"issueDate":"2025-06-19T10:56:11Z"`, `"issueDate":"2025-07-02T00:00:00Z"`)}, reason: ReasonCollateralExpired, status: cfgSW},
		{name: "pck certificate expired", leaf: leafSpec{notAfter: mustTime(t, "2025-06-30T00:00:00Z")}, reason: ReasonCollateralExpired, status: cfgSW},
		{name: "pck certificate wrong cn", leaf: leafSpec{cn: "Intel SGX Something"}, reason: ReasonPCKChainInvalid},
		{name: "pck certificate not signed by ca", leaf: leafSpec{badSig: true}, reason: ReasonPCKChainInvalid},
		{name: "no platform level", leaf: leafSpec{ext: func(e *pcs.PCKExtensions) { e.Components = [16]byte{} }}, reason: ReasonTCBNotSupported},
		{name: "pcesvn below every level", leaf: leafSpec{ext: func(e *pcs.PCKExtensions) { e.PCESVN = 1 }}, reason: ReasonTCBNotSupported},
		{name: "platform level revoked", spec: bundleSpec{tcbEdit: replace(t, matched, `,{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0},{"svn":0}],"pcesvn":13},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"Revoked"`)}, reason: ReasonTCBRevoked, status: "Revoked"},
		{name: "qe out of date", spec: bundleSpec{qeEdit: replace(t, `{"isvsvn":8}`, `{"isvsvn":11}`)}, status: "OutOfDateConfigurationNeeded"},
		{name: "qe revoked", spec: bundleSpec{qeEdit: replace(t, `{"isvsvn":8},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"`, `{"isvsvn":8},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"Revoked"`)}, reason: ReasonTCBRevoked, status: "Revoked"},
		{name: "qe below every level", spec: bundleSpec{qeEdit: replaceTail(t, `"tcbLevels":[`, `{"tcb":{"isvsvn":11},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]}`)}, reason: ReasonTCBNotSupported},
		{name: "qe mrsigner", spec: bundleSpec{qeEdit: replace(t, `"mrsigner":"8C4F`, `"mrsigner":"9C4F`)}, reason: ReasonQEIdentityMismatch},
		{name: "qe isvprodid", spec: bundleSpec{qeEdit: replace(t, `"isvprodid":1`, `"isvprodid":2`)}, reason: ReasonQEIdentityMismatch},
		{name: "qe attributes", spec: bundleSpec{qeEdit: replace(t, `"attributes":"11`, `"attributes":"13`)}, reason: ReasonQEIdentityMismatch},
		{name: "qe miscselect", spec: bundleSpec{qeEdit: replace(t, `"miscselect":"00000000"`, `"miscselect":"00000001"`)}, reason: ReasonQEIdentityMismatch},
	}
	f := newForge(t, sgxQuote, sgxCollateral)
	at := mustTime(t, v1At)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			raw := f.quote(tc.leaf)
			b := f.bundle(tc.spec)
			opts := append([]Option{WithRoot(f.root)}, tc.opts...)
			r, err := Quote(raw, b, at, opts...)
			wantReason(t, err, tc.reason)
			if r == nil || r.TCBStatus != tc.status {
				t.Fatalf("result %+v, want status %q", r, tc.status)
			}
			hot, err := warm(t, parseQuote(t, raw), b, at, opts...)
			wantReason(t, err, tc.reason)
			if diff := cmp.Diff(r, hot); diff != "" {
				t.Errorf("warm differs from cold (-cold +warm):\n%s", diff)
			}
		})
	}
}

// replaceTail returns an edit that keeps everything up to and including marker and replaces
// the rest by tail.
func replaceTail(t testing.TB, marker, tail string) func([]byte) []byte {
	return func(b []byte) []byte {
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			t.Fatalf("edit: %q not found", marker)
		}
		return append(b[:i+len(marker):i+len(marker)], tail...)
	}
}

// TestForgedTDX covers the TDX module identity and the TD relaunch rule with re-signed TDX
// collateral (bases V2, TDX 1.0, and V6, TDX 1.5).
func TestForgedTDX(t *testing.T) {
	tests := []struct {
		name, quote, coll, at string
		edit                  func([]byte) []byte
		reason                Reason
		status, module        pcs.TCBStatus
		relaunch              bool
	}{
		{name: "v4 baseline", quote: tdxQuote, coll: tdxCollateral, at: v2At, status: "UpToDate", module: "UpToDate"},
		{name: "v4 module identity missing", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit: replace(t, `"id":"TDX_01"`, `"id":"TDX_02"`), reason: ReasonCollateralMismatch},
		{name: "v4 module mrsigner", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit: replace(t, `{"id":"TDX_01","mrsigner":"0`, `{"id":"TDX_01","mrsigner":"1`), reason: ReasonCollateralMismatch},
		{name: "v4 module attributes", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit:   replace(t, `{"id":"TDX_01","mrsigner":"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000","attributes":"00`, `{"id":"TDX_01","mrsigner":"000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000","attributes":"01`),
			reason: ReasonCollateralMismatch},
		{name: "v4 module out of date", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit: replace(t, `{"isvsvn":4}`, `{"isvsvn":7}`), status: "OutOfDate", module: "OutOfDate"},
		{name: "v4 module revoked", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit:   replace(t, `{"isvsvn":4},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"`, `{"isvsvn":4},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"Revoked"`),
			reason: ReasonTCBRevoked, status: "Revoked", module: "Revoked"},
		{name: "v4 module below every level", quote: tdxQuote, coll: tdxCollateral, at: v2At,
			edit: chain(replace(t, `{"isvsvn":4}`, `{"isvsvn":9}`), replace(t, `{"isvsvn":2}`, `{"isvsvn":8}`)), reason: ReasonTCBNotSupported},
		{name: "v5 baseline", quote: goTDXQuoteV5, coll: tdxOutdatedColl, at: v3At, status: "UpToDate", module: "UpToDate"},
		{name: "v5 relaunch advised", quote: goTDXQuoteV5, coll: tdxOutdatedColl, at: v3At,
			edit: replace(t, `{"isvsvn":6}`, `{"isvsvn":12}`), status: "OutOfDate", module: "OutOfDate", relaunch: true},
		{name: "v5 relaunch would not help", quote: goTDXQuoteV5, coll: tdxOutdatedColl, at: v3At,
			edit: replace(t, `{"isvsvn":6}`, `{"isvsvn":14}`), status: "OutOfDate", module: "OutOfDate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newForge(t, tc.quote, tc.coll)
			raw := f.quote(leafSpec{})
			b := f.bundle(bundleSpec{tcbEdit: tc.edit})
			at := mustTime(t, tc.at)
			r, err := Quote(raw, b, at, WithRoot(f.root))
			wantReason(t, err, tc.reason)
			if tc.reason == "" || tc.status != "" {
				got := []any{r.TCBStatus, r.ModuleStatus, r.TDRelaunchAdvised}
				if diff := cmp.Diff([]any{tc.status, tc.module, tc.relaunch}, got); diff != "" {
					t.Errorf("status, module status, relaunch (-want +got):\n%s", diff)
				}
			}
			hot, err := warm(t, parseQuote(t, raw), b, at, WithRoot(f.root))
			wantReason(t, err, tc.reason)
			if diff := cmp.Diff(r, hot); diff != "" {
				t.Errorf("warm differs from cold (-cold +warm):\n%s", diff)
			}
		})
	}
}

func chain(edits ...func([]byte) []byte) func([]byte) []byte {
	return func(b []byte) []byte {
		for _, e := range edits {
			b = e(b)
		}
		return b
	}
}

// TestConverge pins the convergence table of dcap spec §5.8.
func TestConverge(t *testing.T) {
	statuses := []pcs.TCBStatus{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
		"ConfigurationAndSWHardeningNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"}
	want := map[pcs.TCBStatus][]pcs.TCBStatus{
		"UpToDate":  statuses,
		"OutOfDate": {"OutOfDate", "OutOfDate", "OutOfDateConfigurationNeeded", "OutOfDateConfigurationNeeded", "OutOfDate", "OutOfDateConfigurationNeeded", "Revoked"},
		"Revoked":   {"Revoked", "Revoked", "Revoked", "Revoked", "Revoked", "Revoked", "Revoked"},
	}
	want["ConfigurationNeeded"] = want["OutOfDate"] // QE levels other than UpToDate/Revoked count as out of date
	for other, row := range want {
		for i, p := range statuses {
			if got := converge(p, other); got != row[i] {
				t.Errorf("converge(%s, %s) = %s, want %s", p, other, got, row[i])
			}
		}
	}
}

// TestBundleCheckedOnce: a Verifier checks a bundle once; a changed pointer is checked anew.
func TestBundleCheckedOnce(t *testing.T) {
	b := loadBundle(t, sgxCollateral)
	q := parseQuote(t, readQuote(t, sgxQuote))
	at := mustTime(t, v1At)
	v, _ := New(Static(b))
	if _, err := v.Verify(context.Background(), q, at); err != nil {
		t.Fatal(err)
	}
	// Damage the checked bundle in place: the Verifier must not notice (it checked it once),
	// which is why sources must not modify bundles they handed out.
	saved := b.TCBInfo
	b.TCBInfo = flipTCB(b.TCBInfo, 40)
	if _, err := v.Verify(context.Background(), q, at); err != nil {
		t.Fatalf("cached bundle re-checked: %v", err)
	}
	b.TCBInfo = saved
	if n := v.bundles.len(); n != 1 {
		t.Errorf("bundle cache holds %d entries, want 1", n)
	}
	if n, m := v.chains.len(), v.qeReports.len(); n != 1 || m != 1 {
		t.Errorf("chain/qe caches hold %d/%d entries, want 1/1", n, m)
	}
}
