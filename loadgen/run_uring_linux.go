//go:build linux

package loadgen

import (
	"io"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loop prefers io_uring: per loop iteration, one io_uring_enter
// submits every send queued since the last one and collects the replies
// that arrived, received by one multishot receive per socket into provided
// buffers. Per request that saves the read and the share of epoll_wait the
// epoll loop pays, and per send the syscall entry. Where the kernel refuses
// a ring (too old, disabled by sysctl or seccomp), the loop runs on epoll.

// uringEnabled lets tests force the epoll path.
var uringEnabled = true

// uringStats counts rare events of the io_uring path, for tests.
var uringStats struct {
	loops        atomic.Int64 // loops that ran on a ring
	shortSends   atomic.Int64 // sends the socket took in part
	splitReplies atomic.Int64 // receives that ended inside a reply
}

const (
	udSend = 0
	udRecv = 1
)

func userData(c *evConn, op uint64) uint64 {
	return uint64(c.idx) | uint64(c.gen&0x3fffffff)<<32 | op<<62
}

// run drives the loop's connections on io_uring when a ring can be set up
// on this thread, else on epoll.
func (l *evLoop) run() {
	if uringEnabled {
		runtime.LockOSThread() // the ring accepts submissions from its creating thread only
		defer runtime.UnlockOSThread()
		P, vs := l.r.w.Pipeline, l.r.w.ValueSize
		bufSize := max(4096, min(P*(vs+16), 64*1024))
		nbufs := max(64, 4*len(l.conns))
		for nbufs > 64 && nbufs*bufSize > 32<<20 {
			nbufs /= 2
		}
		entries := uint32(16)
		for entries < uint32(2*len(l.conns)+8) {
			entries <<= 1
		}
		if ring, err := newURing(entries, nbufs, bufSize); err == nil {
			l.ring = ring
			uringStats.loops.Add(1)
			l.loopURing()
			return
		}
	}
	l.loop()
}

func (l *evLoop) loopURing() {
	defer unix.Close(l.epfd)
	defer l.ring.close()
	now := time.Now()
	for _, c := range l.conns {
		l.live++
		if err := l.armRecv(c); err != nil {
			l.fail(c, err)
			continue
		}
		l.issue(c, now)
	}
	lastCheck := now
loop:
	for l.live > 0 && !l.r.stopped.Load() {
		sends := len(l.queued)
		if sends > 0 {
			// The queued batches leave in this enter: their requests'
			// latency starts now, not when their predecessors' replies
			// were parsed.
			sent := time.Now()
			for _, c := range l.queued {
				c.sent = sent
			}
			l.queued = l.queued[:0]
		}
		// The wait keeps the processor (see epollWait); after an idle
		// millisecond or a signal (the runtime's preemption request) the
		// loop yields it, so timers, the netpoller and the process's other
		// goroutines (an in-process proxy among them) wait no longer. On a
		// loop locked to its thread a yield costs two thread handoffs.
		err := l.ring.enter(int64(time.Millisecond), sends)
		switch {
		case err == unix.EINTR || err == unix.ETIME:
			runtime.Gosched()
		case err != nil:
			for _, c := range l.conns {
				if !c.done && c.fd >= 0 {
					l.fail(c, err)
				}
			}
			break loop
		}
		at := time.Now()
		l.ring.completions(func(cqe *iouCQE) { l.complete(cqe, at) })
		l.ring.publishBufs()
		if len(l.reco) > 0 || len(l.parked) > 0 || at.Sub(lastCheck) >= evTick {
			lastCheck = l.housekeep()
		}
	}
	l.drain()
	l.finish()
}

// drain ends every pending submission and waits (briefly) for their
// completions, so the kernel writes into no buffer after the loop returns.
func (l *evLoop) drain() {
	l.draining = true
	pending := 0
	for _, c := range l.conns {
		if c.inflight > 0 && c.fd >= 0 {
			_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
		}
		pending += c.inflight
	}
	deadline := time.Now().Add(2 * time.Second)
	for pending > 0 && time.Now().Before(deadline) {
		err := l.ring.enter(int64(10*time.Millisecond), 0)
		if err != nil && err != unix.EINTR && err != unix.ETIME {
			break
		}
		l.ring.completions(func(cqe *iouCQE) { l.complete(cqe, time.Time{}) })
		l.ring.publishBufs()
		pending = 0
		for _, c := range l.conns {
			pending += c.inflight
		}
	}
}

// submission returns a free submission entry, submitting queued ones first
// when the ring is full.
func (l *evLoop) submission() (*iouSQE, error) {
	for {
		if s := l.ring.sqe(); s != nil {
			return s, nil
		}
		if err := l.ring.enter(0, 0); err != nil && err != unix.EINTR {
			return nil, err
		}
	}
}

// armRecv starts c's multishot receive. The socket is made blocking: the
// ring then waits for room or data itself instead of completing with EAGAIN.
func (l *evLoop) armRecv(c *evConn) error {
	if !c.recvArmed {
		if err := unix.SetNonblock(c.fd, false); err != nil {
			return err
		}
	}
	s, err := l.submission()
	if err != nil {
		return err
	}
	s.opcode, s.fd, s.flags = iouOpRecv, int32(c.fd), iouSqeBufferSelect
	s.ioprio, s.bufIndex = iouRecvMultishot, iouBufGroup
	s.userData = userData(c, udRecv)
	c.recvArmed = true
	c.inflight++
	return nil
}

// queueSend queues the unsent rest of c's batch.
func (l *evLoop) queueSend(c *evConn) {
	s, err := l.submission()
	if err != nil {
		l.fail(c, err)
		return
	}
	b := c.wbuf[c.woff:]
	s.opcode, s.fd = iouOpSend, int32(c.fd)
	s.addr, s.len, s.opFlags = uint64(uintptr(unsafe.Pointer(&b[0]))), uint32(len(b)), unix.MSG_NOSIGNAL
	s.userData = userData(c, udSend)
	c.sendPending = true
	c.inflight++
	l.queued = append(l.queued, c)
}

// complete handles one completion that was reaped at at.
func (l *evLoop) complete(cqe *iouCQE, at time.Time) {
	c := l.conns[uint32(cqe.userData)]
	current := uint32(cqe.userData>>32)&0x3fffffff == c.gen&0x3fffffff && c.fd >= 0 && !l.draining
	switch cqe.userData >> 62 {
	case udSend:
		c.inflight--
		c.sendPending = false
		if !current {
			return
		}
		if cqe.res < 0 {
			l.fail(c, unix.Errno(-cqe.res))
			return
		}
		c.woff += int(cqe.res)
		if c.woff < len(c.wbuf) { // a short send: the rest goes next
			uringStats.shortSends.Add(1)
			l.queueSend(c)
			return
		}
		if c.n > 0 && c.got == c.n && !c.done { // every reply was reaped before this completion
			l.issue(c, at)
		}
	case udRecv:
		var data []byte
		if cqe.flags&iouCqeFBuffer != 0 {
			bid := uint16(cqe.flags >> 16)
			if cqe.res > 0 {
				data = l.ring.buf(bid)[:cqe.res]
			}
			defer l.ring.provide(bid) // after the bytes are copied out
		}
		if cqe.flags&iouCqeFMore == 0 {
			c.inflight--
			c.recvArmed = false
		}
		if !current {
			return
		}
		switch {
		case cqe.res > 0:
			if c.done {
				return
			}
			l.consumeReceived(c, data, at)
		case cqe.res == 0:
			l.fail(c, io.EOF)
			return
		case unix.Errno(-cqe.res) == unix.ENOBUFS:
			// Every provided buffer was in use: the receive stopped; it is
			// re-armed below once this round's buffers are back.
		default:
			l.fail(c, unix.Errno(-cqe.res))
			return
		}
		if !c.recvArmed && c.fd >= 0 && uint32(cqe.userData>>32)&0x3fffffff == c.gen&0x3fffffff {
			if err := l.armRecv(c); err != nil {
				l.fail(c, err)
			}
		}
	}
}

// consumeReceived accounts the replies in data, a received chunk. With no
// partial reply held from earlier chunks (the usual case), they are parsed
// where the kernel put them; only an incomplete tail is copied out.
func (l *evLoop) consumeReceived(c *evConn, data []byte, at time.Time) {
	rr := c.rr
	if rr.r != rr.w {
		appendReplies(rr, data)
		l.consume(c, at)
		return
	}
	own := rr.buf
	rr.buf, rr.r, rr.w = data, 0, len(data)
	l.consume(c, at)
	rest := rr.buf[rr.r:rr.w]
	rr.buf, rr.r, rr.w = own, 0, 0
	if len(rest) > 0 && c.fd >= 0 { // (a failed socket's bytes are dropped)
		uringStats.splitReplies.Add(1)
		appendReplies(rr, rest)
	}
}

// appendReplies appends received bytes to rr's unparsed ones.
func appendReplies(rr *replyReader, data []byte) {
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0
	}
	if rr.w+len(data) > len(rr.buf) {
		rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
		rr.r = 0
		if rr.w+len(data) > len(rr.buf) {
			nb := make([]byte, max(2*len(rr.buf), rr.w+len(data)))
			copy(nb, rr.buf[:rr.w])
			rr.buf = nb
		}
	}
	rr.w += copy(rr.buf[rr.w:], data)
}
