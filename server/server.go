package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
)

// PolicySource supplies the policy in force. It is asked once per connection, after the
// handshake, so a reload (AtomicPolicy.Store) applies to the next connection without dropping any.
type PolicySource interface {
	Policy() *policy.Policy
}

// SecretsSource supplies the current secrets snapshot. *secrets.Watcher and *SecretsSwitch
// satisfy it.
type SecretsSource interface {
	Current() *secrets.Set
}

// Config configures a Server. TLS, Verifier, Policy and Secrets are required.
type Config struct {
	// TLS is the server's identity: Certificates or GetCertificate (a *CertReloader's, for
	// reloads). The server works on a clone and sets every client-authentication field itself:
	// versions 1.2–1.3, TLS 1.2 suites ECDHE with AEAD only, ClientAuth RequireAnyClientCert,
	// session tickets disabled. GetConfigForClient is not supported (New refuses it). The
	// caller's value is never modified.
	TLS *tls.Config
	// Verifier verifies the quote of each peer's RA-TLS certificate (*verify.Verifier).
	Verifier ratls.QuoteVerifier
	// Policy decides which workload a verified peer is and which secrets it gets.
	Policy PolicySource
	// Secrets supplies the secret values by source name.
	Secrets SecretsSource
	// Limits bound connections, time and message sizes; the zero value means the defaults.
	Limits Limits
	// Logger receives operational log lines (never secret values); nil discards them.
	Logger *slog.Logger
	// Audit receives one record per decision; nil sends the records to Logger (NewSlogAudit).
	Audit AuditSink
	// Hooks observe connections, verifications and decisions (metrics); nil fields are no-ops.
	Hooks Hooks
	// Now is the clock used as the verification time and in audit records; nil means
	// time.Now. Connection deadlines always use the real clock.
	Now func() time.Time
	// EarlyVerifier, if set, verifies the quote of every authorized peer once more, with
	// Intel's early TCB data, after the connection has ended; when the platform's TCB status
	// is worse under the early data, the server logs a warning and calls
	// Hooks.TCBRecoveryWarning (see the package documentation, "Early TCB data"). It never
	// changes a decision. It must not wait for the network: a verifier whose early collateral
	// is not at hand should fail at once (collateral.Cache.CachedEarlyBundle does, and fetches
	// it in the background); the server bounds each call by EarlyCheckTimeout anyway.
	EarlyVerifier ratls.QuoteVerifier
}

// Hooks observe the server, typically to update metrics. Their signatures match the methods of
// secretprov's metrics type so that they can be wired directly. They are called synchronously
// from connection goroutines and must not block; nil fields are skipped.
type Hooks struct {
	// ConnOpened and ConnClosed bracket every accepted connection that got past the limits.
	ConnOpened func()
	ConnClosed func()
	// ConnRejected reports a connection closed before any decision: "limit" (over a connection
	// limit), "handshake" (TLS failed), "timeout" (a deadline passed), "protocol" (the peer sent
	// no valid request or closed).
	ConnRejected func(cause string)
	// Verification reports one RA-TLS quote verification: its duration, the TEE, "ok" or the
	// reason code, and the TCB status when one was determined.
	Verification func(d time.Duration, tee, result, tcbStatus string)
	// Provision reports one decision, as audited: the workload (empty when none matched),
	// "granted", "refused" or "error", and the reason code.
	Provision func(workload, result, reason string)
	// EarlyTCBCheck reports each check of an authorized peer against Intel's early TCB data
	// (Config.EarlyVerifier): the TEE and the outcome, "not_worse", "worse", "unavailable"
	// (no early collateral for the platform yet) or "failed" (no early status determined).
	EarlyTCBCheck func(tee, result string)
	// TCBRecoveryWarning reports an authorized peer whose platform has a worse TCB status
	// under Intel's early TCB data: the TEE, the status the decision used and the early one.
	TCBRecoveryWarning func(tee, status, earlyStatus string)
}

// Server is a secret provisioning server. Create it with New; it is safe for concurrent use and
// may Serve several listeners.
type Server struct {
	tls      *tls.Config
	verifier ratls.QuoteVerifier
	policy   PolicySource
	secrets  SecretsSource
	limits   Limits
	log      *slog.Logger
	audit    AuditSink
	hooks    Hooks
	now      func() time.Time
	early    ratls.QuoteVerifier
	warned   warnLog // rate-limits the TCB recovery warning lines
	conns    *limiter
	nextID   atomic.Uint64
	live     atomic.Int64
}

