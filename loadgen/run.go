package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/sys/unix"
)

// ToolName identifies this generator in results.
const ToolName = "dfe2e-loadgen"

// Options tune a run without changing what it measures.
type Options struct {
	// Progress, when set, is called once per finished second of the measured phase.
	Progress func(Interval)
	// TargetLabel overrides Result.Target (default: the address).
	TargetLabel string
	// Barrier, when set, is called once every connection is open (and the
	// prefill done); the run starts at the time it returns, not before,
	// so the pods of one distributed run all start together.
	Barrier func(ctx context.Context) (time.Time, error)
}

// Measurement is a finished (or interrupted) run: the Result contract plus
// the full histograms and the per-second interval log the writers need.
type Measurement struct {
	Result      Result
	Latency     *hdr.Histogram // corrected in open loop
	Uncorrected *hdr.Histogram // open loop only
	Intervals   []LoggedInterval
}

// InputError is a workload that cannot run as given (exit 2 in the CLI).
type InputError struct{ Err error }

func (e *InputError) Error() string { return "invalid workload: " + e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// IsBadInput reports whether err is the caller's to fix: an invalid workload
// or a target that is unreachable, not RESP, or refuses the credentials.
func IsBadInput(err error) bool {
	var ie *InputError
	var se *SetupError
	return errors.As(err, &ie) || errors.As(err, &se)
}

// Run checks the target, optionally prefills, then loads it with w. A
// cancelled ctx ends the run early: the Measurement holds what was measured
// and Result.Partial is true. Errors are only for bad input (IsBadInput).
func Run(ctx context.Context, t Target, w Workload, o Options) (*Measurement, error) {
	w = w.WithDefaults()
	if err := w.Validate(); err != nil {
		return nil, &InputError{Err: err}
	}
	t = t.withDefaults()
	info, dragonfly, err := t.Check(ctx)
	if err != nil {
		return nil, err
	}
	if w.Prefill {
		if err := t.Prefill(ctx, w); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("interrupted during prefill: %w", ctx.Err())
			}
			return nil, &SetupError{Kind: "prefill", Addr: t.Addr, Err: err,
				Hint: "the server refused the prefill writes (out of memory? a read-only replica?)"}
		}
	}
	conns, closers, err := dialAll(ctx, t, w.Connections)
	if err != nil {
		return nil, err
	}

	r := &run{t: t, w: w, open: w.OpenLoop(), stopCh: make(chan struct{})}
	r.runStart = time.Now()
	if o.Barrier != nil {
		at, err := waitBarrier(ctx, o.Barrier)
		if err != nil {
			for _, c := range closers {
				c()
			}
			return nil, err
		}
		r.runStart = at // every pod's schedule and measured phase start here
	}
	r.measureStart = r.runStart.Add(w.Warmup)
	maxSec, minSecs := -1, 0
	if w.Duration > 0 {
		r.measureEnd = r.measureStart.Add(w.Duration)
		minSecs = int((w.Duration + time.Second - 1) / time.Second)
		maxSec = minSecs - 1
	}
	r.remaining.Store(w.Requests)
	// Event loops share one recorder per loop (a loop is one goroutine):
	// per-second histograms are then merged per loop, not per connection.
	loops := 0
	if !goroutinePerConn && eventLoopEligible(r, conns) {
		loops = eventLoopCount(w.Connections)
	}
	sources := w.Connections
	if loops > 0 {
		sources = loops
	}
	agg := newAggregator(sources, r.measureStart, r.open, minSecs, o.Progress)

	// CPU of the measured phase: sample rusage when warmup ends.
	cpuStart := make(chan float64, 1)
	go func() {
		tm := time.NewTimer(time.Until(r.measureStart))
		defer tm.Stop()
		select {
		case <-tm.C:
			cpuStart <- processCPUSeconds()
		case <-r.stopCh:
			cpuStart <- -1
		}
	}()

	workers := make([]*worker, w.Connections)
	for i := range workers {
		wk := &worker{run: r, id: i, conn: conns[i], closeConn: closers[i], errs: map[string]int64{},
			keys: newKeyChooser(w, i), localSeq: uint64(i)}
		if loops == 0 || i < loops {
			wk.rec = newRecorder(agg, i, r.measureStart, maxSec, r.open)
		} else {
			wk.rec = workers[i%loops].rec // the recorder of the loop that drives it
		}
		workers[i] = wk
	}
	var wg sync.WaitGroup
	var evErr error
	if loops > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evErr = startEventLoops(ctx, r, workers, loops)
		}()
	} else {
		for _, wk := range workers {
			wg.Add(1)
			go func() { defer wg.Done(); wk.loop(ctx) }()
		}
	}
	// Interrupt: stop issuing and unblock reads.
	finished := make(chan struct{})
	var partial atomic.Bool
	go func() {
		select {
		case <-ctx.Done():
			partial.Store(true)
			r.stop()
			for _, wk := range workers {
				wk.interrupt()
			}
		case <-finished:
		}
	}()
	wg.Wait()
	end := time.Now()
	close(finished)
	r.stop()
	cpu0 := <-cpuStart
	cpu1 := processCPUSeconds()
	agg.wait()
	if evErr != nil { // before any request: the sockets could not be handed to epoll
		return nil, &SetupError{Kind: "unreachable", Addr: t.Addr, Err: evErr,
			Hint: "the loader could not poll its connections (out of file descriptors?)"}
	}

	res := Result{
		Tool: ToolName, Target: t.Addr, ServerInfo: info, Workload: w,
		Start: r.measureStart, End: end, Partial: partial.Load(), Errors: map[string]int64{},
	}
	if w.Prefill {
		res.UnmeasuredRequests = w.Keyspace
	}
	if o.TargetLabel != "" {
		res.Target = o.TargetLabel
	}
	if !dragonfly {
		res.StandIn = fmt.Sprintf("%s (not Dragonfly)", info)
	}
	for _, wk := range workers {
		res.Requests += wk.answered
		res.Gets += wk.gets
		res.Sets += wk.sets
		res.UnmeasuredRequests += wk.unmeasured
		for k, v := range wk.errs {
			res.Errors[k] += v
		}
		wk.closeConn()
	}
	if len(res.Errors) == 0 {
		res.Errors = nil
	}
	if end.Before(r.measureStart) { // interrupted during warmup
		res.End = res.Start
	} else if el := end.Sub(r.measureStart).Seconds(); el > 0 {
		res.OpsPerSec = float64(res.Requests) / el
	}
	if cpu0 >= 0 {
		res.ClientCPUSeconds = cpu1 - cpu0
	}
	m := &Measurement{Latency: agg.total, Uncorrected: agg.totalUnc, Intervals: agg.log}
	res.Latency = PercentilesOf(agg.total)
	enc, _ := agg.total.EncodeV2()
	res.Histogram = string(enc)
	if r.open {
		p := PercentilesOf(agg.totalUnc)
		res.Uncorrected = &p
		encU, _ := agg.totalUnc.EncodeV2()
		res.UncorrectedHistogram = string(encU)
	}
	res.Timeline = agg.timeline
	if res.Timeline == nil {
		res.Timeline = []Interval{}
	}
	m.Result = res
	return m, nil
}

