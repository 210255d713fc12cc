package cli

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	code, out, stderr := run(t, "demo")
	if code != ExitOK {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	for _, want := range []string{
		"--- Received secret = '" + demoSecret + "'",
		"refused: identity_mismatch",
		"refused: debug_not_allowed",
		"refused: tcb_status_not_accepted",
		"SIMULATED",
		"audit: granted to workload \"demo\"",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q\n%s", want, out)
		}
	}
	if strings.Count(out, demoSecret) != 1 {
		t.Errorf("the secret appears %d times; only the received-secret line may show it", strings.Count(out, demoSecret))
	}
}
