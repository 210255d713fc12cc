package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/secretprov/secretprov/ratls"
	"github.com/secretprov/secretprov/wire"
)

// Error kinds of the load generator (JSON "errors").
const (
	errHandshake = "handshake" // the TLS handshake failed (or the server's alert came after it)
	errRefused   = "refused"   // the session was closed without a response: Gramine's refusal
	errIO        = "io"        // connect, write or read failed, or the response was malformed
	errTimeout   = "timeout"   // a deadline passed
)

// errorPause is how long a worker waits after a failed provisioning, so that a server that is
// down is not hammered by a busy loop.
const errorPause = 10 * time.Millisecond

// loadConfig is one load generator run.
type loadConfig struct {
	addrs        []string
	roots        *x509.CertPool
	serverName   string
	certs        []*tls.Certificate // one per worker
	baselineCert *tls.Certificate
	conns        int
	duration     time.Duration
	timeout      time.Duration
	serverPID    int
	inProcess    bool
}

// benchResult is the outcome of a run, in the JSON contract of "bench provision --json".
type benchResult struct {
	Mode             string         `json:"mode"`
	Connections      int            `json:"connections"`
	DurationS        float64        `json:"duration_s"`
	Provisions       int            `json:"provisions"`
	ProvisionsPerSec float64        `json:"provisions_per_sec"`
	P50              float64        `json:"p50_ms"`
	P90              float64        `json:"p90_ms"`
	P99              float64        `json:"p99_ms"`
	Max              float64        `json:"max_ms"`
	Errors           map[string]int `json:"errors"`
	ServerCPU        *float64       `json:"server_cpu_ms_per_provision,omitempty"`
	ProcessCPU       *float64       `json:"process_cpu_ms_per_provision,omitempty"`
}

// addr is the server of worker i: the workers are spread over the servers in turn.
func (lc *loadConfig) addr(i int) string { return lc.addrs[i%len(lc.addrs)] }

// tlsConfig is the client configuration of worker i: its certificate, the server roots and name
// (lc.serverName, else the host of its server), and no session cache, so that every connection
// is a full handshake as for a Gramine process that starts (the server disables tickets too; a
// resumed session is counted as an error).
func (lc *loadConfig) tlsConfig(i int) *tls.Config {
	name := lc.serverName
	if name == "" {
		name, _, _ = net.SplitHostPort(lc.addr(i))
	}
	c := ratls.ClientConfig(ratls.StaticCert(lc.certs[i]), lc.roots, name)
	c.ClientSessionCache = nil
	return c
}

// warmUp provisions once on every server before the clock starts (collateral fetched and
// checked, caches filled), so that the run measures the steady state.
func (lc *loadConfig) warmUp(ctx context.Context) error {
	for i := range min(len(lc.addrs), lc.conns) {
		if _, err := provisionOnce(ctx, lc.addr(i), lc.tlsConfig(i), lc.timeout); err != nil {
			return fmt.Errorf("%s: %w", lc.addr(i), err)
		}
	}
	return nil
}

// workerStats is what one worker observed.
type workerStats struct {
	latencies []time.Duration
	errors    map[string]int
}

