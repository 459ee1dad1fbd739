package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// wantReply is one expected reply: its status and, for errors, the message.
type wantReply struct {
	st  replyStatus
	msg string
}

func (w wantReply) String() string {
	if w.st == replyError {
		return fmt.Sprintf("error %q", w.msg)
	}
	return "OK"
}

// replyStream builds n replies of every kind the loader meets, with bulk
// payloads that look like replies themselves (a parser that loses its place
// reads them as replies), and what each should parse as.
func replyStream(n int, seed uint64) (string, []wantReply) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	want := make([]wantReply, 0, n)
	payloads := []string{"-ERR inside a value\r\n", "+OK\r\n", ":7\r\n$2\r\nab", "", strings.Repeat("v", 300)}
	for i := range n {
		switch rng.IntN(6) {
		case 0:
			b.WriteString("+OK\r\n")
			want = append(want, wantReply{st: replyOK})
		case 1:
			b.WriteString("$-1\r\n")
			want = append(want, wantReply{st: replyOK})
		case 2, 3:
			p := payloads[rng.IntN(len(payloads))]
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(p), p)
			want = append(want, wantReply{st: replyOK})
		case 4:
			msg := fmt.Sprintf("ERR number %d", i)
			b.WriteString("-" + msg + "\r\n")
			want = append(want, wantReply{st: replyError, msg: msg})
		default:
			b.WriteString(":42\r\n")
			want = append(want, wantReply{st: replyOK})
		}
	}
	return b.String(), want
}

// chunkReader hands out its input in reads of cycling sizes, so replies and
// their CRLFs are split at every possible place across reads.
type chunkReader struct {
	in    []byte
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.in) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.in))
	c.i++
	copy(p, c.in[:n])
	c.in = c.in[n:]
	return n, nil
}

type parseFunc func(rr *replyReader) (replyStatus, []byte, error)

// checkPairing parses in (delivered in reads of the given sizes) with parse
// and reports the first reply that does not match want, by position.
func checkPairing(in string, sizes []int, bufSize int, want []wantReply, parse parseFunc) error {
	rr := newReplyReader(&chunkReader{in: []byte(in), sizes: sizes}, bufSize)
	got := 0
	for {
		st, msg, err := parse(rr)
		if err != nil {
			return fmt.Errorf("reply %d (want %v): parse error: %w", got, wantAt(want, got), err)
		}
		if st == replyIncomplete {
			if _, err := rr.fill(); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return fmt.Errorf("reply %d: read: %w", got, err)
			}
			continue
		}
		if got >= len(want) {
			return fmt.Errorf("reply %d: parsed beyond the %d replies sent", got, len(want))
		}
		g := wantReply{st: st}
		if st == replyError {
			g.msg = string(msg)
		}
		if g != want[got] {
			return fmt.Errorf("reply %d: got %v, want %v: replies and requests are out of step from here", got, g, want[got])
		}
		got++
	}
	if rr.r != rr.w {
		return fmt.Errorf("reply %d: %d bytes left unparsed at the end of the stream", got, rr.w-rr.r)
	}
	if got != len(want) {
		return fmt.Errorf("reply %d (want %v): stream ended after %d of %d replies", got, wantAt(want, got), got, len(want))
	}
	return nil
}

func wantAt(want []wantReply, i int) any {
	if i < len(want) {
		return want[i]
	}
	return "nothing"
}

func realParse(rr *replyReader) (replyStatus, []byte, error) { return rr.next() }

