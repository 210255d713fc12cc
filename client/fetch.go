package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

// Log keys, the same vocabulary as the server's (internal/obs).
const (
	keyServer   = "server"
	keyAttempt  = "attempt"
	keyReason   = "reason"
	keyError    = "error"
	keySecrets  = "secrets"
	keyProtocol = "protocol"
	keyRetryIn  = "retry_in"
)

// NewCertSource creates the enclave's RA-TLS certificate with a (ratls.NewCertificate: a fresh
// ECDSA P-384 key and quotes over it) and returns it as the Config.Certificate of every Fetch
// of the process.
func NewCertSource(ctx context.Context, a ratls.Attester, opts ...ratls.CreateOption) (ratls.CertSource, error) {
	c, err := ratls.NewCertificate(ctx, a, opts...)
	if err != nil {
		return nil, fmt.Errorf("client: RA-TLS certificate: %w", err)
	}
	return ratls.StaticCert(c), nil
}

// Fetch connects to the servers of cfg and returns the secrets cfg.Names from the first server
// that provisions them:
//
//   - The servers are tried in order, then again and again, with a pause (cfg.Backoff) after
//     each round, until cfg.Timeout or ctx ends. Each attempt (connect, TLS handshake with the
//     RA-TLS certificate, request, response) is bounded by cfg.AttemptTimeout.
//   - A failure to connect, a failed handshake (the server's certificate did not verify, or the
//     server rejected ours), an I/O error, a malformed answer, or a connection closed without
//     an answer (ErrNoResponse: how Gramine refuses) moves on to the next server. Unlike
//     Gramine's client, a failed handshake does not end the search.
//   - A refusal with a reason code (Secretprov protocol) ends Fetch at once with a
//     *RefusedError, and a response that denies any of the names with a *DeniedError, unless
//     the reason is transient (TransientReason), which is retried like a failure.
//   - When time runs out the error wraps the context's error (context.DeadlineExceeded or
//     context.Canceled) and the last attempt's error.
//
// An invalid cfg gives an error matching ErrInvalidConfig before anything is sent. Secret
// values appear only in the Result; never in an error or a log line.
func Fetch(ctx context.Context, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	start := time.Now()
	attempts := 0
	var last error
	for round := 0; ; round++ {
		for _, server := range cfg.Servers {
			if ctx.Err() != nil {
				return nil, giveUp(ctx, attempts, time.Since(start), last)
			}
			attempts++
			got, err := attempt(ctx, &cfg, server)
			if err == nil {
				cfg.Logger.Info("secrets received", keyServer, server, keyAttempt, attempts,
					keyProtocol, string(cfg.Protocol), keySecrets, describe(got))
				return &Result{Server: server, Protocol: cfg.Protocol, Attempts: attempts, Secrets: got}, nil
			}
			logFailure(cfg.Logger, server, attempts, err)
			if final(err) {
				return nil, err
			}
			// An attempt cut short by the end of Fetch says less than the failure before it.
			if last == nil || !ended(ctx) {
				last = err
			}
		}
		pause := cfg.Backoff.pause(round, rand.Float64())
		cfg.Logger.Info("no server provisioned the secrets; retrying", keyRetryIn, pause)
		if !sleep(ctx, pause) {
			return nil, giveUp(ctx, attempts, time.Since(start), last)
		}
	}
}

// describe lists names and versions, e.g. "default@9f86d081884c7d65", for the log.
func describe(ss []secrets.Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Name() + "@" + s.Version()
	}
	return out
}

func logFailure(l *slog.Logger, server string, n int, err error) {
	args := []any{keyServer, server, keyAttempt, n, keyError, err}
	if re, ok := errors.AsType[*RefusedError](err); ok {
		args = append(args, keyReason, re.Reason)
	}
	l.Warn("provisioning attempt failed", args...)
}

func giveUp(ctx context.Context, attempts int, elapsed time.Duration, last error) error {
	what := fmt.Sprintf("client: no secrets after %d attempt(s) in %s", attempts, elapsed.Round(time.Millisecond))
	if last == nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%s: %w; last error: %w", what, ctx.Err(), last)
}

// ended reports whether ctx is done or its deadline has passed (a connection deadline set to
// the same instant may fire before the context's own timer).
func ended(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(d)
}

// sleep waits d and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// attempt runs one connection to server. Every error names the server and the step.
func attempt(ctx context.Context, cfg *Config, server string) ([]secrets.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.AttemptTimeout)
	defer cancel()
	raw, err := cfg.Dialer.DialContext(ctx, "tcp", server)
	if err != nil {
		return nil, fmt.Errorf("client: %s: connect: %w", server, err)
	}
	// Cancellation (not only the deadline) must unblock reads and writes too.
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	conn := tls.Client(raw, tlsConfig(cfg, server))
	defer conn.Close() // sends close_notify: the end of the exchange for the server
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("client: %s: TLS handshake: %w", server, err)
	}
	if cfg.Protocol == GramineV1 {
		return exchangeV1(conn, server, cfg.Limits)
	}
	return exchangeNamed(conn, server, cfg.Names, cfg.Limits)
}

// tlsConfig presents the RA-TLS certificate and verifies the server against cfg.Roots and the
// server name (cfg.ServerName, else the entry's host), falling back to the subject CN for
// certificates without SANs, as mbedTLS does for Gramine's clients.
func tlsConfig(cfg *Config, server string) *tls.Config {
	name := cfg.ServerName
	if name == "" {
		name, _ = checkServer(server) // validated by withDefaults
	}
	return ratls.ClientConfig(cfg.Certificate, cfg.Roots, name, ratls.WithServerNameFromCN())
}

func exchangeV1(conn io.ReadWriter, server string, lim wire.Limits) ([]secrets.Secret, error) {
	if err := wire.WriteV1Request(conn); err != nil {
		return nil, fmt.Errorf("client: %s: %w", server, err)
	}
	v, err := wire.ReadV1Response(conn, lim.MaxSecretSize)
	if err != nil {
		return nil, responseError(server, err)
	}
	s := secrets.New(DefaultSecretName, v)
	clear(v)
	return []secrets.Secret{s}, nil
}

func exchangeNamed(conn io.ReadWriter, server string, names []string, lim wire.Limits) ([]secrets.Secret, error) {
	if err := wire.WriteNamedRequest(conn, names, lim); err != nil {
		return nil, fmt.Errorf("client: %s: %w", server, err)
	}
	entries, err := wire.ReadNamedResponse(conn, names, lim)
	if err != nil {
		if re, ok := errors.AsType[*wire.RefusalError](err); ok {
			return nil, &RefusedError{Server: server, Reason: re.Reason}
		}
		return nil, responseError(server, err)
	}
	got := make([]secrets.Secret, 0, len(entries))
	var denied []Denial
	for _, e := range entries {
		if e.Status == wire.StatusFound {
			got = append(got, secrets.New(e.Name, e.Value))
			clear(e.Value)
			continue
		}
		denied = append(denied, Denial{Name: e.Name, Status: e.Status, Reason: e.Reason})
	}
	if denied != nil {
		return nil, &DeniedError{Server: server, Denials: denied}
	}
	return got, nil
}

// responseError maps a connection that ended before the first byte of the response (or was
// reset) to ErrNoResponse.
func responseError(server string, err error) error {
	if errors.Is(err, io.EOF) && !errors.Is(err, wire.ErrTruncated) || errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("client: %s: %w: %w", server, ErrNoResponse, err)
	}
	return fmt.Errorf("client: %s: response: %w", server, err)
}
