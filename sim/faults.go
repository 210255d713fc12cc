package sim

import (
	"strings"
	"sync"
	"time"
)

// BodyFault selects how PCSHandler corrupts a response body.
type BodyFault int

// Body faults. The status code stays 200 and the issuer-chain headers stay correct.
const (
	BodyIntact    BodyFault = iota
	BodyGarbage             // same length, bytes that are no document ("\x00garbage…")
	BodyTruncated           // Content-Length of the full body, half of it sent, then the connection is cut
	BodyShort               // the first half of the document, well framed (Content-Length of the half)
	BodyOversized           // the document followed by spaces up to OversizedBodySize bytes
)

// OversizedBodySize is the length of a BodyOversized response: four times the largest
// document package pcs accepts.
const OversizedBodySize = 4 * (1 << 20)

// Fault is what PCSHandler does to the requests it applies to. Several parts combine: the
// delay first, then either the error status or the (possibly corrupted) document.
type Fault struct {
	// Status, if non-zero, answers with this HTTP status (e.g. 503) and Error-Code/
	// Error-Message headers instead of the document.
	Status int
	// Delay waits this long before answering (less if the request is cancelled first).
	Delay time.Duration
	// Body corrupts the body of a successful answer.
	Body BodyFault
	// BadSignature serves TCB Info, QE Identity and CRLs with one signature byte changed: the
	// document still parses, its signature does not verify.
	BadSignature bool
	// Times limits the fault to the next Times matching requests; zero applies it until
	// cleared.
	Times int
}

// Faults is the set of fault switches of a PCSHandler and its request counters. It is safe
// for concurrent use and may be changed while the handler serves. The zero value is ready.
type Faults struct {
	mu       sync.Mutex
	rules    map[string]*Fault // by path prefix
	requests map[string]int    // by URL path
	early    map[string]int    // by URL path, requests with update=early
}

// NewFaults returns an empty set of fault switches.
func NewFaults() *Faults { return &Faults{} }

// Set applies f to requests whose URL path starts with prefix ("" or "/" for every request),
// replacing an earlier fault for the same prefix. When several prefixes match, the longest
// wins.
func (f *Faults) Set(prefix string, fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rules == nil {
		f.rules = make(map[string]*Fault)
	}
	f.rules[normalizePrefix(prefix)] = &fault
}

// Clear removes the fault for prefix.
func (f *Faults) Clear(prefix string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rules, normalizePrefix(prefix))
}

// ClearAll removes every fault (the counters are kept).
func (f *Faults) ClearAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = nil
}

// Requests returns how many requests for exactly this URL path (no query) the handler received,
// faulted or not.
func (f *Faults) Requests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[path]
}

// EarlyRequests returns how many of the requests for exactly this URL path asked for Intel's
// early TCB data (update=early).
func (f *Faults) EarlyRequests(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.early[path]
}

// TotalRequests returns how many requests the handler received.
func (f *Faults) TotalRequests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.requests {
		n += c
	}
	return n
}

// ResetCounters sets every request counter to zero.
func (f *Faults) ResetCounters() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests, f.early = nil, nil
}

func normalizePrefix(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

// take counts a request for path (asking for early TCB data if early) and returns the fault
// that applies to it (a copy), consuming one of its Times.
func (f *Faults) take(path string, early bool) Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.requests == nil {
		f.requests, f.early = make(map[string]int), make(map[string]int)
	}
	f.requests[path]++
	if early {
		f.early[path]++
	}
	best := ""
	var rule *Fault
	for prefix, r := range f.rules {
		if strings.HasPrefix(path, prefix) && len(prefix) >= len(best) {
			best, rule = prefix, r
		}
	}
	if rule == nil {
		return Fault{}
	}
	out := *rule
	if rule.Times > 0 {
		rule.Times--
		if rule.Times == 0 {
			delete(f.rules, best)
		}
	}
	return out
}
