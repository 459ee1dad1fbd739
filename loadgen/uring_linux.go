//go:build linux

package loadgen

import (
	"errors"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal io_uring ring for the closed-loop event loop (no Go module for
// it is available here; the kernel ABI is small and stable). One loop
// thread owns a ring (SINGLE_ISSUER + DEFER_TASKRUN: completions run only
// when that thread asks for them), so no locks. Sends are queued as
// submissions and leave in one io_uring_enter per loop iteration, and each
// socket has one multishot receive armed for its lifetime that fills
// buffers from a ring of provided buffers: no read, write or epoll_wait
// per request.

const (
	iouSetupCQSize       = 1 << 3
	iouSetupSubmitAll    = 1 << 7
	iouSetupSingleIssuer = 1 << 12
	iouSetupDeferTaskrun = 1 << 13

	iouFeatSingleMmap = 1 << 0
	iouFeatNoDrop     = 1 << 1
	iouFeatExtArg     = 1 << 8

	iouOffSQRing = 0
	iouOffCQRing = 0x8000000
	iouOffSQEs   = 0x10000000

	iouEnterGetEvents = 1 << 0
	iouEnterExtArg    = 1 << 3

	iouOpSend        = 26
	iouOpRecv        = 27
	iouOpAsyncCancel = 14

	iouSqeBufferSelect = 1 << 5
	iouRecvMultishot   = 1 << 1 // in sqe.ioprio

	iouCqeFBuffer = 1 << 0
	iouCqeFMore   = 1 << 1

	iouRegisterPbufRing   = 22
	iouUnregisterPbufRing = 23
)

type iouSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type iouCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type iouParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  iouSQOffsets
	cqOff                                                                  iouCQOffsets
}

type iouSQE struct {
	opcode, flags uint8
	ioprio        uint16
	fd            int32
	off           uint64
	addr          uint64
	len           uint32
	opFlags       uint32
	userData      uint64
	bufIndex      uint16
	personality   uint16
	spliceFDIn    int32
	addr3         uint64
	pad           uint64
}

type iouCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type iouGeteventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	minWait   uint32
	ts        uint64
}

type iouBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	resv        [3]uint64
}

// uring is one ring with a group of provided receive buffers.
type uring struct {
	fd             int
	sqMem, cqMem   []byte
	sqeMem         []byte
	sqHead, sqTail *uint32
	sqMask         uint32
	sqEntries      uint32
	sqes           []iouSQE
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []iouCQE
	localTail      uint32 // SQEs queued, not yet published
	published      uint32 // sqTail as last published
	bufRing        []byte // provided-buffer ring (entries of 16 bytes)
	bufTail        uint16
	bufMask        uint16
	bufSize        int
	bufs           []byte // the buffers themselves, bufSize each
	ts             unix.Timespec
	arg            iouGeteventsArg
}

const iouBufGroup = 0

var errNoURing = errors.New("io_uring unavailable")

// newURing sets up a ring for entries in-flight submissions and nbufs
// receive buffers of bufSize bytes. It must be called on the thread that
// will submit (the calling goroutine locked to it).
func newURing(entries uint32, nbufs int, bufSize int) (*uring, error) {
	p := iouParams{flags: iouSetupCQSize | iouSetupSubmitAll | iouSetupSingleIssuer | iouSetupDeferTaskrun,
		cqEntries: 8 * entries}
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, errors.Join(errNoURing, e)
	}
	u := &uring{fd: int(fd)}
	if p.features&(iouFeatSingleMmap|iouFeatNoDrop|iouFeatExtArg) != iouFeatSingleMmap|iouFeatNoDrop|iouFeatExtArg {
		u.close()
		return nil, errNoURing
	}
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(iouCQE{})))
	var err error
	if u.sqMem, err = unix.Mmap(u.fd, iouOffSQRing, max(sqSize, cqSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, errors.Join(errNoURing, err)
	}
	u.cqMem = u.sqMem
	if u.sqeMem, err = unix.Mmap(u.fd, iouOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(iouSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE); err != nil {
		u.close()
		return nil, errors.Join(errNoURing, err)
	}
	base := unsafe.Pointer(&u.sqMem[0])
	u.sqHead = (*uint32)(unsafe.Add(base, p.sqOff.head))
	u.sqTail = (*uint32)(unsafe.Add(base, p.sqOff.tail))
	u.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff.ringMask))
	u.sqEntries = p.sqEntries
	array := unsafe.Slice((*uint32)(unsafe.Add(base, p.sqOff.array)), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	u.sqes = unsafe.Slice((*iouSQE)(unsafe.Pointer(&u.sqeMem[0])), p.sqEntries)
	u.cqHead = (*uint32)(unsafe.Add(base, p.cqOff.head))
	u.cqTail = (*uint32)(unsafe.Add(base, p.cqOff.tail))
	u.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff.ringMask))
	u.cqes = unsafe.Slice((*iouCQE)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	u.localTail = atomic.LoadUint32(u.sqTail)
	u.published = u.localTail

	// Provided buffers: a power-of-two ring in page-aligned memory.
	n := 1
	for n < nbufs {
		n <<= 1
	}
	n = min(n, 1<<15)
	if u.bufRing, err = unix.Mmap(-1, 0, n*16, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		u.close()
		return nil, errors.Join(errNoURing, err)
	}
	if u.bufs, err = unix.Mmap(-1, 0, n*bufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		u.close()
		return nil, errors.Join(errNoURing, err)
	}
	u.bufMask, u.bufSize = uint16(n-1), bufSize
	reg := iouBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&u.bufRing[0]))), ringEntries: uint32(n), bgid: iouBufGroup}
	if _, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(u.fd), iouRegisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0); e != 0 {
		u.close()
		return nil, errors.Join(errNoURing, e)
	}
	for i := 0; i < n; i++ {
		u.provide(uint16(i))
	}
	u.publishBufs()
	return u, nil
}

