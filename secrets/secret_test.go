package secrets_test

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/secrets"
)

const secretValue = "hunter2-correct-horse"

// leaks reports whether out contains value in any common encoding.
func leaks(out string, value []byte) bool {
	forms := []string{
		string(value),
		hex.EncodeToString(value),
		strings.ToUpper(hex.EncodeToString(value)),
		base64.StdEncoding.EncodeToString(value),
		base64.RawStdEncoding.EncodeToString(value),
		strings.Trim(fmt.Sprint([]byte(value)), "[]"), // decimal bytes: "104 117 110 ..."
		fmt.Sprintf("%#v", []byte(value))[len("[]byte{"):20],
	}
	for _, f := range forms {
		if strings.Contains(out, f) {
			return true
		}
	}
	return false
}

func checkRedacted(t *testing.T, what, out string, s secrets.Secret) {
	t.Helper()
	if leaks(out, s.Bytes()) {
		t.Errorf("%s leaks the value: %s", what, out)
	}
	for _, want := range []string{secrets.Redacted, s.Name(), s.Version()} {
		if !strings.Contains(out, want) {
			t.Errorf("%s = %s, missing %q", what, out, want)
		}
	}
}

type holder struct {
	Public  secrets.Secret
	private secrets.Secret
}

func TestSecretFormatting(t *testing.T) {
	s := secrets.New("db-password", []byte(secretValue))
	nested := holder{Public: s, private: s}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%20s", "%-40v", "%.3s", "% x", "%#x"} {
		for _, arg := range []struct {
			name string
			v    any
		}{{"value", s}, {"pointer", &s}, {"slice", []secrets.Secret{s}}, {"map", map[string]secrets.Secret{"k": s}}} {
			checkRedacted(t, format+" of "+arg.name, fmt.Sprintf(format, arg.v), s)
		}
		// Through a struct field, exported or not: fmt cannot call methods on the unexported
		// one, so only the value's own layout keeps it hidden there.
		if out := fmt.Sprintf(format, nested); leaks(out, s.Bytes()) {
			t.Errorf("%s of a struct holding the secret leaks the value: %s", format, out)
		}
		if out := fmt.Sprintf(format, &nested); leaks(out, s.Bytes()) {
			t.Errorf("%s of a pointer to a struct holding the secret leaks the value: %s", format, out)
		}
	}
	checkRedacted(t, "String", s.String(), s)
	checkRedacted(t, "GoString", s.GoString(), s)
	checkRedacted(t, "Sprint", fmt.Sprint(s), s)
	checkRedacted(t, "Sprintln", fmt.Sprintln(s), s)
}

func TestSecretSlog(t *testing.T) {
	s := secrets.New("db-password", []byte(secretValue))
	var buf bytes.Buffer
	handlers := map[string]slog.Handler{
		"json": slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
		"text": slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}),
	}
	for name, h := range handlers {
		buf.Reset()
		log := slog.New(h)
		log.Debug("provisioned", "secret", s, slog.Any("ptr", &s), slog.Group("g", "inner", s))
		log.With("bound", s).Info("with")
		checkRedacted(t, name+" handler", buf.String(), s)
		if name == "json" {
			for line := range strings.Lines(buf.String()) {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("json line %q: %v", line, err)
				}
			}
			if !strings.Contains(buf.String(), `"secret":{"name":"db-password","version":"`+s.Version()+`","value":"REDACTED"}`) {
				t.Errorf("json handler: secret not a group of name, version, value: %s", buf.String())
			}
		}
	}
}

func TestSecretMarshal(t *testing.T) {
	s := secrets.New("db-password", []byte(secretValue))
	j, err := json.Marshal(map[string]any{"s": s, "list": []secrets.Secret{s}, "holder": holder{Public: s}})
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, "json", string(j), s)
	var back struct{ S map[string]string }
	if err := json.Unmarshal(fmt.Appendf(nil, `{"S":%s}`, mustJSON(t, s)), &back); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"name": "db-password", "version": s.Version(), "value": "REDACTED"}; fmt.Sprint(back.S) != fmt.Sprint(want) {
		t.Errorf("json object = %v, want %v", back.S, want)
	}
	keyed, err := json.Marshal(map[secrets.Secret]int{s: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, "json map key", string(keyed), s)
	text, err := s.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, "text", string(text), s)
	x, err := xml.Marshal(holder{Public: s})
	if err != nil {
		t.Fatal(err)
	}
	checkRedacted(t, "xml", string(x), s)
	// gob refuses the type (no exported fields); whatever it writes must not hold the value.
	var g bytes.Buffer
	_ = gob.NewEncoder(&g).Encode(holder{Public: s})
	if leaks(g.String(), s.Bytes()) {
		t.Errorf("gob leaks the value: %q", g.String())
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSecretAccessors(t *testing.T) {
	in := []byte("test")
	s := secrets.New("k", in)
	in[0] = 'X' // New copied its input
	if s.Name() != "k" || s.Len() != 4 || string(s.Bytes()) != "test" {
		t.Fatalf("got %q %d %q", s.Name(), s.Len(), s.Bytes())
	}
	// SHA-256("test") = 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
	if s.Version() != "9f86d081884c7d65" || secrets.Version([]byte("test")) != s.Version() {
		t.Errorf("version = %s", s.Version())
	}
	b := s.Bytes()
	b[0] = 'X' // Bytes returned a copy
	if string(s.Bytes()) != "test" {
		t.Errorf("Bytes returned the Secret's own slice")
	}
	var zero secrets.Secret
	if zero.Bytes() != nil || zero.Len() != 0 || zero.Name() != "" || !strings.Contains(zero.String(), secrets.Redacted) {
		t.Errorf("zero secret: %q %d %s", zero.Bytes(), zero.Len(), zero)
	}
}
