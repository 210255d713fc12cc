package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secretprov/secretprov/policy"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/secrets"
	"github.com/secretprov/secretprov/sim"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadSecretFile: a changed secret file changes what the next client gets, without a
// restart and without dropping a connection; a broken file keeps the last good value.
func TestReloadSecretFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "demo-secret")
	writeFile(t, file, secretDefault)
	w, err := secrets.NewWatcher(map[string]secrets.Spec{"demo-secret": {File: file}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw := NewSecretsSwitch(w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- sw.Run(ctx, 10*time.Millisecond) }()
	e := start(t, envOptions{secrets: sw})
	cert := goodCert(t)

	held := dial(t, e.addr, cert) // a connection open across the reload
	defer held.Close()
	if got := v1Secret(t, e.addr, cert); string(got) != secretDefault {
		t.Fatalf("before: %q", got)
	}
	writeFile(t, file, secretRotated)
	waitFor(t, "the rotated secret", func() bool { return string(v1Secret(t, e.addr, cert)) == secretRotated })

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // several polls fail
	if got := v1Secret(t, e.addr, cert); string(got) != secretRotated {
		t.Errorf("after the file vanished: %q, want the last good value", got)
	}
	if got := v1Raw(t, held); string(got[41:]) != secretRotated {
		t.Errorf("connection held across reloads: %q", got)
	}

	// A new watcher with other specs (a configuration reload).
	file2 := filepath.Join(dir, "other")
	writeFile(t, file2, secretDB)
	w2, err := secrets.NewWatcher(map[string]secrets.Spec{"demo-secret": {File: file2}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw.Swap(w2)
	if got := v1Secret(t, e.addr, cert); string(got) != secretDB {
		t.Errorf("after Swap: %q", got)
	}
	writeFile(t, file2, secretDefault)
	waitFor(t, "Run to poll the new watcher", func() bool { return string(v1Secret(t, e.addr, cert)) == secretDefault })
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestAtomicPolicy: a stored policy applies to the next connection.
func TestAtomicPolicy(t *testing.T) {
	ap := NewAtomicPolicy(testPolicy(t))
	e := start(t, envOptions{policy: ap})
	cert := goodCert(t)
	if got := v1Secret(t, e.addr, cert); string(got) != secretDefault {
		t.Fatalf("before: %q", got)
	}
	p, err := policy.New([]policy.Workload{{Name: "demo2", MREnclave: []quote.Measurement{sim.DefaultIdentity().MREnclave},
		Secrets: map[string]string{"default": "db-password"}}})
	if err != nil {
		t.Fatal(err)
	}
	ap.Store(p)
	ap.Store(nil) // ignored
	if got := v1Secret(t, e.addr, cert); string(got) != secretDB {
		t.Errorf("after Store: %q", got)
	}
	if rs := e.waitRecords(t, 2); rs[1].Workload != "demo2" {
		t.Errorf("record after reload: %+v", rs[1])
	}
}

// TestCertReloader: a renewed server certificate applies to the next handshake; a key that does
// not match its certificate keeps the current one.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(p serverPKI, keyFrom serverPKI) {
		writeFile(t, certFile, string(pemBlock("CERTIFICATE", p.server.Certificate[0])))
		der, err := x509.MarshalECPrivateKey(keyFrom.server.PrivateKey.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, keyFile, string(pemBlock("EC PRIVATE KEY", der)))
	}
	a, b := newPKI(t), newPKI(t)
	write(a, a)
	cr, err := NewCertReloader(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, envOptions{tls: &tls.Config{GetCertificate: cr.GetCertificate}})
	cert := goodCert(t)
	handshake := func(p serverPKI) error {
		c, err := dialConfig(e.addr, ratls.ClientConfig(ratls.StaticCert(cert), p.roots, ""))
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := handshake(a); err != nil {
		t.Fatalf("certificate A: %v", err)
	}
	write(b, b)
	if err := cr.Reload(); err != nil {
		t.Fatal(err)
	}
	if err := handshake(b); err != nil {
		t.Errorf("after reload, certificate B: %v", err)
	}
	if err := handshake(a); err == nil {
		t.Error("after reload, a client trusting only A still connects")
	}
	write(a, b) // half-updated volume: A's certificate, B's key
	if err := cr.Reload(); err == nil {
		t.Error("mismatched key pair loaded")
	}
	if err := handshake(b); err != nil {
		t.Errorf("after a failed reload: %v", err)
	}
	if c, k := cr.Files(); c != certFile || k != keyFile {
		t.Errorf("Files = %s, %s", c, k)
	}
	if _, err := NewCertReloader(filepath.Join(dir, "absent"), keyFile); err == nil {
		t.Error("NewCertReloader accepted a missing file")
	}
}

// rotatingSecrets hands out a newer version of every secret on each Current call, as a source
// reloaded between any two reads would.
type rotatingSecrets struct {
	t     testing.TB
	calls atomic.Int32
}

func (r *rotatingSecrets) Current() *secrets.Set {
	v := r.calls.Add(1)
	set, err := secrets.Load(map[string]secrets.Spec{
		"demo-secret": {Value: fmt.Sprintf("default-v%d", v)},
		"db-password": {Value: fmt.Sprintf("db-v%d", v)},
	}, nil)
	if err != nil {
		r.t.Error(err)
	}
	return set
}

// TestNamedResponseOneVersion: the secrets of one named response come from one snapshot, even
// if the source is reloaded between the reads of two names.
func TestNamedResponseOneVersion(t *testing.T) {
	src := &rotatingSecrets{t: t}
	e := start(t, envOptions{secrets: src})
	entries, err := named(t, e.addr, goodCert(t), "default", "db")
	if err != nil {
		t.Fatal(err)
	}
	a, b := string(entries[0].Value), string(entries[1].Value)
	va, _ := strings.CutPrefix(a, "default-")
	vb, _ := strings.CutPrefix(b, "db-")
	if va != vb {
		t.Errorf("one response mixes versions: default %s, db %s", va, vb)
	}
	if n := src.calls.Load(); n != 1 {
		t.Errorf("the response read %d snapshots, want 1", n)
	}
}
