package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/wire"
)

// Protocol selects what the client asks for after the TLS handshake.
type Protocol string

const (
	// Secretprov (the default) sends our named request first: the client gets the secrets it
	// names and, when refused, the server's reason code. Needs a secretprov server.
	Secretprov Protocol = "secretprov"
	// GramineV1 sends Gramine's V1 request only and receives the one "default" secret. It works
	// against Gramine's own server (and ours); a refusal is a connection closed without a
	// response, with no reason.
	GramineV1 Protocol = "gramine"
)

// ParseProtocol parses "secretprov" or "gramine" (the CLI's --protocol).
func ParseProtocol(s string) (Protocol, error) {
	switch p := Protocol(s); p {
	case Secretprov, GramineV1:
		return p, nil
	}
	return "", fmt.Errorf("client: protocol %q: want %q or %q: %w", s, Secretprov, GramineV1, ErrInvalidConfig)
}

// DefaultSecretName is the name of the secret a Gramine V1 client receives, and what a client
// asks for when Config.Names is empty.
const DefaultSecretName = "default"

// Defaults for the zero fields of Config and Backoff.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultAttemptTimeout = 20 * time.Second
	DefaultBackoffInitial = 500 * time.Millisecond
	DefaultBackoffMax     = 10 * time.Second
	DefaultBackoffFactor  = 2.0
	DefaultBackoffJitter  = 0.5
)

// Dialer opens the TCP connection to a server; *net.Dialer satisfies it (the default).
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Backoff sets the pauses between rounds over the server list. After round r (0-based) the
// client waits min(Max, Initial·Factor^r), of which a random fraction up to Jitter is taken
// off, so that many clients restarted at once do not retry in step. The zero value means the
// defaults; a zero field takes its default; a negative Jitter means no jitter.
type Backoff struct {
	Initial time.Duration // first pause; default 500ms
	Max     time.Duration // longest pause; default 10s
	Factor  float64       // growth per round, ≥ 1; default 2
	Jitter  float64       // fraction of each pause that is random, 0..1; default 0.5
}

func (b Backoff) norm() Backoff {
	if b.Initial <= 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max <= 0 {
		b.Max = DefaultBackoffMax
	}
	b.Max = max(b.Max, b.Initial)
	if b.Factor == 0 {
		b.Factor = DefaultBackoffFactor
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoffJitter
	case b.Jitter < 0:
		b.Jitter = 0
	}
	return b
}

// pause returns the pause after round r, with u uniform in [0, 1) picking the jitter.
func (b Backoff) pause(r int, u float64) time.Duration {
	d := float64(b.Initial) * math.Pow(b.Factor, float64(r))
	d = min(d, float64(b.Max))
	return time.Duration(d - d*b.Jitter*u)
}

// Config says where to fetch which secrets from, and how hard to try.
type Config struct {
	// Servers are tried in this order, "host:port" each (see ParseServers). Required.
	Servers []string
	// Roots verify the server's certificate (SECRET_PROVISION_CA_CHAIN_PATH). nil means the
	// system roots, which is rarely what a provisioning server uses.
	Roots *x509.CertPool
	// ServerName, when set, is the name checked against every server's certificate instead of
	// the host of each Servers entry. A certificate without subject alternative names is
	// matched on its subject CN, as Gramine's mbedTLS client does.
	ServerName string
	// Certificate is the enclave's RA-TLS certificate, presented in every handshake. Create it
	// once per process (NewCertSource) and reuse it for every attempt, as Gramine does. Required.
	Certificate ratls.CertSource
	// Names are the secrets to fetch, in order (default ["default"]). Each must be a valid
	// name (wire.CheckName); GramineV1 can fetch only "default".
	Names []string
	// Protocol is Secretprov (default) or GramineV1.
	Protocol Protocol
	// Timeout bounds the whole Fetch, every retry included (default 60s). The context's own
	// deadline applies too; the earlier wins.
	Timeout time.Duration
	// AttemptTimeout bounds one connection: connect, handshake, request and response
	// (default 20s; never beyond Timeout).
	AttemptTimeout time.Duration
	// Backoff sets the pauses between rounds over Servers.
	Backoff Backoff
	// Limits bound what the client accepts from a server (wire.Limits; zero = defaults,
	// 1 MiB per secret).
	Limits wire.Limits
	// Logger receives one line per failed attempt and one on success, with server names,
	// reason codes, errors, and secret names and versions; never a value. nil = discard.
	Logger *slog.Logger
	// Dialer opens the TCP connections (default: a net.Dialer).
	Dialer Dialer
}

