package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/server"
	"github.com/secretprov/secretprov/wire"
)

// baselineServer is the benchmark's plain mutual-TLS server: the provisioning server's
// per-connection path (connection limit, handshake deadline, TLS settings, wire.ReadRequest,
// the secret copied out of the secrets set, wire.WriteV1Response, one JSON audit record, the
// follow-up wait, close_notify) without the RA-TLS verification and the policy decision. The
// client's certificate is an ordinary one, verified against a CA by crypto/tls.
//
// It exists only so that "bench provision --baseline-mtls" measures what attestation adds; it
// is not a configuration of the provisioning server, which always attests.
type baselineServer struct {
	tls    *tls.Config
	set    *secrets.Set
	limits server.Limits
	audit  server.AuditSink
	open   atomic.Int64
	nextID atomic.Uint64
}

// baselineTLS12Suites are the TLS 1.2 suites of the provisioning server (ECDHE with an AEAD).
var baselineTLS12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

func newBaselineServer(cert tls.Certificate, clientCAs *x509.CertPool, set *secrets.Set, lim server.Limits) *baselineServer {
	lim = baselineDefaults(lim)
	return &baselineServer{
		tls: &tls.Config{
			Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			CipherSuites: baselineTLS12Suites, SessionTicketsDisabled: true,
			ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientCAs,
		},
		set: set, limits: lim, audit: server.NewJSONAudit(io.Discard),
	}
}

// baselineDefaults fills the zero limits with the provisioning server's defaults.
func baselineDefaults(l server.Limits) server.Limits {
	if l.MaxConnections == 0 {
		l.MaxConnections = server.DefaultMaxConnections
	}
	if l.HandshakeTimeout == 0 {
		l.HandshakeTimeout = server.DefaultHandshakeTimeout
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = server.DefaultIdleTimeout
	}
	if l.FollowUpTimeout == 0 {
		l.FollowUpTimeout = min(l.IdleTimeout, server.DefaultFollowUpTimeout)
	}
	if l.DrainTimeout == 0 {
		l.DrainTimeout = server.DefaultDrainTimeout
	}
	return l
}

// serve accepts on ln until ctx ends, then closes ln and lets the connections finish for up to
// DrainTimeout before cutting them.
func (b *baselineServer) serve(ctx context.Context, ln net.Listener) error {
	connCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	defer kill()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	var err error
	for {
		var raw net.Conn
		if raw, err = ln.Accept(); err != nil {
			break
		}
		if b.open.Add(1) > int64(b.limits.MaxConnections) {
			b.open.Add(-1)
			raw.Close()
			continue
		}
		wg.Go(func() {
			defer b.open.Add(-1)
			b.serveConn(connCtx, raw)
		})
	}
	ln.Close()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(b.limits.DrainTimeout):
		kill()
		<-done
	}
	if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("bench: baseline server: accept: %w", err)
}

// serveConn is one connection: handshake, V1 request, default secret, audit, follow-up wait.
func (b *baselineServer) serveConn(ctx context.Context, raw net.Conn) {
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	start := time.Now()
	deadline := start.Add(b.limits.HandshakeTimeout)
	_ = raw.SetDeadline(deadline)
	c := tls.Server(raw, b.tls)
	hctx, cancel := context.WithDeadline(ctx, deadline)
	err := c.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		return
	}
	st := c.ConnectionState()
	_ = c.SetDeadline(time.Now().Add(b.limits.IdleTimeout))
	req, err := wire.ReadRequest(c, b.limits.Wire)
	if err != nil || req.Kind != wire.KindV1 {
		raw.Close()
		return
	}
	sec, ok := b.set.Get(benchSecretSource)
	if !ok {
		raw.Close()
		return
	}
	value := sec.Bytes()
	err = wire.WriteV1Response(c, value)
	clear(value)
	rec := &server.AuditRecord{
		Time: time.Now(), Conn: b.nextID.Add(1), Peer: raw.RemoteAddr().String(),
		Decision: server.DecisionGranted, Workload: benchWorkload, Protocol: server.ProtocolGramineV1,
		Secrets: []server.SecretRecord{{Name: policy.DefaultSecret, Source: benchSecretSource,
			Version: sec.Version(), Status: server.SecretReleased}},
		TLSVersion: tls.VersionName(st.Version), DurationMS: time.Since(start).Milliseconds(),
	}
	_ = b.audit.Audit(ctx, rec)
	if err != nil {
		raw.Close()
		return
	}
	_ = c.SetDeadline(time.Now().Add(b.limits.FollowUpTimeout))
	_, _ = wire.ReadNamedRequest(c, b.limits.Wire) // the client closes: EOF
	c.Close()
}
