//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The closed loop over plaintext TCP runs on epoll event loops (one per
// GOMAXPROCS) instead of a goroutine per connection. Each wakeup reads every
// ready socket once, parses as many replies as arrived, and writes a
// connection's next batch in one write as soon as its batch is answered.
// A goroutine per connection pays, per batch, a read that returns EAGAIN
// before parking, a goroutine wakeup through the runtime's netpoller and the
// thread handoffs around blocking syscalls; the profile showed those as most
// of the loader's CPU. Open loop (timed sends) and TLS keep the goroutine
// path: pacing needs sub-millisecond sleeps per connection, and TLS records
// need crypto/tls.

// evTick is how often a loop looks for reply timeouts and stops; a
// re-established connection is picked up at the next wakeup.
const evTick = 100 * time.Millisecond

// eventLoopEligible reports whether every connection can be driven by fd.
func eventLoopEligible(r *run, conns []net.Conn) bool {
	if r.open || r.t.TLS != nil {
		return false
	}
	for _, c := range conns {
		if _, ok := c.(*net.TCPConn); !ok {
			return false
		}
	}
	return true
}

// detachFD takes a handshaken connection out of the Go runtime: the socket
// is dup'ed and the net.Conn closed (which unregisters it from the runtime's
// netpoller, so its events do not wake the scheduler as well). The socket
// stays open through the duplicate, non-blocking, owned by the caller.
func detachFD(c net.Conn, closeConn func()) (int, error) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		closeConn()
		return -1, err
	}
	fd := -1
	cerr := rc.Control(func(s uintptr) { fd, err = unix.Dup(int(s)) })
	closeConn()
	if cerr != nil {
		return -1, cerr
	}
	if err != nil {
		return -1, err
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// epollWait blocks in epoll_wait without telling the scheduler. Through
// the runtime's syscall entry, each sleep hands the processor to another
// thread and each wakeup takes it back: with the loader pinned to one CPU
// that was about a quarter of its CPU time at pipeline 16. The loop holds its
// processor instead, so it waits at most a millisecond and then yields (as
// it does on EINTR, the runtime's preemption signal): other goroutines of
// the process, an in-process server or proxy among them, wait no longer.
func epollWait(epfd int, events []unix.EpollEvent, msec int) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), uintptr(msec), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// fdReader reads a non-blocking socket without entering the scheduler
// (a non-blocking read never sleeps in the kernel).
type fdReader struct{ fd int }

func (f *fdReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(f.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

// writeAll writes b to a non-blocking socket. A full send buffer (rare: a
// batch is a few KiB) waits for POLLOUT on this socket alone.
func writeAll(fd int, b []byte, deadline time.Time) error {
	for len(b) > 0 {
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == 0 {
			b = b[n:]
			continue
		}
		if e != unix.EAGAIN && e != unix.EINTR {
			return e
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return os.ErrDeadlineExceeded
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		if _, err := unix.Poll(pfd, int(min(wait, evTick)/time.Millisecond)+1); err != nil && err != unix.EINTR {
			return err
		}
	}
	return nil
}

// evConn is one connection of an event loop with its batch in flight.
type evConn struct {
	wk       *worker
	idx      int
	fd       int // -1 while re-establishing
	rd       fdReader
	rr       *replyReader
	wbuf     []byte
	isGet    []bool
	n, got   int // batch size, replies parsed
	measured bool
	sent     time.Time
	done     bool

	// io_uring only (see run_uring_linux.go).
	gen         uint32 // bumped when the socket fails: late completions are stale
	inflight    int    // submissions not yet completed (a re-established socket waits for 0)
	recvArmed   bool
	sendPending bool
	woff        int // bytes of wbuf sent
}

type evReconnect struct {
	c  *evConn
	fd int
}

// evLoop drives conns until each has no more requests to send or the run stops.
type evLoop struct {
	r     *run
	ctx   context.Context
	epfd  int
	conns []*evConn
	live  int
	reco  chan evReconnect
	tpl   commandTemplates
	mix   opMix

	ring     *uring        // nil: epoll
	queued   []*evConn     // sends queued for the next submission
	parked   []evReconnect // re-established while the old socket's submissions complete
	draining bool
}

// eventLoopCount is how many loops drive conns connections: one per
// processor the runtime may use.
func eventLoopCount(conns int) int { return min(runtime.GOMAXPROCS(0), conns) }

// startEventLoops splits the workers over nl loops (worker i on loop i%nl,
// which shares workers[i%nl].rec) and returns when every loop has finished. It returns an error only when no
// loop could be set up at all (before any request was sent).
func startEventLoops(ctx context.Context, r *run, workers []*worker, nl int) error {
	loops := make([]*evLoop, nl)
	for i := range loops {
		epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			for _, l := range loops[:i] {
				unix.Close(l.epfd)
			}
			return err
		}
		loops[i] = &evLoop{r: r, ctx: ctx, epfd: epfd, reco: make(chan evReconnect, len(workers)),
			tpl: newCommandTemplates(r.w.ValueSize, r.w.TTL), mix: newOpMix(r.w)}
	}
	P := r.w.Pipeline
	for i, wk := range workers {
		wk.connMu.Lock() // interrupt() may look at conn meanwhile
		fd, err := detachFD(wk.conn, wk.closeConn)
		wk.conn = nil
		wk.connMu.Unlock()
		if err != nil {
			for _, l := range loops {
				l.closeAll()
			}
			return err
		}
		l := loops[i%nl]
		c := &evConn{wk: wk, idx: len(l.conns), fd: fd, wbuf: make([]byte, 0, P*len(l.tpl.set)), isGet: make([]bool, P)}
		c.rd.fd = fd
		c.rr = newReplyReader(&c.rd, max(16*1024, min(P*(r.w.ValueSize+16), 1<<20)))
		l.conns = append(l.conns, c)
		wk.closeConn = func() {
			if c.fd >= 0 {
				unix.Close(c.fd)
				c.fd = -1
			}
		}
	}
	done := make(chan struct{}, nl)
	for _, l := range loops {
		go func() { l.run(); done <- struct{}{} }()
	}
	for range loops {
		<-done
	}
	return nil
}

func (l *evLoop) closeAll() {
	for _, c := range l.conns {
		c.wk.closeConn()
	}
	unix.Close(l.epfd)
}

func (l *evLoop) add(c *evConn) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.idx)}
	return unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, c.fd, &ev)
}

