package sim_test

import (
	"bytes"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secretprov/secretprov/pcs"
	"github.com/secretprov/secretprov/quote"
	"github.com/secretprov/secretprov/sim"
	"github.com/secretprov/secretprov/verify"
)

// verdict verifies a quote and returns the status, or the reason of a refusal.
func verdict(t *testing.T, raw []byte, b *pcs.Bundle, root *x509.Certificate, at time.Time) string {
	t.Helper()
	res, err := verify.Quote(raw, b, at, verify.WithRoot(root))
	if err != nil {
		return string(verify.ReasonOf(err))
	}
	return string(res.TCBStatus)
}

func TestWorldPersists(t *testing.T) {
	dir := t.TempDir()
	w1, err := sim.Init(dir, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := sim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !w1.Root().Equal(w2.Root()) || !w1.Now().Equal(w2.Now()) || len(w1.Platforms()) != len(w2.Platforms()) {
		t.Fatalf("reopened world differs: root %v, now %v/%v", w1.Root().Equal(w2.Root()), w1.Now(), w2.Now())
	}
	rootPEM, err := os.ReadFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if certs, err := pcs.ParseChainPEM(rootPEM); err != nil || len(certs) != 1 || !certs[0].Equal(w1.Root()) {
		t.Fatalf("DIR/root.pem is not the root certificate: %v", err)
	}
	for _, p1 := range w1.Platforms() {
		p2, err := w2.PlatformByName(p1.Name())
		if err != nil {
			t.Fatal(err)
		}
		if p1.Status() != p2.Status() || p1.TEE() != p2.TEE() || p1.Key() != p2.Key() || !p1.PCK().Equal(p2.PCK()) {
			t.Errorf("%s: platform differs after Open", p1.Name())
		}
		b1, b2 := bundleOf(t, p1), bundleOf(t, p2)
		q1 := quoteOf(t, p1.Enclave(sim.DefaultIdentity()), [64]byte{7})
		q2 := quoteOf(t, p2.Enclave(sim.DefaultIdentity()), [64]byte{7})
		// Either process's quote verifies the same with either process's collateral.
		want := verdict(t, q1, b1, w1.Root(), at(w1))
		for _, v := range []string{verdict(t, q2, b2, w2.Root(), at(w2)), verdict(t, q1, b2, w2.Root(), at(w2)), verdict(t, q2, b1, w1.Root(), at(w1))} {
			if v != want {
				t.Errorf("%s: %s after reopening, %s before", p1.Name(), v, want)
			}
		}
		if want == "" || (p1.Status() != "" && want != string(p1.Status()) && want != string(verify.ReasonTCBRevoked)) {
			t.Errorf("%s: verdict %q, status %q", p1.Name(), want, p1.Status())
		}
	}
	if _, err := sim.Init(dir, sim.Options{}); !errors.Is(err, sim.ErrExist) {
		t.Errorf("second Init: %v, want ErrExist", err)
	}
	info, err := os.Stat(filepath.Join(dir, "ca", "root-key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("root key mode: %v %v", info, err)
	}
}

func TestWorldForgeIsSaved(t *testing.T) {
	dir := t.TempDir()
	w, err := sim.Init(dir, sim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := platform(t, w, quote.TEETDX, pcs.StatusUpToDate)
	must(t, w.Revoke(p.PCK()))
	custom, err := w.AddPlatform(sim.PlatformSpec{Name: "custom", TEE: quote.TEESGX, Status: pcs.StatusOutOfDate})
	must(t, err)
	issued := w.Now().Add(-24 * time.Hour)
	must(t, w.Reissue(issued, 48*time.Hour))
	must(t, w.Save(dir))

	w2, err := sim.Open(dir)
	must(t, err)
	p2, err := w2.PlatformByName(p.Name())
	must(t, err)
	if v := verdict(t, quoteOf(t, p2.Enclave(sim.DefaultIdentity()), [64]byte{}), bundleOf(t, p2), w2.Root(), at(w2)); v != string(verify.ReasonPCKRevoked) {
		t.Errorf("revoked PCK after reopening: %s", v)
	}
	c2, err := w2.PlatformByName(custom.Name())
	must(t, err)
	if v := verdict(t, quoteOf(t, c2.Enclave(sim.DefaultIdentity()), [64]byte{}), bundleOf(t, c2), w2.Root(), at(w2)); v != string(pcs.StatusOutOfDate) {
		t.Errorf("custom platform after reopening: %s", v)
	}
	ti, err := w2.TCBInfo(quote.TEESGX)
	must(t, err)
	if !ti.IssueDate.Equal(issued) || !ti.NextUpdate.Equal(issued.Add(48*time.Hour)) || !w2.Now().Equal(issued) {
		t.Errorf("reissued dates: %v %v, now %v", ti.IssueDate, ti.NextUpdate, w2.Now())
	}
	if crl := w2.RootCRL(); !crl.ThisUpdate.Equal(issued) || crl.Number.Int64() != 2 {
		t.Errorf("root crl: %v number %v", crl.ThisUpdate, crl.Number)
	}
}

func TestOpenErrors(t *testing.T) {
	good := t.TempDir()
	if _, err := sim.Init(good, sim.Options{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		corrupt func(dir string) error
	}{
		{"missing state", func(dir string) error { return os.Remove(filepath.Join(dir, "world.json")) }},
		{"other format", func(dir string) error {
			return rewrite(filepath.Join(dir, "world.json"), `"secretprov-sim-world/1"`, `"other/9"`)
		}},
		{"bad key", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "platforms", "sgx-uptodate", "pck-key.pem"), []byte("not a key"), 0o600)
		}},
		{"bad tcb info", func(dir string) error {
			return rewrite(filepath.Join(dir, "collateral", "tcbinfo-sgx.json"), `"version":3`, `"version":9`)
		}},
		{"bad platform name", func(dir string) error {
			return rewrite(filepath.Join(dir, "world.json"), `"sgx-uptodate"`, `"../escape"`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(good)); err != nil {
				t.Fatal(err)
			}
			if err := tc.corrupt(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := sim.Open(dir); err == nil {
				t.Error("Open succeeded")
			}
		})
	}
	if _, err := sim.Open(filepath.Join(good, "nowhere")); err == nil {
		t.Error("Open of a missing directory succeeded")
	}
}

func rewrite(path, old, new string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.Contains(b, []byte(old)) {
		return errors.New("pattern not found: " + old)
	}
	return os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func TestCustomLevelsAndCertEdits(t *testing.T) {
	levels := sim.DefaultSGXLevels()[4:6] // OutOfDate and OutOfDateConfigurationNeeded only
	var edited []string
	w := newWorld(t, sim.Options{
		SGXLevels: levels,
		EditCert: func(role sim.Role, platform string, c *x509.Certificate) {
			edited = append(edited, string(role)+"/"+platform)
			if role == sim.RoleTCBSigning {
				c.NotAfter = c.NotBefore.Add(time.Hour) // expires before the collateral does
			}
		},
	})
	if _, err := w.Platform(quote.TEESGX, pcs.StatusUpToDate); !errors.Is(err, sim.ErrNotFound) {
		t.Errorf("UpToDate platform without an UpToDate level: %v", err)
	}
	p := platform(t, w, quote.TEESGX, pcs.StatusOutOfDateConfigurationNeeded)
	raw := quoteOf(t, p.Enclave(sim.DefaultIdentity()), [64]byte{})
	res, err := verify.Quote(raw, bundleOf(t, p), at(w), verify.WithRoot(w.Root()))
	if !errors.Is(err, verify.ErrCollateralExpired) || res.TCBStatus != pcs.StatusOutOfDateConfigurationNeeded {
		t.Errorf("%v %v, want collateral_expired with OutOfDateConfigurationNeeded", res, err)
	}
	for _, want := range []string{"root/", "processor-ca/", "platform-ca/", "tcb-signing/", "pck/sgx-outofdate"} {
		if !strings.Contains(strings.Join(edited, " "), want) {
			t.Errorf("EditCert not called for %s (called for %v)", want, edited)
		}
	}
}
