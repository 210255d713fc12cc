package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

// Reason codes of decisions that are about the request rather than the peer.
const (
	reasonNoRequest      = "no_request"      // the client closed before sending a request
	reasonRequestTimeout = "request_timeout" // the request did not arrive, whole, in time
	reasonBadRequest     = "bad_request"     // the bytes were no request
	reasonResponseFailed = "response_failed" // the response could not be written
	reasonUnknown        = "verification_failed"
)

// conn is one provisioning connection: the TLS session, the attestation decision (grant or
// refusal) and the identity part of its audit records.
type conn struct {
	s       *Server
	raw     net.Conn
	tc      *tls.Conn
	start   time.Time
	log     *slog.Logger
	rec     AuditRecord   // peer and identity; each decision's record starts as a copy
	grant   *policy.Grant // set when the peer is authorized
	refusal error         // set when it is not
	reason  string        // refusal's code, the only thing the peer may learn
	ev      *ratls.Evidence
	at      time.Time // the verification time of the decision
}

// serveConn runs the provisioning flow on one accepted connection and closes it. ctx is
// cancelled when Serve gives up draining; the connection is then closed at once.
func (s *Server) serveConn(ctx context.Context, raw net.Conn) {
	s.live.Add(1)
	defer s.live.Add(-1)
	s.hooks.connOpened()
	defer s.hooks.connClosed()
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()

	id := s.nextID.Add(1)
	peer := raw.RemoteAddr().String()
	c := &conn{
		s: s, raw: raw, tc: tls.Server(raw, s.tls), start: time.Now(),
		log: s.log.With(keyConn, id, keyPeer, peer),
		rec: AuditRecord{Conn: id, Peer: peer},
	}
	if c.run(ctx) {
		c.tc.Close() // close_notify, bounded by crypto/tls's own write timeout
	} else {
		raw.Close() // Gramine's behaviour on refusals and bad requests: no close_notify
	}
	c.checkEarlyTCB(ctx) // after the session: it never delays the peer
}

// run is the per-connection protocol flow. It reports whether the session ends with a TLS
// close_notify (after a response) or is cut (refusal without response, bad bytes, timeouts).
func (c *conn) run(ctx context.Context) bool {
	if !c.attest(ctx) {
		return false
	}
	_ = c.tc.SetDeadline(time.Now().Add(c.s.limits.IdleTimeout))
	req, err := wire.ReadRequest(c.tc, c.s.limits.Wire)
	if err != nil {
		c.noRequest(ctx, err)
		return false
	}
	if req.Kind == wire.KindV1 {
		return c.serveV1(ctx)
	}
	c.serveNamed(ctx, req.Names, false)
	return true
}

// attest runs the TLS handshake and then, under the same deadline, the RA-TLS verification and
// the policy decision. It reports false if the handshake failed (no decision was made).
func (c *conn) attest(ctx context.Context) bool {
	deadline := time.Now().Add(c.s.limits.HandshakeTimeout)
	_ = c.raw.SetDeadline(deadline)
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if err := c.tc.HandshakeContext(hctx); err != nil {
		c.s.hooks.connRejected(causeOf(err, causeHandshake))
		c.log.Debug("tls handshake failed", keyError, err.Error())
		return false
	}
	st := c.tc.ConnectionState()
	c.rec.TLSVersion = tls.VersionName(st.Version)
	c.decide(hctx, st.PeerCertificates)
	return true
}