// New checks cfg and returns a Server. It does no I/O and starts no goroutine.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.Verifier == nil {
		errs = append(errs, errors.New("server: config: Verifier is required"))
	}
	if cfg.Policy == nil {
		errs = append(errs, errors.New("server: config: Policy is required"))
	}
	if cfg.Secrets == nil {
		errs = append(errs, errors.New("server: config: Secrets is required"))
	}
	lim, err := cfg.Limits.withDefaults()
	if err != nil {
		errs = append(errs, err)
	}
	tc, err := serverTLS(cfg.TLS)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &Server{
		tls: tc, verifier: cfg.Verifier, policy: cfg.Policy, secrets: cfg.Secrets,
		limits: lim, log: cfg.Logger, audit: cfg.Audit, hooks: cfg.Hooks, now: cfg.Now, early: cfg.EarlyVerifier,
		conns: newLimiter(lim.MaxConnections, lim.MaxConnectionsPerIP),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.audit == nil {
		s.audit = NewSlogAudit(s.log)
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Serve accepts connections on ln and provisions each in its own goroutine until ctx is done.
// Then it closes ln, lets the connections in flight finish for up to Limits.DrainTimeout, closes
// those still open, and returns nil. If ln fails for another reason, Serve drains the same way
// and returns the error. Serve closes ln in every case.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Connections outlive ctx by up to the drain timeout: their context is cancelled by drain.
	connCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	s.log.Info("provisioning listener started", keyAddr, ln.Addr().String())

	var wg sync.WaitGroup
	err := s.acceptLoop(ctx, ln, func(raw net.Conn, key string) {
		wg.Go(func() {
			defer s.conns.release(key)
			s.serveConn(connCtx, raw)
		})
	})
	ln.Close()
	s.drain(&wg, kill)
	if ctx.Err() != nil {
		s.log.Info("provisioning listener stopped", keyAddr, ln.Addr().String())
		return nil
	}
	return fmt.Errorf("server: accept: %w", err)
}

// acceptLoop accepts until ln fails for good; transient errors (out of file descriptors,
// aborted connections) are retried with backoff, as net/http does.
func (s *Server) acceptLoop(ctx context.Context, ln net.Listener, spawn func(net.Conn, string)) error {
	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return err
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", keyError, err.Error(), "retry_in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		key := peerKey(raw.RemoteAddr())
		if !s.conns.acquire(key) {
			s.hooks.connRejected(causeLimit)
			s.log.Debug("connection over limit closed", keyPeer, raw.RemoteAddr().String())
			raw.Close()
			continue
		}
		spawn(raw, key)
	}
}

// drain waits for the connections in flight, at most DrainTimeout, then closes the rest.
func (s *Server) drain(wg *sync.WaitGroup, kill context.CancelFunc) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(s.limits.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.log.Warn("drain timeout: closing connections still open", "open", s.live.Load())
		kill()
		<-done
	}
}

// OpenConnections returns the number of connections being served now.
func (s *Server) OpenConnections() int { return int(s.live.Load()) }

func (h Hooks) connOpened() {
	if h.ConnOpened != nil {
		h.ConnOpened()
	}
}

func (h Hooks) connClosed() {
	if h.ConnClosed != nil {
		h.ConnClosed()
	}
}

func (h Hooks) connRejected(cause string) {
	if h.ConnRejected != nil {
		h.ConnRejected(cause)
	}
}

func (h Hooks) verification(d time.Duration, tee, result, status string) {
	if h.Verification != nil {
		h.Verification(d, tee, result, status)
	}
}

func (h Hooks) provision(workload, result, reason string) {
	if h.Provision != nil {
		h.Provision(workload, result, reason)
	}
}

func (h Hooks) earlyTCBCheck(tee, result string) {
	if h.EarlyTCBCheck != nil {
		h.EarlyTCBCheck(tee, result)
	}
}

func (h Hooks) tcbRecoveryWarning(tee, status, earlyStatus string) {
	if h.TCBRecoveryWarning != nil {
		h.TCBRecoveryWarning(tee, status, earlyStatus)
	}
}

// Connection rejection causes (Hooks.ConnRejected).
const (
	causeLimit     = "limit"
	causeHandshake = "handshake"
	causeTimeout   = "timeout"
	causeProtocol  = "protocol"
)

// Log keys, the same vocabulary as audit records.
const (
	keyAddr     = "addr"
	keyConn     = "conn"
	keyPeer     = "peer"
	keyError    = "error"
	keyReason   = "reason"
	keyWorkload = "workload"
	keySecrets  = "secrets"
	keyProtocol = "protocol"
	keyDecision = "decision"
	keyTEE      = "tee"
	keyFMSPC    = "fmspc"
	keyStatus   = "tcb_status"
	keyEarly    = "early_tcb_status"
	keyEarlyIDs = "early_advisory_ids"
	// keyWarnings is the number of TCB recovery warnings a warning line stands for.
	keyWarnings = "warnings"
	// keyEarlyCheck is the outcome of an early TCB check (Hooks.EarlyTCBCheck).
	keyEarlyCheck = "early_check"
)
