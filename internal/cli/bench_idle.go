package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
)

// idleTargetKiB is the target of issue 8: resident memory per idle connection.
const idleTargetKiB = 64

// idleWorkers is how many handshakes "bench idle" runs at once, each worker with its own
// RA-TLS certificate.
const idleWorkers = 32

// idleResult is the outcome of "bench idle", in its JSON form.
type idleResult struct {
	Mode        string  `json:"mode"` // attested
	Connections int     `json:"connections"`
	RSSBefore   int64   `json:"rss_before_bytes"`
	RSSAfter    int64   `json:"rss_after_bytes"`
	PerConnKiB  float64 `json:"kib_per_conn"`
	TargetKiB   int     `json:"target_kib"`
	// In-process only: the Go runtime's view of the same delta, and the floor a bare TCP
	// connection pair costs in this process (measured first, with no TLS).
	HeapKiB       *float64 `json:"heap_kib_per_conn,omitempty"`
	StackKiB      *float64 `json:"stack_kib_per_conn,omitempty"`
	Goroutines    *int     `json:"goroutines_added,omitempty"`
	TCPControlKiB *float64 `json:"tcp_pair_kib_per_conn,omitempty"`
}

func newBenchIdleCmd(s *streams) *cobra.Command {
	var f benchFlags
	var settle time.Duration
	var memProfile string
	cmd := &cobra.Command{
		Use:   "idle (--in-process | --servers ADDR --ca FILE --server-pid PID) --connections N [flags]",
		Short: "Measure the server's resident memory per idle attested connection",
		Long: `Opens --connections TLS connections to the server, each completing the handshake with an RA-TLS
certificate (so the server verifies it and authorizes the peer) and then sending nothing: the
server holds each one, waiting for the request, until its idle timeout. The server's resident
memory (VmRSS) is read before and after; the difference divided by the connections is reported
against the 64 KiB target.

--in-process: the server runs in this process (idle timeout 10 minutes). Both ends of every
connection are then open here: the open files limit is raised to 2N+256, which needs that much
room under the hard limit (or CAP_SYS_RESOURCE); otherwise run the server apart. The clients keep
only their TCP sockets, and Go's garbage is collected and returned to
the system before each reading, so the delta is the server's plus a bare socket per client,
which a TCP-only control run measures first (tcp_pair_kib_per_conn). --server-pid: the server
is another process ("bench serve --idle-timeout 10m"); its RSS includes whatever garbage it has
not returned yet.

Exit status: 0 when every connection was held, 1 otherwise, 2 for bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchIdle(cmd, s, &f, settle, memProfile) },
	}
	f.register(cmd, 10000)
	cmd.Flags().DurationVar(&settle, "settle", 2*time.Second, "wait after the last handshake before reading the memory")
	cmd.Flags().StringVar(&memProfile, "memprofile", "", "--in-process: write a heap profile while the connections are held (go tool pprof)")
	return cmd
}

func runBenchIdle(cmd *cobra.Command, s *streams, f *benchFlags, settle time.Duration, memProfile string) error {
	if err := f.check(); err != nil {
		return badInput(fmt.Errorf("bench idle: %w", err))
	}
	if !f.inProcess && f.serverPID == 0 {
		return badInput(errors.New("bench idle: give --in-process, or --server-pid PID of the server to measure"))
	}
	res := &idleResult{Mode: f.mode(), Connections: f.connections, TargetKiB: idleTargetKiB}
	if f.inProcess {
		// Both ends of every connection are in this process.
		if err := raiseNoFile(uint64(2*f.connections + 256)); err != nil {
			return badInput(fmt.Errorf("bench idle: %w; run the server apart (bench serve, then --server-pid)", err))
		}
		kib, err := tcpControl(cmd.Context(), f.connections)
		if err != nil {
			return refused(fmt.Errorf("bench idle: TCP control: %w", err))
		}
		res.TCPControlKiB = &kib
	}
	lc, verified, cleanup, err := f.idleSetup(cmd, s)
	if err != nil {
		return err
	}
	defer cleanup()
	if err := lc.warmUp(cmd.Context()); err != nil {
		return refused(fmt.Errorf("bench idle: warm-up provisioning failed: %w", err))
	}
	if err := holdIdle(cmd.Context(), lc, f, res, verified, settle, memProfile); err != nil {
		return err
	}
	return printIdle(s, f.json, res)
}

// idleSetup is loadSetup with a long idle timeout and one certificate per handshake worker;
// verified counts the server's verifications when it runs in this process.
func (f *benchFlags) idleSetup(cmd *cobra.Command, s *streams) (*loadConfig, *atomic.Int64, func(), error) {
	verified := &atomic.Int64{}
	o := benchServerOptions{conns: f.connections, idleTimeout: 10 * time.Minute, onVerified: func() { verified.Add(1) }}
	lc, cleanup, err := f.setupWith(cmd, s, o, min(f.connections, idleWorkers))
	if err != nil {
		return nil, nil, nil, err
	}
	if !f.inProcess {
		verified = nil
	}
	return lc, verified, cleanup, nil
}

// holdIdle opens the connections, waits for the server to hold them all, and reads the memory.
func holdIdle(ctx context.Context, lc *loadConfig, f *benchFlags, res *idleResult, verified *atomic.Int64, settle time.Duration, memProfile string) error {
	before := memSnapshot(f.serverPID, f.inProcess)
	var base int64
	if verified != nil {
		base = verified.Load()
	}
	conns, err := openIdle(ctx, lc, f.connections)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if err != nil {
		return refused(fmt.Errorf("bench idle: %d of %d connections: %w", len(conns), f.connections, err))
	}
	deadline := time.Now().Add(time.Minute)
	for verified != nil && verified.Load()-base < int64(len(conns)) && time.Now().Before(deadline) {
		pause(ctx, 50*time.Millisecond)
	}
	pause(ctx, settle)
	after := memSnapshot(f.serverPID, f.inProcess)
	if memProfile != "" && f.inProcess {
		if err := writeHeapProfile(memProfile); err != nil {
			return badInput(fmt.Errorf("bench idle: --memprofile: %w", err))
		}
	}
	if before.err != nil || after.err != nil {
		return refused(errors.Join(before.err, after.err))
	}
	n := float64(len(conns))
	res.RSSBefore, res.RSSAfter = before.rss, after.rss
	res.PerConnKiB = round(float64(after.rss-before.rss)/1024/n, 2)
	if f.inProcess {
		heap := round(float64(int64(after.heap)-int64(before.heap))/1024/n, 2)
		stack := round(float64(int64(after.stack)-int64(before.stack))/1024/n, 2)
		g := after.goroutines - before.goroutines
		res.HeapKiB, res.StackKiB, res.Goroutines = &heap, &stack, &g
	}
	return nil
}

// openIdle completes n handshakes with a pool of workers (one RA-TLS certificate each) and
// keeps only the TCP sockets open: the server waits for a request that never comes.
func openIdle(ctx context.Context, lc *loadConfig, n int) ([]net.Conn, error) {
	var (
		mu    sync.Mutex
		conns = make([]net.Conn, 0, n)
		next  atomic.Int64
	)
	err := parallelWorkers(ctx, lc.conns, func(ctx context.Context, w int) error {
		conf := lc.tlsConfig(w)
		for next.Add(1) <= int64(n) {
			raw, err := handshakeOnly(ctx, lc.addr(w), conf, lc.timeout)
			if err != nil {
				return err
			}
			mu.Lock()
			conns = append(conns, raw)
			mu.Unlock()
		}
		return nil
	})
	return conns, err
}

// handshakeOnly connects and completes the TLS handshake, then returns the TCP socket alone
// (the client's TLS state is dropped: only the server's is measured).
func handshakeOnly(ctx context.Context, addr string, conf *tls.Config, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = raw.SetDeadline(time.Now().Add(timeout))
	if err := tls.Client(raw, conf).HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return raw, nil
}

// memReading is the resident memory of the measured process and, in process, the Go runtime's
// heap and stacks after a full collection that returned the free memory to the system.
type memReading struct {
	rss         int64
	heap, stack uint64
	goroutines  int
	err         error
}

func memSnapshot(pid int, inProcess bool) memReading {
	var r memReading
	if !inProcess && pid != 0 {
		if r.err = askCollect(pid); r.err != nil {
			return r
		}
		time.Sleep(time.Second) // the collection runs in the server's own time
	}
	if inProcess {
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		r.heap, r.stack, r.goroutines = ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
	}
	rss, err := residentBytes(pid)
	r.rss, r.err = rss, err
	return r
}

// tcpControl measures, in this process, what n bare loopback TCP connection pairs add to the
// resident memory (no goroutine per connection, no TLS): the floor under the attested figure.
func tcpControl(ctx context.Context, n int) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	accepted := make(chan []net.Conn, 1)
	go func() {
		var held []net.Conn
		for len(held) < n {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			held = append(held, c)
		}
		accepted <- held
	}()
	before := memSnapshot(0, true)
	var dialed []net.Conn
	defer func() {
		for _, c := range dialed {
			c.Close()
		}
	}()
	var d net.Dialer
	for range n {
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			return 0, err
		}
		dialed = append(dialed, c)
	}
	held := <-accepted
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	after := memSnapshot(0, true)
	if err := errors.Join(before.err, after.err); err != nil {
		return 0, err
	}
	return round(float64(after.rss-before.rss)/1024/float64(n), 2), nil
}

func printIdle(s *streams, asJSON bool, r *idleResult) error {
	if asJSON {
		return printJSONLine(s, r)
	}
	verdict := "within"
	if r.PerConnKiB > float64(r.TargetKiB) {
		verdict = "OVER"
	}
	fmt.Fprintf(s.out, "%d idle %s connections: %.2f KiB resident per connection (%s the %d KiB target)\n",
		r.Connections, r.Mode, r.PerConnKiB, verdict, r.TargetKiB)
	fmt.Fprintf(s.out, "RSS %d -> %d bytes\n", r.RSSBefore, r.RSSAfter)
	if r.HeapKiB != nil {
		fmt.Fprintf(s.out, "Go heap %.2f KiB, stacks %.2f KiB per connection, %d goroutines added; bare TCP pair %.2f KiB\n",
			*r.HeapKiB, *r.StackKiB, *r.Goroutines, *r.TCPControlKiB)
	}
	return nil
}

func writeHeapProfile(path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(out, 0); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