// withDefaults checks c and returns a copy with every default filled in. Errors match
// ErrInvalidConfig.
func (c Config) withDefaults() (Config, error) {
	if len(c.Servers) == 0 {
		return c, fmt.Errorf("client: config: no servers: %w", ErrInvalidConfig)
	}
	for i, s := range c.Servers {
		if _, err := checkServer(s); err != nil {
			return c, fmt.Errorf("client: config: server %d %q: %w: %w", i, s, err, ErrInvalidConfig)
		}
	}
	if c.Certificate == nil {
		return c, fmt.Errorf("client: config: no RA-TLS certificate: %w", ErrInvalidConfig)
	}
	if c.Protocol == "" {
		c.Protocol = Secretprov
	}
	if _, err := ParseProtocol(string(c.Protocol)); err != nil {
		return c, err
	}
	if len(c.Names) == 0 {
		c.Names = []string{DefaultSecretName}
	}
	if err := checkNames(c.Names, c.Protocol, c.Limits); err != nil {
		return c, err
	}
	if c.Timeout < 0 || c.AttemptTimeout < 0 || c.Backoff.Factor < 0 || c.Backoff.Factor > 0 && c.Backoff.Factor < 1 || c.Backoff.Jitter > 1 {
		return c, fmt.Errorf("client: config: negative timeout, backoff factor below 1 or jitter above 1: %w", ErrInvalidConfig)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	c.Backoff = c.Backoff.norm()
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Dialer == nil {
		c.Dialer = &net.Dialer{}
	}
	return c, nil
}

func checkNames(names []string, p Protocol, lim wire.Limits) error {
	for i, n := range names {
		if err := wire.CheckName(n, lim); err != nil {
			return fmt.Errorf("client: config: secret name %d %q: %w: %w", i, n, err, ErrInvalidConfig)
		}
		if slices.Contains(names[:i], n) {
			return fmt.Errorf("client: config: secret name %q given twice: %w", n, ErrInvalidConfig)
		}
	}
	if p == GramineV1 && (len(names) != 1 || names[0] != DefaultSecretName) {
		return fmt.Errorf("client: config: protocol %q receives only the %q secret, not %s: %w",
			GramineV1, DefaultSecretName, strings.Join(names, ", "), ErrInvalidConfig)
	}
	return nil
}

// Result is what Fetch received.
type Result struct {
	// Server is the Servers entry that answered.
	Server string
	// Protocol is the protocol used.
	Protocol Protocol
	// Attempts is the number of connections tried, the successful one included.
	Attempts int
	// Secrets are the secrets received, in the order of Config.Names. Printing or logging them
	// shows names and versions only (secrets.Secret redacts its value).
	Secrets []secrets.Secret
}

// Get returns the secret named name.
func (r *Result) Get(name string) (secrets.Secret, bool) {
	for _, s := range r.Secrets {
		if s.Name() == name {
			return s, true
		}
	}
	return secrets.Secret{}, false
}

// Errors of this package, for errors.Is.
var (
	// ErrInvalidConfig: Config (or a CLI input mapped onto it) is unusable; nothing was sent.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrNoResponse: the server closed the connection without answering. A Gramine server (and
	// ours, for a V1 request) does this when it refuses the enclave; anything that is not a
	// secret provisioning server may too. Fetch moves on to the next server.
	ErrNoResponse = errors.New("connection closed without a response (refused, or not a secret provisioning server)")
)

// TransientReason reports whether a refusal reason code names a condition that may clear by
// itself, so that Fetch keeps trying instead of giving up: the server could not get Intel's
// collateral (collateral_unavailable) or could not load a secret (secret_unavailable).
func TransientReason(reason string) bool {
	return reason == "collateral_unavailable" || reason == "secret_unavailable"
}

// RefusedError is a refusal with a reason code: the server verified the enclave (or tried to)
// and will not provision it. Reason is the server's stable code, e.g. "identity_mismatch",
// "tcb_status_not_accepted" or "debug_not_allowed"; the details stay in the server's log and
// audit record. Fetch returns it at once unless TransientReason(Reason).
type RefusedError struct {
	Server string
	Reason string
}

func (e *RefusedError) Error() string {
	return "client: server " + e.Server + " refused: " + e.Reason
}

// Is makes errors.Is(err, wire.ErrRefused) hold.
func (e *RefusedError) Is(target error) bool { return target == wire.ErrRefused }

// Denial says why a server did not send one of the secrets asked for.
type Denial struct {
	Name   string
	Status wire.Status // wire.StatusNotGranted or wire.StatusNotFound
	Reason string      // the server's optional reason code
}

func (d Denial) String() string {
	s := d.Name + ": " + d.Status.String()
	if d.Reason != "" {
		s += " (" + d.Reason + ")"
	}
	return s
}

// DeniedError: the server granted the enclave but not every secret asked for. Denials lists
// every secret it did not send, in request order; none of the secrets is delivered. Fetch
// returns it at once unless every denial has a transient reason (TransientReason).
type DeniedError struct {
	Server  string
	Denials []Denial
}

func (e *DeniedError) Error() string {
	parts := make([]string, len(e.Denials))
	for i, d := range e.Denials {
		parts[i] = d.String()
	}
	return "client: server " + e.Server + " did not send " + strings.Join(parts, ", ")
}

func (e *DeniedError) transient() bool {
	for _, d := range e.Denials {
		if !TransientReason(d.Reason) {
			return false
		}
	}
	return true
}

// final reports whether err ends Fetch at once instead of moving on to the next server.
func final(err error) bool {
	if re, ok := errors.AsType[*RefusedError](err); ok {
		return !TransientReason(re.Reason)
	}
	if de, ok := errors.AsType[*DeniedError](err); ok {
		return !de.transient()
	}
	return false
}