func (u *uring) close() {
	if u.fd >= 0 {
		unix.Close(u.fd)
		u.fd = -1
	}
	for _, m := range [][]byte{u.sqeMem, u.sqMem, u.bufRing, u.bufs} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	u.sqeMem, u.sqMem, u.cqMem, u.bufRing, u.bufs = nil, nil, nil, nil, nil
}

// buf is provided buffer bid.
func (u *uring) buf(bid uint16) []byte {
	return u.bufs[int(bid)*u.bufSize : (int(bid)+1)*u.bufSize]
}

// provide hands buffer bid back to the kernel (visible at publishBufs).
func (u *uring) provide(bid uint16) {
	e := unsafe.Pointer(&u.bufRing[int(u.bufTail&u.bufMask)*16])
	*(*uint64)(e) = uint64(uintptr(unsafe.Pointer(&u.buf(bid)[0])))
	*(*uint32)(unsafe.Add(e, 8)) = uint32(u.bufSize)
	*(*uint16)(unsafe.Add(e, 12)) = bid
	u.bufTail++
}

// publishBufs makes provided buffers visible: the ring's tail is the last
// 16 bits of entry 0, stored atomically with entry 0's buffer id beside it.
func (u *uring) publishBufs() {
	w := (*uint32)(unsafe.Pointer(&u.bufRing[12]))
	atomic.StoreUint32(w, atomic.LoadUint32(w)&0xffff|uint32(u.bufTail)<<16)
}

// sqe returns the next free submission entry, zeroed, or nil when the ring
// is full (the caller submits and retries).
func (u *uring) sqe() *iouSQE {
	if u.localTail-atomic.LoadUint32(u.sqHead) >= u.sqEntries {
		return nil
	}
	s := &u.sqes[u.localTail&u.sqMask]
	*s = iouSQE{}
	u.localTail++
	return s
}

// enter publishes queued submissions and, when wait > 0 ns, waits up to
// that long for a completion beyond the first inline ones, keeping the
// processor (see epollWait). inline is how many of the queued submissions
// complete within the call (sends to sockets with room): returning on
// their completions alone would take one more enter per round to reach
// the replies. It returns EINTR and ETIME as errors.
func (u *uring) enter(waitNs int64, inline int) error {
	toSubmit := u.localTail - u.published
	if toSubmit > 0 {
		atomic.StoreUint32(u.sqTail, u.localTail)
		u.published = u.localTail
	}
	flags := uintptr(iouEnterGetEvents | iouEnterExtArg)
	minComplete := uintptr(0)
	if waitNs > 0 {
		minComplete = 1
		u.ts = unix.NsecToTimespec(waitNs)
		u.arg.ts = uint64(uintptr(unsafe.Pointer(&u.ts)))
	} else {
		u.arg.ts = 0
	}
	// Completions already posted need no wait (nor any task work run).
	if minComplete == 1 {
		if atomic.LoadUint32(u.cqTail) != *u.cqHead {
			minComplete = 0
		} else {
			minComplete += uintptr(min(inline, int(toSubmit)))
		}
	}
	_, _, e := unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(u.fd), uintptr(toSubmit), minComplete, flags,
		uintptr(unsafe.Pointer(&u.arg)), unsafe.Sizeof(u.arg))
	if e != 0 {
		return e
	}
	return nil
}

// completions returns the posted completions; call consumed(n) after.
func (u *uring) completions(f func(c *iouCQE)) int {
	head := *u.cqHead
	tail := atomic.LoadUint32(u.cqTail)
	for h := head; h != tail; h++ {
		f(&u.cqes[h&u.cqMask])
	}
	atomic.StoreUint32(u.cqHead, tail)
	return int(tail - head)
}
