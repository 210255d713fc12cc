package e2etest

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/internal/simtest"
	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/sim"
)

// matrix is the shared setup of TestBadInputMatrix: the main world (its PCS, cache and
// verifier trusted by every server of the matrix), a second world whose root nobody trusts,
// and a third whose PCS is down from the start (its cache stays empty).
type matrix struct {
	s     *stack
	other *sim.World
	down  *stack
	good  *tls.Certificate
}

// Matrix server limits: small, so that every timeout case ends in well under a second.
var matrixLimits = server.Limits{
	HandshakeTimeout: 2 * time.Second, IdleTimeout: 400 * time.Millisecond,
	FollowUpTimeout: 200 * time.Millisecond, DrainTimeout: 2 * time.Second,
}

// slack is what a deadline may be overshot by on a loaded 2-core machine with -race.
const slack = time.Second

// outcome is what one matrix case must produce.
type outcome struct {
	// refusal is the reason code our named-protocol client receives (cert cases); "" means the
	// secret is granted.
	refusal string
	// audit lists the audit records the server must write, as "decision/reason" (exactly
	// these, in any order; empty: none). Cert cases instead need every record to carry the
	// refusal (or be granted), at least one per protocol.
	audit []string
	// cause is a connection-rejection cause the server must have counted (metrics).
	cause string
	// within bounds how long the server may take to end the connection (raw cases).
	within time.Duration
	// secret: the raw client must receive the default secret, complete.
	secret bool
}

type matrixCase struct {
	name   string
	stack  func(m *matrix) *stack // nil: m.s
	now    func(m *matrix) time.Time
	limits *server.Limits
	// cert is the RA-TLS certificate of a cert case: it is presented by our client (named
	// request, which learns the reason code) and by a Gramine V1 client (which must learn
	// nothing).
	cert func(t *testing.T, m *matrix) *tls.Certificate
	// clientTimeout bounds our client's Fetch (default 3s); transient refusals are retried
	// until then.
	clientTimeout time.Duration
	// drive is a raw case: a hostile or broken peer.
	drive func(t *testing.T, m *matrix, addr string) rawResult
	// check makes case-specific assertions on a raw result.
	check func(t *testing.T, r rawResult)
	want  outcome
}

// TestBadInputMatrix drives a running server.Server over real TLS on 127.0.0.1, verifying with
// the production path (collateral.Cache over the simulated PCS, verify.Verifier, policy), with
// forged certificates, quotes and collateral situations and with misbehaving peers. Every case
// asserts the outcome: the reason code our client receives (a Gramine V1 client gets nothing),
// the audit records, the rejected-connection cause, and for raw peers that the connection was
// closed without a secret within a bound.
func TestBadInputMatrix(t *testing.T) {
	m := newMatrix(t)
	cases := append(certCases(), rawCases()...)
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	// The cases wait on timeouts most of the time: run them concurrently (t.Run may be called
	// from several goroutines), a few at a time so that handshakes stay well within their
	// deadline on a small machine.
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for _, tc := range cases {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(tc.name, func(t *testing.T) { m.run(t, tc) })
		})
	}
	wg.Wait()
}

func newMatrix(t *testing.T) *matrix {
	m := &matrix{s: newStack(t, stackOptions{}), other: simtest.World(t)}
	m.s.prefetch(t)
	m.down = newStack(t, stackOptions{})
	m.down.faults.Set("/", sim.Fault{Status: 503})
	m.good = raTLS(t, m.s.enclave(t, pcs.StatusUpToDate))
	return m
}

func (m *matrix) run(t *testing.T, tc matrixCase) {
	st := m.s
	if tc.stack != nil {
		st = tc.stack(m)
	}
	o := serveOptions{limits: matrixLimits}
	if tc.limits != nil {
		o.limits = *tc.limits
	}
	if tc.now != nil {
		at := tc.now(m)
		o.now = func() time.Time { return at }
	}
	sv := st.serve(t, o)
	if tc.cert != nil {
		m.runCert(t, tc, sv)
		return
	}
	r := tc.drive(t, m, sv.addr)
	sv.stop() // drains: every record of the case is written after this
	checkRaw(t, tc.want, r)
	if tc.check != nil {
		tc.check(t, r)
	}
	var got []string
	for _, rec := range sv.records(t) {
		got = append(got, rec.Decision+"/"+rec.Reason)
	}
	sort.Strings(got)
	want := slices.Clone(tc.want.audit)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("audit records %q, want %q", got, want)
	}
	if tc.want.cause != "" && rejected(t, sv.metrics, tc.want.cause) < 1 {
		t.Errorf("no connection counted as rejected with cause %q", tc.want.cause)
	}
}

