package attest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDetect(t *testing.T) {
	quote := sgxQuote(t, reportData(0, 0))
	noGramine := func(t *testing.T, dir string) {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
	noTSM := func(t *testing.T, dir string) {
		if err := os.Remove(dir); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		gramine  func(t *testing.T, dir string)
		tsm      func(t *testing.T, dir string)
		wantKind Kind
		wantErr  error
	}{
		{name: "gramine dcap", gramine: gramineFiles("dcap", quote), tsm: noTSM, wantKind: KindGramine},
		{name: "gramine 1.2", gramine: gramineFiles("", quote), tsm: noTSM, wantKind: KindGramine},
		{name: "gramine wins over tsm", gramine: gramineFiles("dcap", quote), wantKind: KindGramine},
		{name: "tsm", gramine: noGramine, wantKind: KindTSM},
		{name: "gramine without attestation", gramine: gramineFiles("none", nil), wantErr: ErrAttestationDisabled},
		{name: "gramine epid", gramine: gramineFiles("epid", quote), wantErr: ErrUnsupported},
		{name: "gramine-direct", gramine: func(t *testing.T, dir string) {
			mkdir(t, filepath.Join(dir, "keys"))
		}, tsm: noTSM, wantErr: ErrNotInEnclave},
		{name: "neither", gramine: noGramine, tsm: noTSM, wantErr: ErrNotInEnclave},
		{name: "tsm path is a file", gramine: noGramine, tsm: func(t *testing.T, dir string) {
			noTSM(t, dir)
			writeFile(t, dir, nil)
		}, wantErr: ErrNotInEnclave},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			gdir, tdir := filepath.Join(root, "attestation"), filepath.Join(root, "report")
			mkdir(t, gdir)
			mkdir(t, tdir)
			if tc.gramine != nil {
				tc.gramine(t, gdir)
			}
			if tc.tsm != nil {
				tc.tsm(t, tdir)
			}
			q, kind, err := Detect(t.Context(), WithGramineDir(gdir), WithTSMDir(tdir))
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || q != nil || kind != "" {
					t.Fatalf("Detect = %T, %q, %v; want nil, \"\", error matching %v", q, kind, err, tc.wantErr)
				}
				return
			}
			if err != nil || kind != tc.wantKind {
				t.Fatalf("Detect = %T, %q, %v; want kind %q", q, kind, err, tc.wantKind)
			}
			switch p := q.(type) {
			case *Gramine:
				if kind != KindGramine || p.cfg.gramineDir != gdir {
					t.Errorf("Detect returned a Gramine on %s as %q", p.cfg.gramineDir, kind)
				}
			case *TSM:
				if kind != KindTSM || p.cfg.tsmDir != tdir {
					t.Errorf("Detect returned a TSM on %s as %q", p.cfg.tsmDir, kind)
				}
			default:
				t.Errorf("Detect returned %T", q)
			}
		})
	}
}

func TestDetectContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Detect(ctx, WithGramineDir(t.TempDir())); !errors.Is(err, context.Canceled) {
		t.Fatalf("Detect with a cancelled context = %v; want context.Canceled", err)
	}
}

func TestDefaults(t *testing.T) {
	g, ts := NewGramine(), NewTSM(nil)
	if g.cfg.gramineDir != "/dev/attestation" || ts.cfg.tsmDir != "/sys/kernel/config/tsm/report" {
		t.Errorf("default directories %q, %q", g.cfg.gramineDir, ts.cfg.tsmDir)
	}
}