// PercentilesOf reads the summary percentiles (µs) off a latency histogram.
func PercentilesOf(h *hdr.Histogram) Percentiles {
	return Percentiles{
		P50: float64(h.ValueAtQuantile(50)), P90: float64(h.ValueAtQuantile(90)),
		P99: float64(h.ValueAtQuantile(99)), P999: float64(h.ValueAtQuantile(99.9)),
		P9999: float64(h.ValueAtQuantile(99.99)), Max: float64(h.Max()),
		Mean: h.Mean(), Count: h.TotalCount(),
	}
}

func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// dialAll opens n handshaken connections, a few at a time.
func dialAll(ctx context.Context, t Target, n int) ([]net.Conn, []func(), error) {
	conns := make([]net.Conn, n)
	closers := make([]func(), n)
	errs := make([]error, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], closers[i], errs[i] = t.dialHandshaken(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range closers {
			if c != nil {
				c()
			}
		}
		for _, e := range errs {
			if e != nil {
				return nil, nil, e // the first is as good as all: they share a cause
			}
		}
	}
	return conns, closers, nil
}

// goroutinePerConn forces a goroutine per connection where event loops
// would drive the run (tests compare both paths).
var goroutinePerConn bool

// run is the state the connections share.
type run struct {
	t                                  Target
	w                                  Workload
	open                               bool
	runStart, measureStart, measureEnd time.Time
	remaining                          atomic.Int64 // request-count mode budget
	next                               atomic.Int64 // global request index (count mode)
	stopOnce                           sync.Once
	stopCh                             chan struct{}
	stopped                            atomic.Bool
}

