package server

import (
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/wire"
)

// TestGramineV1ByteExact: a Gramine V1 client (the 35 request bytes written by hand) gets the
// default secret with the exact 41-byte header, then the server answers its close with a
// close_notify and nothing else.
func TestGramineV1ByteExact(t *testing.T) {
	e := start(t, envOptions{})
	c := dial(t, e.addr, goodCert(t))
	defer c.Close()
	got := v1Raw(t, c)

	const header = "5345435245545f50524f564953494f4e5f52415f544c535f524553504f4e53455f56313a00" // "SECRET_PROVISION_RA_TLS_RESPONSE_V1:\0"
	want := header + "00000019" + hex.EncodeToString([]byte(secretDefault))
	if len(secretDefault) != 0x19 {
		t.Fatalf("test secret is %d bytes, the expected length field says 25", len(secretDefault))
	}
	if hex.EncodeToString(got) != want {
		t.Fatalf("response:\n got %x\nwant %s", got, want)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || len(rest) != 0 {
		t.Errorf("after the secret: %d more bytes, err %v; want a clean close_notify", len(rest), err)
	}

	rs := e.waitRecords(t, 1)
	r := rs[0]
	wantSecrets := []SecretRecord{{Name: "default", Source: "demo-secret", Version: secrets.Version([]byte(secretDefault)), Status: SecretReleased}}
	if r.Decision != DecisionGranted || r.Protocol != ProtocolGramineV1 || r.Workload != "demo" || r.Reason != "" {
		t.Errorf("audit record: %+v", r)
	}
	if diff := cmp.Diff(wantSecrets, r.Secrets); diff != "" {
		t.Errorf("audit secrets (-want +got):\n%s", diff)
	}
	id := sim.DefaultIdentity()
	if r.TEE != "sgx" || r.MREnclave != id.MREnclave.String() || r.TCBStatus != "UpToDate" || r.FMSPC == "" || r.Binding != "tcg" {
		t.Errorf("audit identity: %+v", r)
	}
	waitCounter(t, e.metrics, "secretprov_provisions_total", map[string]string{"workload": "demo", "result": "granted", "reason": ""}, 1)
}

// TestNamedSecrets: our extension as first message, and as a follow-up after a V1 exchange.
func TestNamedSecrets(t *testing.T) {
	e := start(t, envOptions{})
	cert := goodCert(t)
	entries, err := named(t, e.addr, cert, "default", "db", "admin", "gone")
	if err != nil {
		t.Fatal(err)
	}
	want := []wire.Entry{
		{Name: "default", Status: wire.StatusFound, Value: []byte(secretDefault)},
		{Name: "db", Status: wire.StatusFound, Value: []byte(secretDB)},
		{Name: "admin", Status: wire.StatusNotGranted, Reason: "secret_not_granted"},
		{Name: "gone", Status: wire.StatusNotFound, Reason: "secret_unavailable"},
	}
	if diff := cmp.Diff(want, entries); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	// V1 first, then a named follow-up on the same session.
	c := dial(t, e.addr, cert)
	defer c.Close()
	if got := v1Raw(t, c); string(got[41:]) != secretDefault {
		t.Fatalf("V1 secret: %q", got)
	}
	if err := wire.WriteNamedRequest(c, []string{"db"}, wire.Limits{}); err != nil {
		t.Fatal(err)
	}
	follow, err := wire.ReadNamedResponse(c, []string{"db"}, wire.Limits{})
	if err != nil || len(follow) != 1 || string(follow[0].Value) != secretDB {
		t.Fatalf("follow-up: %v %v", follow, err)
	}

	rs := e.waitRecords(t, 3)
	statuses := func(r AuditRecord) []string {
		var s []string
		for _, x := range r.Secrets {
			s = append(s, x.Name+"="+x.Status)
		}
		return s
	}
	if got := statuses(rs[0]); !slices.Equal(got, []string{"default=released", "db=released", "admin=not_granted", "gone=not_found"}) || rs[0].Protocol != ProtocolNamed {
		t.Errorf("named record: %v %+v", got, rs[0])
	}
	if rs[1].Protocol != ProtocolGramineV1 || rs[2].Protocol != ProtocolNamed || !rs[2].FollowUp || rs[2].Conn != rs[1].Conn {
		t.Errorf("V1 + follow-up records: %+v\n%+v", rs[1], rs[2])
	}
	if rs[0].Secrets[1].Version != secrets.Version([]byte(secretDB)) {
		t.Errorf("db version %q", rs[0].Secrets[1].Version)
	}
}

// TestTDXWorkload: a TD matched by MRTD receives its default secret.
func TestTDXWorkload(t *testing.T) {
	e := start(t, envOptions{})
	p := sim.DefaultIdentity()
	td := certFrom(t, mustPlatform(t, quote.TEETDX, pcs.StatusUpToDate).Enclave(p))
	if got := v1Secret(t, e.addr, td); string(got) != secretDB {
		t.Fatalf("TD secret %q", got)
	}
	r := e.waitRecords(t, 1)[0]
	if r.TEE != "tdx" || r.MRTD != p.MRTD.String() || r.Workload != "td" {
		t.Errorf("record %+v", r)
	}
}

func mustPlatform(t *testing.T, tee quote.TEE, status pcs.TCBStatus) *sim.Platform {
	t.Helper()
	p, err := world(t).Platform(tee, status)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRefusals: each refusal reaches the audit log and the metrics with its reason; a V1 client
// gets no response, a named client gets the reason code.
func TestRefusals(t *testing.T) {
	w := world(t)
	other := sim.DefaultIdentity()
	other.MREnclave[0] ^= 0xff
	debug := sim.DefaultIdentity()
	debug.Debug = true
	revoked, err := w.PCKRevokedPlatform(quote.TEESGX)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cert   func(t *testing.T) *tls.Certificate
		later  time.Duration // verification time after the world's collateral was issued
		reason string
	}{
		{"wrong mrenclave", func(t *testing.T) *tls.Certificate { return (enclaveCert(t, pcs.StatusUpToDate, other)) }, 0, "identity_mismatch"},
		{"debug enclave", func(t *testing.T) *tls.Certificate { return (enclaveCert(t, pcs.StatusUpToDate, debug)) }, 0, "debug_not_allowed"},
		{"out of date platform", func(t *testing.T) *tls.Certificate {
			return (enclaveCert(t, pcs.StatusOutOfDate, sim.DefaultIdentity()))
		}, 0, "tcb_status_not_accepted"},
		{"revoked pck", func(t *testing.T) *tls.Certificate { return (certFrom(t, revoked.Enclave(sim.DefaultIdentity()))) }, 0, "pck_revoked"},
		{"expired collateral", func(t *testing.T) *tls.Certificate { return (goodCert(t)) }, sim.DefaultCollateralValidity + time.Hour, "collateral_expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := w.Now().Add(time.Hour + tt.later)
			e := start(t, envOptions{now: func() time.Time { return at }})
			cert := tt.cert(t)

			if got := v1Secret(t, e.addr, cert); got != nil {
				t.Errorf("V1 client received %d bytes", len(got))
			}
			_, err := named(t, e.addr, cert, "default")
			var re *wire.RefusalError
			if !errors.As(err, &re) || re.Reason != tt.reason {
				t.Errorf("named client: %v, want refusal %q", err, tt.reason)
			}
			for i, r := range e.waitRecords(t, 2) {
				if r.Decision != DecisionRefused || r.Reason != tt.reason || r.Error == "" || len(r.Secrets) != 0 {
					t.Errorf("record %d: %+v", i, r)
				}
				if r.MREnclave == "" || r.TEE != "sgx" {
					t.Errorf("record %d does not name the refused enclave: %+v", i, r)
				}
			}
			waitCounter(t, e.metrics, "secretprov_provisions_total",
				map[string]string{"workload": workloadOf(tt.reason), "result": "refused", "reason": tt.reason}, 2)
		})
	}
}

// workloadOf is the workload a refusal is attributed to: the matched one for checks after the
// identity matched, none for verification failures and identity mismatches.
func workloadOf(reason string) string {
	switch reason {
	case "debug_not_allowed", "tcb_status_not_accepted", "collateral_expired":
		return "demo"
	}
	return ""
}

// TestNotRATLS: a client without a certificate fails the handshake; one with an ordinary
// certificate is refused with the RA-TLS reason.
func TestNotRATLS(t *testing.T) {
	e := start(t, envOptions{})
	conf := &tls.Config{RootCAs: testPKI(t).roots}
	if c, err := dialConfig(e.addr, conf); err == nil {
		_, rerr := c.Read(make([]byte, 1))
		c.Close()
		if rerr == nil {
			t.Error("a client without certificate was served")
		}
	}
	plain := testPKI(t).server
	_, err := named(t, e.addr, &plain, "default")
	var re *wire.RefusalError
	if !errors.As(err, &re) || re.Reason != "extension_missing" {
		t.Errorf("ordinary certificate: %v, want refusal extension_missing", err)
	}
	waitCounter(t, e.metrics, "secretprov_connections_rejected_total", map[string]string{"cause": "handshake"}, 1)
}