// decide verifies the peer's RA-TLS certificate and asks the policy; the outcome is c.grant or
// c.refusal.
func (c *conn) decide(ctx context.Context, peer []*x509.Certificate) {
	if len(peer) != 1 {
		c.refuse(&ratls.Error{Reason: ratls.ReasonChainInvalid, Step: "peer certificates",
			Err: fmt.Errorf("want exactly one certificate, got %d", len(peer))})
		return
	}
	at := c.s.now()
	t0 := time.Now()
	ev, verr := ratls.VerifyCertificate(ctx, peer[0], c.s.verifier, at)
	if ev == nil {
		c.refuse(verr)
		return
	}
	c.rec.setEvidence(ev)
	c.s.hooks.verification(time.Since(t0), c.rec.TEE, resultOf(verr), c.rec.TCBStatus)
	pol := c.s.policy.Policy()
	if pol == nil {
		c.refuse(&policy.Error{Reason: policy.ReasonIdentityMismatch, Detail: "no policy loaded"})
		return
	}
	grant, err := pol.Authorize(ev.Result, verr, at)
	if err != nil {
		if pe, ok := errors.AsType[*policy.Error](err); ok {
			c.rec.Workload = pe.Workload
		}
		c.refuse(err)
		return
	}
	c.grant, c.ev, c.at = grant, ev, at
	c.rec.Workload = grant.Workload
	c.rec.Accepted = grant.Accepted
}

func (c *conn) refuse(err error) {
	c.refusal = err
	c.reason = reasonOf(err)
}

// serveV1 answers Gramine's V1 request with the workload's default secret, then waits briefly
// for the client to close or to send a named follow-up request. A refused peer, or a workload
// without a default secret, gets no response at all, as from Gramine's server.
func (c *conn) serveV1(ctx context.Context) bool {
	rec := c.record(ProtocolGramineV1, false)
	if c.refusal != nil {
		c.emitRefusal(ctx, rec, nil)
		return false
	}
	value, sr, reason := c.lookup(c.s.secrets.Current(), policy.DefaultSecret)
	rec.Secrets = []SecretRecord{sr}
	if value == nil {
		rec.Decision, rec.Reason, rec.Error = DecisionRefused, reason, "no default secret for workload "+c.grant.Workload
		c.emit(ctx, rec)
		return false
	}
	_ = c.tc.SetDeadline(time.Now().Add(c.s.limits.IdleTimeout))
	err := wire.WriteV1Response(c.tc, value)
	clear(value)
	c.emitGranted(ctx, rec, err)
	if err != nil {
		return false
	}
	return c.followUp(ctx)
}

// followUp waits FollowUpTimeout for the end of the session (Gramine clients close) or for a
// named request on the same session (our client, after a V1 exchange).
func (c *conn) followUp(ctx context.Context) bool {
	_ = c.tc.SetDeadline(time.Now().Add(c.s.limits.FollowUpTimeout))
	names, err := wire.ReadNamedRequest(c.tc, c.s.limits.Wire)
	switch {
	case err == nil:
		c.serveNamed(ctx, names, true)
		return true
	case errors.Is(err, io.EOF) || isTimeout(err):
		return true
	default:
		c.log.Debug("bad follow-up request", keyError, err.Error())
		return false
	}
}

// serveNamed answers a named request: the refusal code to a refused peer, otherwise one entry
// per name (found, not granted or not found).
func (c *conn) serveNamed(ctx context.Context, names []string, followUp bool) {
	rec := c.record(ProtocolNamed, followUp)
	_ = c.tc.SetDeadline(time.Now().Add(c.s.limits.IdleTimeout))
	if c.refusal != nil {
		c.emitRefusal(ctx, rec, wire.WriteRefusal(c.tc, c.reason))
		return
	}
	entries := make([]wire.Entry, len(names))
	rec.Secrets = make([]SecretRecord, len(names))
	set := c.s.secrets.Current() // one version of every secret in the response, even mid-reload
	for i, name := range names {
		value, sr, reason := c.lookup(set, name)
		rec.Secrets[i] = sr
		entries[i] = wire.Entry{Name: name, Status: statusOf(sr.Status), Value: value, Reason: reason}
	}
	err := wire.WriteNamedResponse(c.tc, entries, c.s.limits.Wire)
	for i := range entries {
		clear(entries[i].Value)
	}
	c.emitGranted(ctx, rec, err)
}

