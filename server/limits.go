package server

import (
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secretprov/secretprov/wire"
)

// Defaults of Limits, used for every zero field.
const (
	DefaultMaxConnections      = 1024
	DefaultMaxConnectionsPerIP = 64
	DefaultHandshakeTimeout    = 10 * time.Second
	DefaultIdleTimeout         = 30 * time.Second
	DefaultFollowUpTimeout     = 5 * time.Second
	DefaultDrainTimeout        = 30 * time.Second
)

// Limits bound what one client, or all of them, can cost the server. A zero field takes its
// default; a negative one is an error.
type Limits struct {
	// MaxConnections bounds the connections served at once (default 1024); a connection over
	// the limit is closed as soon as it is accepted.
	MaxConnections int
	// MaxConnectionsPerIP bounds the connections from one source address (default 64).
	MaxConnectionsPerIP int
	// HandshakeTimeout bounds the TLS handshake and the RA-TLS verification that follows it,
	// together (default 10s).
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the wait for the client's request, whole, and then the writing of the
	// response (default 30s). A client that sends nothing, or one byte at a time, is cut when it
	// passes.
	IdleTimeout time.Duration
	// FollowUpTimeout bounds the wait, after a Gramine V1 response, for the client to close or
	// to send a named follow-up request (default min(IdleTimeout, 5s)).
	FollowUpTimeout time.Duration
	// DrainTimeout bounds how long Serve lets connections in flight finish after its context is
	// done (default 30s); those still open then are closed.
	DrainTimeout time.Duration
	// Wire bounds message sizes (zero fields: package wire's defaults). Wire.MaxSecretSize also
	// bounds the secrets the server agrees to send.
	Wire wire.Limits
}

// withDefaults fills zero fields and refuses negative ones.
func (l Limits) withDefaults() (Limits, error) {
	var errs []error
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"MaxConnections", &l.MaxConnections, DefaultMaxConnections},
		{"MaxConnectionsPerIP", &l.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("server: config: Limits.%s: want a positive number, got %d", f.name, *f.v))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	durs := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"HandshakeTimeout", &l.HandshakeTimeout, DefaultHandshakeTimeout},
		{"IdleTimeout", &l.IdleTimeout, DefaultIdleTimeout},
		{"FollowUpTimeout", &l.FollowUpTimeout, 0},
		{"DrainTimeout", &l.DrainTimeout, DefaultDrainTimeout},
	}
	for _, f := range durs {
		switch {
		case *f.v < 0:
			errs = append(errs, fmt.Errorf("server: config: Limits.%s: want a positive duration, got %v", f.name, *f.v))
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if l.FollowUpTimeout == 0 {
		l.FollowUpTimeout = min(l.IdleTimeout, DefaultFollowUpTimeout)
	}
	return l, errors.Join(errs...)
}

// limiter counts connections, globally and per source address. The global count is one atomic
// integer; the per-address counts are spread over shards so that no single lock is shared by all
// connections. Entries are deleted when their count drops to zero, so the map holds only
// addresses with open connections.
type limiter struct {
	max, perIP int64
	total      atomic.Int64
	seed       maphash.Seed
	shards     [limiterShards]limiterShard
}

const limiterShards = 32

type limiterShard struct {
	mu sync.Mutex
	n  map[string]int64
}

func newLimiter(maxConns, perIP int) *limiter {
	l := &limiter{max: int64(maxConns), perIP: int64(perIP), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].n = map[string]int64{}
	}
	return l
}

func (l *limiter) shard(key string) *limiterShard {
	return &l.shards[maphash.String(l.seed, key)%limiterShards]
}

// acquire takes a slot for a connection from key, or reports false if a limit is reached.
func (l *limiter) acquire(key string) bool {
	if l.total.Add(1) > l.max {
		l.total.Add(-1)
		return false
	}
	sh := l.shard(key)
	sh.mu.Lock()
	ok := sh.n[key] < l.perIP
	if ok {
		sh.n[key]++
	}
	sh.mu.Unlock()
	if !ok {
		l.total.Add(-1)
	}
	return ok
}

// release gives back the slot taken by acquire.
func (l *limiter) release(key string) {
	sh := l.shard(key)
	sh.mu.Lock()
	if sh.n[key]--; sh.n[key] <= 0 {
		delete(sh.n, key)
	}
	sh.mu.Unlock()
	l.total.Add(-1)
}

// addresses returns how many source addresses have connections open (for tests).
func (l *limiter) addresses() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		n += len(sh.n)
		sh.mu.Unlock()
	}
	return n
}

// peerKey is the per-address limit key: the IP address of a TCP peer (IPv4-mapped IPv6
// unmapped, zone dropped), the address string for other networks.
func peerKey(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().WithZone("").String()
	}
	if a == nil {
		return ""
	}
	return a.String()
}
