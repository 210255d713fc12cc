package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/secretprov/secretprov/client"
	"github.com/secretprov/secretprov/secrets"
)

// recorder is a slog.Handler at debug level that keeps every record and renders each through
// the JSON and text handlers, so that tests can grep the output.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
	out     bytes.Buffer
}

func (r *recorder) logger() *slog.Logger { return slog.New(r) }

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	opts := &slog.HandlerOptions{Level: slog.LevelDebug}
	if err := slog.NewJSONHandler(&r.out, opts).Handle(ctx, rec); err != nil {
		return err
	}
	return slog.NewTextHandler(&r.out, opts).Handle(ctx, rec)
}

// failures returns the errors of the "attempt failed" lines.
func (r *recorder) failures() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	for _, rec := range r.records {
		rec.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && a.Key == "error" {
				errs = append(errs, err)
			}
			return true
		})
	}
	return errs
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.out.String()
}

// No secret value appears in a log line (debug level, JSON and text), an error, or any printed
// or marshalled form of the Result.
func TestNoSecretValueLeaks(t *testing.T) {
	const (
		value1 = "s3cr3t-VALUE-one"
		value2 = "s3cr3t-VALUE-two"
	)
	p := newPKI(t)
	conf := newServerConfig(p.loopbackCert(t))
	good := startServer(t, conf, grant(map[string]string{"default": value1, "db": value2}))
	silent := startServer(t, conf, closeSilently)
	rec := &recorder{}
	cfg := baseConfig(t, p, deadAddr(t), silent.addr, good.addr)
	cfg.Names = []string{"default", "db"}
	cfg.Logger = rec.logger()
	res, err := client.Fetch(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	// A denial and a refusal, logged too.
	denying := startServer(t, conf, grant(map[string]string{"default": value1}))
	cfg.Servers = []string{denying.addr}
	_, denyErr := client.Fetch(t.Context(), cfg)
	refusing := startServer(t, conf, refuse("identity_mismatch"))
	cfg.Servers = []string{refusing.addr}
	_, refuseErr := client.Fetch(t.Context(), cfg)

	printed := fmt.Sprintf("%v %+v %#v %s %q %x", res, res, res, res.Secrets, res.Secrets, res.Secrets)
	j, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("result", "res", res, "secrets", res.Secrets)
	for name, s := range map[string]string{
		"log": rec.text(), "printed": printed, "json": string(j), "slog": logged.String(),
		"deny error": fmt.Sprint(denyErr), "refusal error": fmt.Sprint(refuseErr),
	} {
		for _, v := range []string{value1, value2, fmt.Sprintf("%x", value1)} {
			if bytes.Contains([]byte(s), []byte(v)) {
				t.Errorf("%s shows a secret value: %s", name, s)
			}
		}
	}
	if !bytes.Contains([]byte(rec.text()), []byte("default@"+secrets.Version([]byte(value1)))) {
		t.Errorf("the success line does not name the secrets and versions:\n%s", rec.text())
	}
	_, denied := errors.AsType[*client.DeniedError](denyErr)
	_, refused := errors.AsType[*client.RefusedError](refuseErr)
	if !denied || !refused {
		t.Errorf("expected a denial and a refusal, got %v and %v", denyErr, refuseErr)
	}
}

// Delivery errors name the secret and sizes, never the value.
func TestDeliveryErrorsHideValues(t *testing.T) {
	const v = "NUL\x00inside-value, 20 B"
	s := secrets.New("default", []byte(v))
	_, err1 := client.EnvPairs(map[string]string{"X": "default"}, []secrets.Secret{s})
	err2 := client.SetKeys(&fakeSetter{}, map[string]string{"default": "default"}, []secrets.Secret{s})
	_, err3 := client.GramineStringEnv(s)
	for i, err := range []error{err1, err2, err3} {
		if err == nil || bytes.Contains([]byte(err.Error()), []byte("inside-value")) {
			t.Errorf("error %d: %v", i, err)
		}
	}
}
