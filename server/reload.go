package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/secrets"
)

// AtomicPolicy is a PolicySource whose policy can be replaced while the server runs: each
// connection uses the policy current when its handshake completed.
type AtomicPolicy struct {
	p atomic.Pointer[policy.Policy]
}

// NewAtomicPolicy returns an AtomicPolicy holding p.
func NewAtomicPolicy(p *policy.Policy) *AtomicPolicy {
	a := &AtomicPolicy{}
	a.p.Store(p)
	return a
}

// Policy returns the current policy.
func (a *AtomicPolicy) Policy() *policy.Policy { return a.p.Load() }

// Store makes p the current policy; a nil p is ignored (a server never runs without one).
func (a *AtomicPolicy) Store(p *policy.Policy) {
	if p != nil {
		a.p.Store(p)
	}
}

// SecretsSwitch is a SecretsSource over a *secrets.Watcher that can be replaced, when a
// configuration reload changes which secrets exist or where they come from. Readers always get
// one complete snapshot of one watcher.
type SecretsSwitch struct {
	cur     atomic.Pointer[secrets.Watcher]
	swapped chan struct{}
}

// NewSecretsSwitch returns a switch serving w's secrets.
func NewSecretsSwitch(w *secrets.Watcher) *SecretsSwitch {
	s := &SecretsSwitch{swapped: make(chan struct{}, 1)}
	s.cur.Store(w)
	return s
}

// Current returns the current watcher's current snapshot.
func (s *SecretsSwitch) Current() *secrets.Set { return s.cur.Load().Current() }

// Watcher returns the current watcher (to Reload it on SIGHUP).
func (s *SecretsSwitch) Watcher() *secrets.Watcher { return s.cur.Load() }

// Swap makes w the current watcher; Run polls w from now on. A nil w is ignored.
func (s *SecretsSwitch) Swap(w *secrets.Watcher) {
	if w == nil {
		return
	}
	s.cur.Store(w)
	select {
	case s.swapped <- struct{}{}:
	default:
	}
}

// Run runs the current watcher's polling (secrets.Watcher.Run) every interval, moving to the new
// watcher after each Swap, until ctx is done; then it returns nil.
func (s *SecretsSwitch) Run(ctx context.Context, interval time.Duration) error {
	for {
		wctx, cancel := context.WithCancel(ctx)
		errc := make(chan error, 1)
		w := s.cur.Load()
		go func() { errc <- w.Run(wctx, interval) }()
		select {
		case <-ctx.Done():
			cancel()
			<-errc
			return nil
		case <-s.swapped:
			cancel()
			<-errc
		case err := <-errc:
			cancel()
			return fmt.Errorf("server: secrets: %w", err)
		}
	}
}

// CertReloader holds the server's certificate, loaded from a PEM certificate chain file and its
// key file, and serves it through GetCertificate (tls.Config.GetCertificate), so that a renewed
// certificate applies to the next handshake without dropping any connection.
type CertReloader struct {
	mu                sync.Mutex // serializes loads; handshakes only read cur
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// NewCertReloader loads the key pair and returns a reloader serving it.
func NewCertReloader(certFile, keyFile string) (*CertReloader, error) {
	c, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r := &CertReloader{}
	r.Store(certFile, keyFile, c)
	return r, nil
}

// LoadKeyPair reads a PEM certificate chain and its private key, checks that they belong
// together, and parses the leaf.
func LoadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("server: tls key pair %s, %s: %w", certFile, keyFile, err)
	}
	if c.Leaf == nil {
		return nil, errors.New("server: tls key pair " + certFile + ": no leaf certificate")
	}
	return &c, nil
}

// GetCertificate returns the current certificate; it has the signature of
// tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cur.Load(), nil
}

// Certificate returns the current certificate.
func (r *CertReloader) Certificate() *tls.Certificate { return r.cur.Load() }

// Files returns the paths the current certificate was loaded from.
func (r *CertReloader) Files() (certFile, keyFile string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.certFile, r.keyFile
}

// Reload loads the key pair from the same files again. On failure the current certificate stays
// and the error is returned (a Kubernetes volume update seen half-way makes the certificate and
// key disagree; the next reload picks up the complete pair).
func (r *CertReloader) Reload() error {
	certFile, keyFile := r.Files()
	c, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	r.Store(certFile, keyFile, c)
	return nil
}

// Store makes c, loaded from certFile and keyFile, the current certificate. A nil c is ignored.
func (r *CertReloader) Store(certFile, keyFile string, c *tls.Certificate) {
	if c == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.certFile, r.keyFile = certFile, keyFile
	r.cur.Store(c)
}