func (r *run) stop() {
	r.stopOnce.Do(func() { r.stopped.Store(true); close(r.stopCh) })
}

// claim takes up to n requests from the count budget; it returns how many
// and the global index of the first (for the exact GET:SET cycle).
func (r *run) claim(n int) (int, uint64) {
	for {
		rem := r.remaining.Load()
		if rem <= 0 {
			return 0, 0
		}
		k := min(int64(n), rem)
		if r.remaining.CompareAndSwap(rem, rem-k) {
			return int(k), uint64(r.next.Add(k) - k)
		}
	}
}

// worker drives one connection.
type worker struct {
	run       *run
	id        int
	connMu    sync.Mutex
	conn      net.Conn
	closeConn func()
	rec       *recorder
	keys      *keyChooser
	localSeq  uint64 // op-mix position outside the count budget

	answered, gets, sets int64
	unmeasured           int64 // answered outside the measured phase (warmup)
	errs                 map[string]int64
}

func (wk *worker) interrupt() {
	wk.connMu.Lock()
	defer wk.connMu.Unlock()
	if wk.conn != nil {
		_ = wk.conn.SetDeadline(time.Unix(1, 0))
	}
}

func (wk *worker) loop(ctx context.Context) {
	r, w := wk.run, wk.run.w
	tpl := newCommandTemplates(w.ValueSize, w.TTL)
	mix := newOpMix(w)
	P := w.Pipeline
	wbuf := make([]byte, 0, P*len(tpl.set))
	isGet := make([]bool, P)
	intended := make([]time.Time, P)
	rr := newReplyReader(wk.conn, max(16*1024, min(P*(w.ValueSize+16), 1<<20)))
	countMode := w.Requests > 0
	var interval time.Duration
	var base time.Time
	if r.open {
		interval = time.Duration(float64(w.Connections) / w.Rate * 1e9)
		base = r.runStart.Add(time.Duration(float64(interval) * float64(wk.id) / float64(w.Connections)))
	}
	sched := func(j int64) time.Time { return base.Add(time.Duration(float64(j) * float64(interval))) }
	var j int64 // open loop: next scheduled request of this connection
	pacer := time.NewTimer(time.Hour)
	pacer.Stop()
	var deadlineSet time.Time
	defer wk.rec.done()

	for !r.stopped.Load() {
		now := time.Now()
		var n int
		var measured bool
		if r.open {
			first := sched(j)
			if d := first.Sub(now); d > 0 {
				if !pace(pacer, d, r.stopCh) {
					return
				}
				now = time.Now()
			}
			measured = !first.Before(r.measureStart)
			if measured && !r.measureEnd.IsZero() && !first.Before(r.measureEnd) {
				return
			}
			intended[0] = first
			n = 1
			for n < P {
				t := sched(j + int64(n))
				if t.After(now) || (!measured && !t.Before(r.measureStart)) ||
					(!r.measureEnd.IsZero() && !t.Before(r.measureEnd)) {
					break
				}
				intended[n] = t
				n++
			}
		} else {
			measured = !now.Before(r.measureStart)
			if measured && !r.measureEnd.IsZero() && !now.Before(r.measureEnd) {
				return
			}
			n = P
		}
		seq := wk.localSeq
		if measured && countMode {
			var first uint64
			if n, first = r.claim(n); n == 0 {
				return
			}
			seq = first
		} else {
			wk.localSeq += uint64(n)
		}
		wbuf = wk.encode(wbuf[:0], &tpl, mix, isGet[:n], seq)
		j += int64(n)
		sent := now
		if r.open {
			sent = time.Now() // pacing may have slept since now was taken
		}
		if sent.Sub(deadlineSet) > time.Second { // refreshing the deadline per batch costs CPU
			_ = wk.conn.SetReadDeadline(sent.Add(r.t.ReplyTimeout + time.Second))
			deadlineSet = sent
			if r.stopped.Load() { // an interrupt may have raced with the refresh
				_ = wk.conn.SetDeadline(time.Unix(1, 0))
			}
		}
		if _, err := wk.conn.Write(wbuf); err != nil {
			wk.failBatch(ctx, err, n, measured, rr)
			continue
		}
		// Read the n replies; replies parsed from one read share its arrival time.
		got, run := 0, 0
		var at time.Time
		for got < n {
			st, msg, err := rr.next()
			if err != nil {
				wk.flushRun(measured, at, sent, run)
				wk.failBatch(ctx, err, n-got, measured, rr)
				break
			}
			if st == replyIncomplete {
				wk.flushRun(measured, at, sent, run)
				run = 0
				if at, err = rr.fill(); err != nil {
					wk.failBatch(ctx, err, n-got, measured, rr)
					break
				}
				if measured {
					wk.rec.at(at)
				}
				continue
			}
			wk.account(measured, st, msg, isGet[got])
			if measured && r.open {
				wk.rec.record(at.Sub(intended[got]), 1)
			}
			run++
			got++
		}
		if got == n {
			wk.flushRun(measured, at, sent, run)
		}
	}
}