func TestReplyParsingKeepsPairingAcrossReadBoundaries(t *testing.T) {
	in, want := replyStream(400, 3)
	for _, tc := range []struct {
		name  string
		sizes []int
		buf   int
	}{
		{"one byte per read", []int{1}, 16},
		{"cycling odd sizes", []int{1, 2, 3, 5, 7, 11, 13, 17, 19, 23, 97}, 16}, // buffer grows for the 300-byte payloads
		{"whole stream in one read", []int{len(in)}, len(in)},
		{"reads larger than the buffer", []int{4096}, 64},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkPairing(in, tc.sizes, tc.buf, want, realParse); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Planted defects: parsers that lose the pairing. The check must fail and
// name the reply where the stream went out of step.
func TestPairingCheckCatchesMisPairingParsers(t *testing.T) {
	in := "+OK\r\n$21\r\n-ERR inside a value\r\n\r\n-ERR real\r\n:1\r\n"
	want := []wantReply{{st: replyOK}, {st: replyOK}, {st: replyError, msg: "ERR real"}, {st: replyOK}}
	if err := checkPairing(in, []int{3}, 16, want, realParse); err != nil {
		t.Fatalf("the real parser fails the planted stream: %v", err)
	}
	// A bulk reply ended at its header: its payload is parsed as the next reply.
	headerOnly := func(rr *replyReader) (replyStatus, []byte, error) {
		b := rr.buf[rr.r:rr.w]
		if len(b) > 0 && b[0] == '$' {
			end := lineEnd(b)
			if end < 0 {
				return replyIncomplete, nil, nil
			}
			rr.r += end + 2
			return replyOK, nil, nil
		}
		return rr.next()
	}
	// One reply per read: whatever else arrived in the same read is dropped.
	firstPerRead := func(rr *replyReader) (replyStatus, []byte, error) {
		st, msg, err := rr.next()
		if st != replyIncomplete && err == nil {
			msg = append([]byte(nil), msg...)
			rr.r = rr.w
		}
		return st, msg, err
	}
	for name, tc := range map[string]struct {
		parse parseFunc
		sizes []int
		want  string
	}{
		"bulk payload read as a reply":              {headerOnly, []int{64}, `reply 2: got error "ERR inside a value", want error "ERR real"`},
		"replies after the first of a read dropped": {firstPerRead, []int{64}, "reply 1 (want OK)"},
	} {
		err := checkPairing(in, tc.sizes, 16, want, tc.parse)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: check said %v; want an error containing %q", name, err, tc.want)
		}
	}
}

// pairingServer answers RESP like redis-server but makes pairing mistakes
// visible: GET replies carry payloads that look like replies, every third
// SET of a connection is answered with an error, and each batch's replies are
// written in three pieces split mid-reply with pauses between them. While it
// still owes replies it watches for the client's next batch: a client that
// counted a batch as answered early would send it then.
type pairingServer struct {
	ln         net.Listener
	pipeline   int
	errsSent   atomic.Int64
	getsSeen   atomic.Int64
	setsSeen   atomic.Int64
	earlySends atomic.Int64
	// dropBatches > 0: that many batches (over all connections) end with the
	// connection closed after half of their replies.
	dropBatches atomic.Int64
	wg          sync.WaitGroup
}

func startPairingServer(t *testing.T, pipeline int) *pairingServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &pairingServer{ln: ln, pipeline: pipeline}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); defer c.Close(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// readCommand reads one RESP array of bulk strings.
func readCommand(br *bufio.Reader) ([]string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[0] != '*' {
		return nil, fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, l+2)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:l])
	}
	return args, nil
}

func (s *pairingServer) serve(c net.Conn) {
	br := bufio.NewReader(c)
	var out bytes.Buffer
	sets := 0
	pending := 0
	const getPayload = "-ERR not a reply\r\n+OK"
	for {
		args, err := readCommand(br)
		if err != nil {
			return
		}
		switch strings.ToUpper(args[0]) {
		case "PING":
			_, _ = c.Write([]byte("+PONG\r\n"))
			continue
		case "INFO":
			body := "# Server\r\nredis_version:7.2.0\r\n"
			fmt.Fprintf(c, "$%d\r\n%s\r\n", len(body), body)
			continue
		case "HELLO": // as redis-server before RESP3: the client falls back to RESP2
			_, _ = c.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
			continue
		case "GET":
			s.getsSeen.Add(1)
			fmt.Fprintf(&out, "$%d\r\n%s\r\n", len(getPayload), getPayload)
		case "SET":
			s.setsSeen.Add(1)
			sets++
			if sets%3 == 0 {
				s.errsSent.Add(1)
				fmt.Fprintf(&out, "-ERR planted %d\r\n", sets)
			} else {
				out.WriteString("+OK\r\n")
			}
		default:
			_, _ = c.Write([]byte("+OK\r\n"))
			continue
		}
		if pending++; pending < s.pipeline {
			continue
		}
		pending = 0
		b := out.Bytes()
		if s.dropBatches.Add(-1) >= 0 && len(b) > 1 {
			_, _ = c.Write(b[:len(b)/2])
			return
		}
		cuts := []int{1, len(b) / 2, len(b)}
		prev := 0
		for i, cut := range cuts {
			if _, err := c.Write(b[prev:cut]); err != nil {
				return
			}
			prev = cut
			if i < len(cuts)-1 && s.clientSentEarly(c, br) {
				s.earlySends.Add(1)
			}
		}
		out.Reset()
	}
}