// run loads the servers with lc.conns workers for lc.duration and returns the measurements. A
// worker starts no provisioning after the duration; those under way finish (bounded by
// lc.timeout) and count, and the rate is taken over the time until the last one ended.
func (lc *loadConfig) run(ctx context.Context) *benchResult {
	stats := make([]workerStats, lc.conns)
	confs := make([]*tls.Config, lc.conns)
	for i := range confs {
		confs[i] = lc.tlsConfig(i)
	}
	cpu0, cpuErr := lc.cpuTime()
	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(lc.duration))
	defer cancel()
	var wg sync.WaitGroup
	for i := range lc.conns {
		wg.Go(func() { stats[i] = worker(runCtx, lc.addr(i), confs[i], lc.timeout) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuErr1 := lc.cpuTime()
	res := summarize(stats, elapsed)
	res.Connections = lc.conns
	if cpuErr == nil && cpuErr1 == nil && res.Provisions > 0 {
		perProv := round(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(res.Provisions), 3)
		if lc.inProcess {
			res.ProcessCPU = &perProv
		} else if lc.serverPID != 0 {
			res.ServerCPU = &perProv
		}
	}
	return res
}

// cpuTime is the user+system CPU time of the server process (--server-pid) or of this process
// (--in-process).
func (lc *loadConfig) cpuTime() (time.Duration, error) {
	switch {
	case lc.inProcess:
		return selfCPUTime()
	case lc.serverPID != 0:
		return procCPUTime(lc.serverPID)
	}
	return 0, errors.New("no local server")
}

// worker provisions in a loop until ctx ends.
func worker(ctx context.Context, addr string, conf *tls.Config, timeout time.Duration) workerStats {
	st := workerStats{errors: map[string]int{}}
	for ctx.Err() == nil {
		lat, err := provisionOnce(ctx, addr, conf, timeout)
		if err != nil {
			st.errors[errorKind(err)]++
			pause(ctx, errorPause)
			continue
		}
		st.latencies = append(st.latencies, lat)
	}
	return st
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// provisionError is a failed provisioning with its kind.
type provisionError struct {
	kind string
	err  error
}

func (e *provisionError) Error() string { return e.kind + ": " + e.err.Error() }
func (e *provisionError) Unwrap() error { return e.err }

func errorKind(err error) string {
	if pe, ok := errors.AsType[*provisionError](err); ok {
		return pe.kind
	}
	return errIO
}

// provisionOnce runs one provisioning as a Gramine client does and returns the time from the
// start of the TCP connect to the last byte of the secret. The run's context only stops
// connecting; an exchange under way is bounded by timeout alone.
func provisionOnce(ctx context.Context, addr string, conf *tls.Config, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	deadline := start.Add(timeout)
	d := net.Dialer{Deadline: deadline}
	raw, err := d.DialContext(context.WithoutCancel(ctx), "tcp", addr)
	if err != nil {
		return 0, classify(errIO, err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(deadline)
	c := tls.Client(raw, conf)
	if err := c.Handshake(); err != nil {
		return 0, classify(errHandshake, err)
	}
	if c.ConnectionState().DidResume {
		return 0, &provisionError{errIO, errors.New("the session was resumed: not a full handshake")}
	}
	if err := wire.WriteV1Request(c); err != nil {
		return 0, classify(errIO, err)
	}
	secret, err := wire.ReadV1Response(c, 0)
	if err != nil {
		return 0, classifyResponse(err)
	}
	lat := time.Since(start)
	clear(secret)
	_ = c.Close() // close_notify: the end of the session for the server
	return lat, nil
}

// classify gives err its kind: timeout for any deadline, otherwise kind.
func classify(kind string, err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		kind = errTimeout
	}
	return &provisionError{kind, err}
}

// classifyResponse: a TLS alert from the server (TLS 1.3 reports a rejected client certificate
// after the client's side of the handshake) is a handshake failure; a session closed or reset
// before the first byte of the response is a refusal, as Gramine's server refuses.
func classifyResponse(err error) error {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "remote error" {
		return &provisionError{errHandshake, err}
	}
	if errors.Is(err, io.EOF) && !errors.Is(err, wire.ErrTruncated) || errors.Is(err, syscall.ECONNRESET) {
		return &provisionError{errRefused, err}
	}
	return classify(errIO, err)
}

// summarize merges the workers' observations.
func summarize(stats []workerStats, elapsed time.Duration) *benchResult {
	res := &benchResult{
		DurationS: elapsed.Seconds(),
		Errors:    map[string]int{errHandshake: 0, errRefused: 0, errIO: 0, errTimeout: 0},
	}
	var all []time.Duration
	for _, st := range stats {
		all = append(all, st.latencies...)
		for k, n := range st.errors {
			res.Errors[k] += n
		}
	}
	slices.Sort(all)
	res.Provisions = len(all)
	if elapsed > 0 {
		res.ProvisionsPerSec = round(float64(len(all))/elapsed.Seconds(), 1)
	}
	res.P50, res.P90, res.P99 = percentile(all, 0.50), percentile(all, 0.90), percentile(all, 0.99)
	if len(all) > 0 {
		res.Max = ms(all[len(all)-1])
	}
	res.DurationS = round(res.DurationS, 3)
	return res
}

// percentile is the nearest-rank q-quantile of sorted, in milliseconds (0 when empty).
func percentile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return ms(sorted[max(i, 0)])
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 3) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// parallel runs f(ctx, i) for i in [0, n) on as many goroutines as there are CPUs and returns
// the first error.
func parallel(ctx context.Context, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range min(n, maxProcs()) {
		wg.Go(func() {
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	return first
}

// parallelWorkers runs f(ctx, w) for w in [0, n) concurrently and returns the first error,
// which cancels the others' context.
func parallelWorkers(ctx context.Context, n int, f func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for w := range n {
		wg.Go(func() {
			if err := f(ctx, w); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}