// encode appends one batch of len(isGet) commands, the op of each from the
// GET:SET cycle at seq onwards, and notes which are GETs for pairing replies.
func (wk *worker) encode(buf []byte, tpl *commandTemplates, mix opMix, isGet []bool, seq uint64) []byte {
	j := seq % mix.cycle // as mix.isGet(seq+i), without a division per request
	for i := range isGet {
		g := j < mix.get
		if j++; j == mix.cycle {
			j = 0
		}
		isGet[i] = g
		if g {
			buf = tpl.appendGet(buf, wk.keys.key())
		} else {
			buf = tpl.appendSet(buf, wk.keys.key())
		}
	}
	return buf
}

// rekey turns buf, which holds a batch whose GETs and SETs are in the
// order prevGet gives, into the batch starting at request seq, when that
// batch has the same order (with a 1:1 mix and an even pipeline, every
// batch does): only the key digits are written, in the order encode draws
// the keys, instead of copying every command's template again. It reports
// false, leaving buf alone, when the order differs.
func (wk *worker) rekey(buf []byte, tpl *commandTemplates, mix opMix, prevGet []bool, seq uint64) bool {
	j := seq % mix.cycle // position in the mix's cycle, stepped without a division per request
	for _, g := range prevGet {
		if (j < mix.get) != g {
			return false
		}
		if j++; j == mix.cycle {
			j = 0
		}
	}
	off := 0
	for _, g := range prevGet {
		if g {
			putDigits(buf[off+tpl.getKey:off+tpl.getKey+keyDigits], wk.keys.key())
			off += len(tpl.get)
		} else {
			putDigits(buf[off+tpl.setKey:off+tpl.setKey+keyDigits], wk.keys.key())
			off += len(tpl.set)
		}
	}
	return true
}

// account counts one parsed reply to a GET (isGet) or SET request.
func (wk *worker) account(measured bool, st replyStatus, msg []byte, isGet bool) {
	if !measured {
		wk.unmeasured++
		return
	}
	if st == replyError {
		wk.countErr(measured, serverErrorKind(msg))
	}
	wk.answered++
	if isGet {
		wk.gets++
	} else {
		wk.sets++
	}
}

