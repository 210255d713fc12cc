package client_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/secretprov/secretprov/client"
)

func TestParseServers(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"localhost:4433", []string{"localhost:4433"}},
		{"dummyserver:80;localhost:4433;anotherdummy:4433", []string{"dummyserver:80", "localhost:4433", "anotherdummy:4433"}},
		{"a:1,b:2 c:3", []string{"a:1", "b:2", "c:3"}},
		{" ;, a:1 ;;,, b:2 ,", []string{"a:1", "b:2"}},
		{"a:1\n\tb:2\r\n", []string{"a:1", "b:2"}},
		{"noport;a:1;[::1]", []string{"a:1"}}, // entries without a port are skipped
		{"[::1]:4433", []string{"[::1]:4433"}},
		{"[fe80::1%eth0]:4433", []string{"[fe80::1%eth0]:4433"}},
		{"[::ffff:10.0.0.1]:1", []string{"[::ffff:10.0.0.1]:1"}},
		{"10.0.0.1:65535;svc.ns.svc.cluster.local:4433", []string{"10.0.0.1:65535", "svc.ns.svc.cluster.local:4433"}},
		{"my_host-1:4433", []string{"my_host-1:4433"}},
		{"a:1,a:1", []string{"a:1", "a:1"}}, // order and repeats kept
	}
	for _, tc := range tests {
		got, err := client.ParseServers(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ParseServers(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseServersErrors(t *testing.T) {
	tests := []struct {
		in       string
		noServer bool // ErrNoServers rather than a malformed entry
	}{
		{"", true},
		{" ;,", true},
		{"dummyserver", true},
		{"a;b;[::1]", true},
		{":4433", false},
		{"host:", false},
		{"host:http", false},
		{"host:0", false},
		{"host:65536", false},
		{"host:+1", false},
		{"host:-1", false},
		{"::1:4433", false},
		{"[::1", false},
		{"[::1]4433", false},
		{"[10.0.0.1]:4433", false},
		{"[host]:4433", false},
		{"[]:4433", false},
		{"ho/st:4433", false},
		{"user@host:4433", false},
		{"a:1;bad:port", false},
	}
	for _, tc := range tests {
		_, err := client.ParseServers(tc.in)
		if err == nil {
			t.Errorf("ParseServers(%q) succeeded", tc.in)
			continue
		}
		if got := errors.Is(err, client.ErrNoServers); got != tc.noServer {
			t.Errorf("ParseServers(%q) = %v; ErrNoServers %v, want %v", tc.in, err, got, tc.noServer)
		}
	}
}

// Every entry ParseServers returns is a valid Config.Servers entry and parses back to itself.
func FuzzParseServers(f *testing.F) {
	for _, s := range []string{"dummyserver:80;localhost:4433;anotherdummy:4433", "[::1]:4433", "a:1,b", "[fe80::1%eth0]:1", ":", "[", "]:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := client.ParseServers(s)
		if err != nil {
			return
		}
		again, err := client.ParseServers(strings.Join(got, ","))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("ParseServers(%q) = %q, which parses back as %q, %v", s, got, again, err)
		}
	})
}