// lookup resolves a requested name through the grant, in set. It returns a copy of the value
// (nil if not released), the audit entry and, when not released, the reason code for the peer.
func (c *conn) lookup(set *secrets.Set, name string) ([]byte, SecretRecord, string) {
	src, ok := c.grant.SecretSource(name)
	if !ok {
		return nil, SecretRecord{Name: name, Status: SecretNotGranted}, string(policy.ReasonSecretNotGranted)
	}
	sec, ok := set.Get(src)
	if !ok {
		return nil, SecretRecord{Name: name, Source: src, Status: SecretNotFound}, string(policy.ReasonSecretUnavailable)
	}
	return sec.Bytes(), SecretRecord{Name: name, Source: src, Version: sec.Version(), Status: SecretReleased}, ""
}

func statusOf(s string) wire.Status {
	switch s {
	case SecretReleased:
		return wire.StatusFound
	case SecretNotGranted:
		return wire.StatusNotGranted
	default:
		return wire.StatusNotFound
	}
}

// noRequest records a connection whose peer sent no valid request.
func (c *conn) noRequest(ctx context.Context, err error) {
	cause, reason := causeProtocol, reasonBadRequest
	switch {
	case isTimeout(err):
		cause, reason = causeTimeout, reasonRequestTimeout
	case errors.Is(err, io.EOF):
		reason = reasonNoRequest
	}
	c.s.hooks.connRejected(cause)
	rec := c.record("", false)
	if c.refusal != nil {
		c.emitRefusal(ctx, rec, fmt.Errorf("%s: %w", reason, err))
		return
	}
	rec.Decision, rec.Reason, rec.Error = DecisionError, reason, "request: "+err.Error()
	c.emit(ctx, rec)
}

// record starts a decision's audit record from the connection's identity part.
func (c *conn) record(protocol string, followUp bool) *AuditRecord {
	r := c.rec
	r.Protocol, r.FollowUp = protocol, followUp
	return &r
}

// emitRefusal records the refusal of the peer; ioErr is a failure to tell it, if any.
func (c *conn) emitRefusal(ctx context.Context, rec *AuditRecord, ioErr error) {
	rec.Decision, rec.Reason, rec.Error = DecisionRefused, c.reason, c.refusal.Error()
	if ioErr != nil {
		rec.Error += " (then: " + ioErr.Error() + ")"
	}
	c.emit(ctx, rec)
}

// emitGranted records a response with secrets; err is the failure to write it, if any (the
// secrets are still recorded as released: some bytes may have left).
func (c *conn) emitGranted(ctx context.Context, rec *AuditRecord, err error) {
	rec.Decision = DecisionGranted
	if err != nil {
		rec.Decision, rec.Reason, rec.Error = DecisionError, reasonResponseFailed, err.Error()
	}
	c.emit(ctx, rec)
}

// emit completes rec and hands it to the audit sink, the hooks and the debug log.
func (c *conn) emit(ctx context.Context, rec *AuditRecord) {
	rec.Time = c.s.now()
	rec.DurationMS = time.Since(c.start).Milliseconds()
	if err := c.s.audit.Audit(ctx, rec); err != nil {
		c.log.Error("audit record not written", keyError, err.Error())
	}
	c.s.hooks.provision(rec.Workload, rec.Decision, rec.Reason)
	c.log.Debug("decision", keyDecision, rec.Decision, keyReason, rec.Reason, keyWorkload, rec.Workload,
		keyProtocol, rec.Protocol, keySecrets, rec.Secrets)
}

// reasonOf is the code of a refusal: the policy or verify reason, else the RA-TLS one.
func reasonOf(err error) string {
	if r := policy.ReasonOf(err); r != "" {
		return r
	}
	if r := ratls.ReasonOf(err); r != "" {
		return string(r)
	}
	return reasonUnknown
}

// resultOf is the Verification hook's result: "ok" or the reason code.
func resultOf(verr error) string {
	if verr == nil {
		return "ok"
	}
	return reasonOf(verr)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

func causeOf(err error, otherwise string) string {
	if isTimeout(err) {
		return causeTimeout
	}
	return otherwise
}