func (l *evLoop) loop() {
	defer unix.Close(l.epfd)
	for _, c := range l.conns {
		l.live++
		if err := l.add(c); err != nil {
			l.fail(c, err)
			continue
		}
		l.issue(c, time.Now())
	}
	events := make([]unix.EpollEvent, len(l.conns))
	lastCheck := time.Now()
	for l.live > 0 && !l.r.stopped.Load() {
		n, err := epollWait(l.epfd, events, 1)
		if err == unix.EINTR || n == 0 {
			// A signal (the runtime's preemption request among them) or an
			// idle millisecond: let the process's other goroutines run.
			runtime.Gosched()
		}
		if err != nil && err != unix.EINTR {
			// The epoll fd itself failed: nothing more can be read.
			for _, c := range l.conns {
				if !c.done && c.fd >= 0 {
					l.fail(c, err)
				}
			}
			break
		}
		for i := 0; i < n; i++ {
			l.readable(l.conns[events[i].Fd])
		}
		if len(l.reco) > 0 || time.Since(lastCheck) >= evTick {
			lastCheck = l.housekeep()
		}
	}
	l.finish()
}

// finish counts batches cut off by the stop and closes sockets that were
// re-established as the run stopped.
func (l *evLoop) finish() {
	for _, c := range l.conns {
		if !c.done && c.fd >= 0 && c.got < c.n && c.measured { // stopped with a batch in flight
			c.wk.errs["interrupted"] += int64(c.n - c.got)
			c.wk.rec.errs += int64(c.n - c.got)
		}
	}
	if len(l.conns) > 0 {
		l.conns[0].wk.rec.done() // the loop's recorder, shared by its connections
	}
	for {
		select {
		case rc := <-l.reco: // re-established as the run stopped
			unix.Close(rc.fd)
		default:
			return
		}
	}
}

// housekeep re-adds re-established connections and fails batches that
// waited longer than the reply timeout.
func (l *evLoop) housekeep() time.Time {
	parked := l.parked
	l.parked = nil
	for _, rc := range parked {
		l.reattach(rc)
	}
	for {
		select {
		case rc := <-l.reco:
			l.reattach(rc)
			continue
		default:
		}
		break
	}
	now := time.Now()
	limit := l.r.t.ReplyTimeout + time.Second
	for _, c := range l.conns {
		if !c.done && c.fd >= 0 && c.got < c.n && now.Sub(c.sent) > limit {
			l.fail(c, os.ErrDeadlineExceeded)
		}
	}
	return now
}

// reattach drives c over its re-established socket.
func (l *evLoop) reattach(rc evReconnect) {
	c := rc.c
	if l.ring != nil && c.inflight > 0 { // the old socket's receive may still write into c's buffer
		l.parked = append(l.parked, rc)
		return
	}
	c.fd, c.rd.fd = rc.fd, rc.fd
	c.rr.r, c.rr.w = 0, 0
	var err error
	if l.ring != nil {
		err = l.armRecv(c)
	} else {
		err = l.add(c)
	}
	if err != nil {
		l.fail(c, err)
		return
	}
	l.issue(c, time.Now())
}