// clientSentEarly waits briefly for bytes from the client while replies are
// still owed; any that come are left in br for the next command.
func (s *pairingServer) clientSentEarly(c net.Conn, br *bufio.Reader) bool {
	if br.Buffered() > 0 {
		return true
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Millisecond))
	_, err := br.Peek(1)
	_ = c.SetReadDeadline(time.Time{})
	return err == nil
}

func TestBatchesKeepRequestReplyPairing(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		for _, p := range []int{1, 16} {
			name := fmt.Sprintf("event loops P=%d", p)
			if goroutines {
				name = fmt.Sprintf("goroutine per connection P=%d", p)
			}
			t.Run(name, func(t *testing.T) {
				old := goroutinePerConn
				goroutinePerConn = goroutines
				t.Cleanup(func() { goroutinePerConn = old })
				s := startPairingServer(t, p)
				const conns = 5
				n := int64(conns * p * 40) // whole batches: the server answers per full batch
				m, err := Run(context.Background(), Target{Addr: s.ln.Addr().String()}, Workload{
					Connections: conns, Pipeline: p, GetRatio: 1, SetRatio: 2, Keyspace: 100, Requests: n, Seed: 5,
				}, Options{})
				if err != nil {
					t.Fatal(err)
				}
				r := m.Result
				if e := s.earlySends.Load(); e > 0 {
					t.Errorf("the client sent its next batch %d times before all replies of the previous one arrived", e)
				}
				if r.Requests != n || r.Latency.Count != n {
					t.Errorf("answered %d, histogram %d; want %d each", r.Requests, r.Latency.Count, n)
				}
				if r.Gets != s.getsSeen.Load() || r.Sets != s.setsSeen.Load() || r.Gets+r.Sets != n {
					t.Errorf("result counts %d GETs, %d SETs; the server saw %d and %d", r.Gets, r.Sets, s.getsSeen.Load(), s.setsSeen.Load())
				}
				want := map[string]int64{"server_error:ERR": s.errsSent.Load()}
				if len(r.Errors) != 1 || r.Errors["server_error:ERR"] != want["server_error:ERR"] {
					t.Errorf("errors %v; want exactly the %d planted error replies %v", r.Errors, want["server_error:ERR"], want)
				}
			})
		}
	}
}

// The hot path allocates nothing per request: a run ten times longer
// allocates about as much as a short one (the difference is per-second
// bookkeeping, far below one allocation per request).
func TestEventLoopDoesNotAllocatePerRequest(t *testing.T) {
	s := startRedis(t, "")
	mallocs := func(n int64) uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		m, err := Run(context.Background(), Target{Addr: s.Addr}, Workload{
			Connections: 4, Pipeline: 16, Keyspace: 1000, Requests: n, Seed: 3,
		}, Options{})
		runtime.ReadMemStats(&after)
		if err != nil || m.Result.Requests != n {
			t.Fatalf("run of %d requests: %v", n, err)
		}
		return after.Mallocs - before.Mallocs
	}
	short, long := mallocs(10_000), mallocs(110_000)
	perRequest := (float64(long) - float64(short)) / 100_000
	if perRequest > 0.05 {
		t.Errorf("%.3f allocations per request (%d for 10k requests, %d for 110k); want none on the hot path", perRequest, short, long)
	}
}

// A connection closed mid-batch: its unanswered requests are counted as
// errors, the connection is re-established and the run still accounts for
// every request it claimed.
func TestDroppedConnectionIsCountedAndReplaced(t *testing.T) {
	for _, goroutines := range []bool{false, true} {
		t.Run(fmt.Sprintf("goroutine per connection=%v", goroutines), func(t *testing.T) {
			old := goroutinePerConn
			goroutinePerConn = goroutines
			t.Cleanup(func() { goroutinePerConn = old })
			const conns, p = 3, 8
			s := startPairingServer(t, p)
			s.dropBatches.Store(2)
			n := int64(conns * p * 30)
			m, err := Run(context.Background(), Target{Addr: s.ln.Addr().String()}, Workload{
				Connections: conns, Pipeline: p, GetRatio: 1, SetRatio: 1, Keyspace: 100, Requests: n, Seed: 2,
			}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			r := m.Result
			var failed int64
			for kind, v := range r.Errors {
				if !strings.HasPrefix(kind, "server_error:") {
					failed += v
				}
			}
			if failed == 0 || failed > 2*p {
				t.Errorf("errors %v: want the unanswered requests of the 2 dropped batches (1..%d)", r.Errors, 2*p)
			}
			if r.Requests+failed != n || r.Latency.Count != r.Requests {
				t.Errorf("answered %d + failed %d != %d requests claimed (histogram %d)", r.Requests, failed, n, r.Latency.Count)
			}
		})
	}
}