// flushRun records run replies that arrived at at for a batch sent at sent:
// the latency in closed loop, the uncorrected latency in open loop.
func (wk *worker) flushRun(measured bool, at, sent time.Time, run int) {
	if !measured || run == 0 {
		return
	}
	if wk.run.open {
		wk.rec.recordUncorrected(at.Sub(sent), int64(run))
	} else {
		wk.rec.record(at.Sub(sent), int64(run))
	}
}

func (wk *worker) countErr(measured bool, kind string) {
	if !measured {
		return
	}
	wk.errs[kind]++
	wk.rec.errs++
}

// failBatch counts the unanswered requests of a batch under the failure's
// kind and re-establishes the connection (unless the run is stopping).
func (wk *worker) failBatch(ctx context.Context, err error, unanswered int, measured bool, rr *replyReader) {
	kind := connErrorKind(err)
	if wk.run.stopped.Load() {
		kind = "interrupted"
	}
	if measured {
		wk.errs[kind] += int64(unanswered)
		wk.rec.errs += int64(unanswered)
	}
	if wk.run.stopped.Load() {
		return
	}
	backoff := 50 * time.Millisecond
	for !wk.run.stopped.Load() {
		c, closer, derr := wk.run.t.dialHandshaken(ctx)
		if derr == nil {
			wk.connMu.Lock()
			wk.closeConn()
			wk.conn, wk.closeConn = c, closer
			wk.connMu.Unlock()
			rr.rd, rr.r, rr.w = c, 0, 0
			return
		}
		backoff = redialPause(backoff, wk.run.stopCh)
	}
}

func connErrorKind(err error) string {
	switch {
	case errors.Is(err, errProtocol):
		return "protocol_error"
	case isTimeout(err) || errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF):
		return "conn_closed"
	case errors.Is(err, syscall.ECONNRESET):
		return "conn_reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken_pipe"
	default:
		return "conn_error"
	}
}

// serverErrorKind names an error reply by its first word ("server_error:OOM").
func serverErrorKind(msg []byte) string {
	end := len(msg)
	for i, c := range msg {
		if c == ' ' {
			end = i
			break
		}
	}
	return "server_error:" + string(msg[:min(end, 32)])
}

// pace waits d, or returns false when the run stops first. Go timers round
// sub-millisecond waits up to about 1 ms when the process is idle, and that
// lateness would show up as latency in the corrected figure: so the timer
// covers all but the last millisecond and a nanosleep (hrtimer, ~50 µs
// slack) the rest.
func pace(t *time.Timer, d time.Duration, stop <-chan struct{}) bool {
	if d > time.Millisecond {
		t.Reset(d - time.Millisecond)
		select {
		case <-t.C:
		case <-stop:
			return false
		}
		d = time.Millisecond
	}
	ts := unix.NsecToTimespec(int64(d))
	for {
		err := unix.Nanosleep(&ts, &ts)
		if err != unix.EINTR {
			return true
		}
	}
}

// redialPause waits backoff (or until the run stops) before the next redial
// and returns the next, doubled backoff, capped at a second.
func redialPause(backoff time.Duration, stop <-chan struct{}) time.Duration {
	tm := time.NewTimer(backoff)
	select {
	case <-tm.C:
	case <-stop:
		tm.Stop()
	}
	return min(2*backoff, time.Second)
}

// BarrierError is a run whose start barrier failed (the pod could not learn
// when to start, or learnt it too late to start with the others).
type BarrierError struct{ Err error }

func (e *BarrierError) Error() string { return "start barrier: " + e.Err.Error() }
func (e *BarrierError) Unwrap() error { return e.Err }

// waitBarrier asks the barrier for the start time and waits until then.
func waitBarrier(ctx context.Context, barrier func(context.Context) (time.Time, error)) (time.Time, error) {
	at, err := barrier(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return time.Time{}, fmt.Errorf("interrupted at the start barrier: %w", ctx.Err())
		}
		return time.Time{}, &BarrierError{Err: err}
	}
	if d := time.Until(at); d > 0 {
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("interrupted at the start barrier: %w", ctx.Err())
		}
	}
	return at, nil
}