// issue sends c's next closed-loop batch, or retires c when the run has no
// more requests for it.
func (l *evLoop) issue(c *evConn, now time.Time) {
	r, wk := l.r, c.wk
	measured := !now.Before(r.measureStart)
	if r.stopped.Load() || (measured && !r.measureEnd.IsZero() && !now.Before(r.measureEnd)) {
		l.retire(c)
		return
	}
	n := r.w.Pipeline
	seq := wk.localSeq
	if measured && r.w.Requests > 0 {
		var first uint64
		if n, first = r.claim(n); n == 0 {
			l.retire(c)
			return
		}
		seq = first
	} else {
		wk.localSeq += uint64(n)
	}
	// c.n is the previous batch's size until the line below (0 after a
	// failure): its commands are still in c.wbuf, its send completed.
	if n != c.n || !wk.rekey(c.wbuf, &l.tpl, l.mix, c.isGet[:n], seq) {
		c.wbuf = wk.encode(c.wbuf[:0], &l.tpl, l.mix, c.isGet[:n], seq)
	}
	c.n, c.got, c.measured, c.sent = n, 0, measured, now
	if l.ring != nil {
		c.woff = 0
		l.queueSend(c)
		return
	}
	if err := writeAll(c.fd, c.wbuf, now.Add(r.t.ReplyTimeout+time.Second)); err != nil {
		l.fail(c, err)
	}
}

func (l *evLoop) retire(c *evConn) {
	if !c.done {
		c.done = true
		c.n, c.got = 0, 0
		l.live--
	}
}

// readable reads once from c and accounts every reply that arrived.
func (l *evLoop) readable(c *evConn) {
	if c.done || c.fd < 0 {
		return
	}
	at, err := c.rr.fill()
	if err != nil {
		if err == unix.EAGAIN || err == unix.EINTR {
			return
		}
		l.fail(c, err)
		return
	}
	l.consume(c, at)
}

// consume accounts every complete reply buffered for c (arrived by at) and
// sends c's next batch once the current one is answered.
func (l *evLoop) consume(c *evConn, at time.Time) {
	wk := c.wk
	if c.measured {
		wk.rec.at(at)
	}
	run := 0
	for c.got < c.n {
		st, msg, err := c.rr.next()
		if err != nil {
			wk.flushRun(c.measured, at, c.sent, run)
			l.fail(c, err)
			return
		}
		if st == replyIncomplete {
			break
		}
		wk.account(c.measured, st, msg, c.isGet[c.got])
		run++
		c.got++
	}
	wk.flushRun(c.measured, at, c.sent, run)
	if c.got == c.n {
		if c.rr.r != c.rr.w { // bytes beyond the batch's replies: the stream is out of step
			l.fail(c, errUnsolicited)
			return
		}
		if c.sendPending { // the send's completion is still to be reaped: it issues
			return
		}
		l.issue(c, at)
	}
}

var errUnsolicited = fmt.Errorf("%w: more replies than requests", errProtocol)

// fail counts c's unanswered requests under the failure's kind, closes it
// and, unless the run is stopping, re-establishes it in the background.
func (l *evLoop) fail(c *evConn, err error) {
	wk := c.wk
	if c.measured && c.got < c.n {
		kind := connErrorKind(err)
		if l.r.stopped.Load() {
			kind = "interrupted"
		}
		wk.errs[kind] += int64(c.n - c.got)
		wk.rec.errs += int64(c.n - c.got)
	}
	c.n, c.got = 0, 0
	if c.fd >= 0 {
		if l.ring != nil {
			// Ends the socket's pending receive and send; their late
			// completions carry the old generation.
			c.gen++
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
		} else {
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, c.fd, nil)
		}
		unix.Close(c.fd)
		c.fd = -1
	}
	if l.r.stopped.Load() {
		l.retire(c)
		return
	}
	go func() {
		backoff := 50 * time.Millisecond
		for !l.r.stopped.Load() {
			conn, closer, derr := l.r.t.dialHandshaken(l.ctx)
			if derr == nil {
				fd, ferr := detachFD(conn, closer)
				if ferr == nil && l.r.stopped.Load() {
					unix.Close(fd)
					return
				}
				if ferr == nil {
					l.reco <- evReconnect{c: c, fd: fd} // buffered for every connection: never blocks
					return
				}
			}
			backoff = redialPause(backoff, l.r.stopCh)
		}
	}()
}