func checkRaw(t *testing.T, want outcome, r rawResult) {
	t.Helper()
	if want.secret {
		if r.secret != secretValue("default") {
			t.Errorf("the client did not receive the secret (%d bytes received, err %v)", len(r.got), r.err)
		}
		capture.delivered.Add(1)
		return
	}
	if r.secret != "" || findLeak("received bytes", string(r.got)) != "" {
		t.Errorf("a refused peer received the secret")
	}
	if !r.closed {
		t.Errorf("the server did not end the connection (%d bytes received)", len(r.got))
	}
	if want.within > 0 && r.closedIn > want.within {
		t.Errorf("the server ended the connection after %v, want within %v", r.closedIn, want.within)
	}
}

// runCert presents the case's certificate with our client (named request) and as a Gramine V1
// client.
func (m *matrix) runCert(t *testing.T, tc matrixCase, sv *served) {
	cert := tc.cert(t, m)
	cfg := clientConfig(t, cert, sv.addr)
	if tc.clientTimeout > 0 {
		cfg.Timeout, cfg.AttemptTimeout = tc.clientTimeout, tc.clientTimeout
	}
	res, err := fetch(context.Background(), cfg)
	switch re, ok := errors.AsType[*client.RefusedError](err); {
	case tc.want.refusal == "" && (err != nil || value(res, "default") != secretValue("default")):
		t.Errorf("named client: %v, want the secret", err)
	case tc.want.refusal != "" && (!ok || re.Reason != tc.want.refusal):
		t.Errorf("named client: %v, want refusal %s", err, tc.want.refusal)
	}
	// A Gramine V1 client is told nothing: granted, the secret; refused, a closed connection.
	r := sendThenRead(t, sv.addr, cert, 3*time.Second, []byte("SECRET_PROVISION_RA_TLS_REQUEST_V1\x00"))
	r.secret = v1Value(r.got)
	if tc.want.refusal == "" {
		checkRaw(t, outcome{secret: true}, r)
	} else {
		checkRaw(t, outcome{within: matrixLimits.HandshakeTimeout + slack}, r)
	}
	sv.stop()
	decision, reason := server.DecisionRefused, tc.want.refusal
	if reason == "" {
		decision = server.DecisionGranted
	}
	protocols := map[string]bool{}
	for _, rec := range sv.records(t) {
		if rec.Decision != decision || rec.Reason != reason {
			t.Errorf("audit record %s/%s (%s), want %s/%s", rec.Decision, rec.Reason, rec.Protocol, decision, reason)
		}
		if findLeak("audit", rec.Error) != "" {
			t.Errorf("audit error sentence contains the secret")
		}
		protocols[rec.Protocol] = true
	}
	if !protocols[server.ProtocolNamed] || !protocols[server.ProtocolGramineV1] {
		t.Errorf("audit records for protocols %v, want named and gramine-v1", protocols)
	}
}

// TestUnverifiedPCKFetchesNothing: a quote whose PCK chain does not lead to the trusted root
// names an FMSPC of its choosing; the server refuses it (pck_chain_invalid) before asking the
// collateral service anything, so forged quotes cannot make the server fetch, or cache, the
// collateral of platforms that do not exist.
func TestUnverifiedPCKFetchesNothing(t *testing.T) {
	st := newStack(t, stackOptions{})
	st.prefetch(t)
	rogueFMSPC := pcs.FMSPC{0x00, 0xBA, 0xD0, 0xBA, 0xD0, 0x00}
	rogue := newStack(t, stackOptions{world: sim.Options{SGXFMSPC: rogueFMSPC}})
	sv := st.serve(t, serveOptions{})
	before := st.faults.TotalRequests()
	for range 3 {
		_, err := fetch(context.Background(), clientConfig(t, raTLS(t, rogue.enclave(t, pcs.StatusUpToDate)), sv.addr))
		if re, ok := errors.AsType[*client.RefusedError](err); !ok || re.Reason != "pck_chain_invalid" {
			t.Fatalf("rogue platform: %v, want refusal pck_chain_invalid", err)
		}
	}
	if n := st.faults.TotalRequests() - before; n != 0 {
		t.Errorf("%d requests to the collateral service for a platform whose PCK did not verify", n)
	}
	for _, ks := range st.cache.Status() {
		if ks.Key.FMSPC == rogueFMSPC {
			t.Errorf("the cache holds an entry for the rogue FMSPC %s", ks.Key.FMSPC)
		}
	}
}
