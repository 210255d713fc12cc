package client

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultServers is the server list Gramine's client uses when none is given (spec §2.1).
const DefaultServers = "localhost:4433"

// ErrNoServers: a server list holds no entry with a port.
var ErrNoServers = errors.New("no server with a port")

// errBadServer classifies malformed server entries (wrapped by ParseServers and Config checks).
var errBadServer = errors.New("malformed server entry")

// ParseServers parses a server list in the syntax of Gramine's SECRET_PROVISION_SERVERS (spec
// §2.3) and returns the entries in order as "host:port" (IPv6 as "[addr]:port"), ready for
// Config.Servers:
//
//   - Entries are separated by any run of ',', ';' and spaces (tabs and line breaks too, for
//     lists written in YAML), e.g. "dummyserver:80;localhost:4433;anotherdummy:4433".
//   - An entry is host:port, where port is a decimal number from 1 to 65535 and host a DNS
//     name or an IPv4 address ([A-Za-z0-9._-]), or an IPv6 literal in brackets: "[::1]:4433".
//     Gramine splits entries on ':' and so cannot express IPv6 at all; brackets are ours.
//   - An entry without a port ("dummyserver", "[::1]") is skipped, as Gramine skips it.
//   - Anything else is an error rather than a silent skip: an empty host (":4433"), an empty
//     or bad port ("host:", "host:http", "host:0"), an unbracketed IPv6 literal, a bracket that
//     holds no IPv6 address, or a character that cannot be part of a host name.
//
// A list that holds no entry with a port gives an error matching [ErrNoServers].
func ParseServers(s string) ([]string, error) {
	var out []string
	for _, e := range strings.FieldsFunc(s, isServerSep) {
		addr, ok, err := parseServer(e)
		if err != nil {
			return nil, fmt.Errorf("client: server list: entry %q: %w", e, err)
		}
		if ok {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("client: server list %q: %w", s, ErrNoServers)
	}
	return out, nil
}

func isServerSep(r rune) bool {
	switch r {
	case ',', ';', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// parseServer parses one entry; ok is false for an entry without a port (skipped).
func parseServer(e string) (addr string, ok bool, err error) {
	var host, port string
	if rest, bracketed := strings.CutPrefix(e, "["); bracketed {
		inside, after, closed := strings.Cut(rest, "]")
		if !closed {
			return "", false, fmt.Errorf("'[' without ']': %w", errBadServer)
		}
		if a, err := netip.ParseAddr(inside); err != nil || !a.Is6() {
			return "", false, fmt.Errorf("brackets must hold an IPv6 address: %w", errBadServer)
		}
		if after == "" {
			return "", false, nil
		}
		p, hasPort := strings.CutPrefix(after, ":")
		if !hasPort {
			return "", false, fmt.Errorf("want ':' and a port after ']': %w", errBadServer)
		}
		host, port = inside, p
	} else {
		h, p, hasPort := strings.Cut(e, ":")
		if !hasPort {
			return "", false, nil
		}
		if strings.Contains(p, ":") {
			return "", false, fmt.Errorf("more than one ':' (write an IPv6 address in brackets, [::1]:4433): %w", errBadServer)
		}
		if err := checkHost(h); err != nil {
			return "", false, err
		}
		host, port = h, p
	}
	if err := checkPort(port); err != nil {
		return "", false, err
	}
	return net.JoinHostPort(host, port), true, nil
}

func checkHost(h string) error {
	if h == "" {
		return fmt.Errorf("empty host: %w", errBadServer)
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("byte %d of the host is not [A-Za-z0-9._-]: %w", i, errBadServer)
		}
	}
	return nil
}

func checkPort(p string) error {
	if p == "" {
		return fmt.Errorf("empty port: %w", errBadServer)
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return fmt.Errorf("port %q is not a decimal number: %w", p, errBadServer)
		}
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q is not in 1..65535: %w", p, errBadServer)
	}
	return nil
}

// checkServer validates one Config.Servers entry: host:port as net.SplitHostPort reads it, with
// a port in 1..65535 and a non-empty host.
func checkServer(s string) (host string, err error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errBadServer, err)
	}
	if host == "" {
		return "", fmt.Errorf("empty host: %w", errBadServer)
	}
	return host, checkPort(port)
}
