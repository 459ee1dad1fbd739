package dfstandin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// plainRedis runs redis-server itself on a loopback port: the reference the
// front's pipelined replies and its speed are compared with.
func plainRedis(tb testing.TB, extra ...string) string {
	tb.Helper()
	bin := needRedis(tb)
	port := freePort(tb)
	args := append([]string{"--port", port, "--bind", "127.0.0.1", "--protected-mode", "no",
		"--save", "", "--appendonly", "no", "--dir", tb.TempDir()}, extra...)
	cmd := exec.Command(bin, args...)
	if config.FromEnv().StandInVerbose != "" {
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() { cmd.Process.Kill(); <-exited })
	addr := "127.0.0.1:" + port
	waitFor(tb, "plain redis-server to listen on "+addr, 20*time.Second, func() bool {
		select {
		case <-exited:
			tb.Fatalf("plain redis-server on %s exited at start", addr)
		default:
		}
		c, err := Dial("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// pipeStep is one command of a test pipeline.
type pipeStep struct {
	args   []string
	inline bool // sent as an inline command instead of a RESP array
	// front, when set, checks the stand-in's reply instead of comparing it
	// with plain redis-server's: the front answers this command itself.
	front func(rep []byte) error
}

func (s pipeStep) String() string { return strings.Join(s.args, " ") }

func (s pipeStep) encode() []byte {
	if s.inline {
		return []byte(strings.Join(s.args, " ") + "\r\n")
	}
	return encodeCommand(strArgs(s.args...))
}

func steps(cmds ...[]string) []pipeStep {
	out := make([]pipeStep, len(cmds))
	for i, c := range cmds {
		out[i] = pipeStep{args: c}
	}
	return out
}

// pipe is a client that sends a whole pipeline in one write.
type pipe struct {
	c net.Conn
	r *bufio.Reader
}

func dialPipe(tb testing.TB, addr string) *pipe {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &pipe{c: c, r: bufio.NewReaderSize(c, 64<<10)}
}

func (p *pipe) send(steps []pipeStep) error {
	var b bytes.Buffer
	for _, s := range steps {
		b.Write(s.encode())
	}
	_, err := p.c.Write(b.Bytes())
	return err
}

// reply reads one reply; RESP3 push messages before it are kept with it, so
// replies line up with commands.
func (p *pipe) reply() ([]byte, error) {
	var out []byte
	for {
		rep, err := readReply(p.r)
		if err != nil {
			return out, err
		}
		out = append(out, rep...)
		if rep[0] != '>' {
			return out, nil
		}
	}
}

// run sends steps in one write and reads one reply per step; it stops at
// the first reply that does not come within the deadline.
func (p *pipe) run(steps []pipeStep) ([][]byte, error) {
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := p.send(steps); err != nil {
		return nil, err
	}
	var out [][]byte
	for i := range steps {
		rep, err := p.reply()
		if err != nil {
			return out, fmt.Errorf("reading reply %d (%s): %w", i+1, steps[i], err)
		}
		out = append(out, rep)
	}
	return out, nil
}

// checkReplies compares the stand-in's replies with plain redis-server's
// for the same pipeline, position by position, and fails naming the first
// position (1-based) and command whose reply is wrong, missing or extra.
func checkReplies(steps []pipeStep, got, want [][]byte) error {
	for i, s := range steps {
		if i >= len(got) {
			return fmt.Errorf("reply %d (%s): missing, the front sent only %d replies", i+1, s, len(got))
		}
		if s.front != nil {
			if err := s.front(got[i]); err != nil {
				return fmt.Errorf("reply %d (%s): %v", i+1, s, err)
			}
			continue
		}
		if i >= len(want) {
			return fmt.Errorf("reply %d (%s): plain redis-server sent no reply to compare with", i+1, s)
		}
		if !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("reply %d (%s): the front answered %q, plain redis-server %q", i+1, s, got[i], want[i])
		}
	}
	if len(got) > len(steps) {
		return fmt.Errorf("reply %d: extra, %d replies to %d commands", len(steps)+1, len(got), len(steps))
	}
	return nil
}

func exactly(want string) func([]byte) error {
	return func(rep []byte) error {
		if string(rep) != want {
			return fmt.Errorf("got %q, want %q", rep, want)
		}
		return nil
	}
}

// listsClient: CLIENT LIST through the front shows the client at its real
// address, on the front's address, running CLIENT LIST.
func listsClient(addr, laddr string) func([]byte) error {
	return func(rep []byte) error {
		v, err := parseValue(rep)
		if err != nil || v.Err != "" {
			return fmt.Errorf("not a client list: %q", rep)
		}
		for _, line := range strings.Split(v.Str, "\n") {
			if strings.Contains(line, " addr="+addr+" ") && strings.Contains(line, " laddr="+laddr+" ") &&
				strings.Contains(line, " cmd=client|list ") {
				return nil
			}
		}
		return fmt.Errorf("no line with addr=%s laddr=%s cmd=client|list in %q", addr, laddr, v.Str)
	}
}

// mixedPipeline: pass-through commands, error replies, MULTI/EXEC, an inline
// command and commands the front intercepts, all in one pipeline. The
// intercepted ones state the front's own reply: plain redis-server has no
// snapshot_cron and shows its own addresses.
func mixedPipeline(client, front string) []pipeStep {
	cron := "*/5 * * * *"
	s := steps(
		[]string{"SET", "k", "v1"},
		[]string{"GET", "k"},
		[]string{"INCR", "k"}, // an error reply
		[]string{"RPUSH", "l", "a", "b", "c"},
		[]string{"CONFIG", "SET", "snapshot_cron", cron},
		[]string{"LRANGE", "l", "0", "-1"},
		[]string{"MULTI"},
		[]string{"INCR", "n"},
		[]string{"SET", "k2", "bin\r\nary\x00"},
		[]string{"EXEC"},
		[]string{"CLIENT", "LIST"},
		[]string{"GET", "nosuch"},
		[]string{"NOSUCHCMD", "x"},
		[]string{"HSET", "h", "f1", "1", "f2", "2"},
		[]string{"HGETALL", "h"},
		[]string{"CONFIG", "GET", "snapshot_cron"},
		[]string{"EXEC"}, // without MULTI: an error
		[]string{"ECHO", strings.Repeat("x", 100<<10)},
		[]string{"DEL", "k", "k2"},
		[]string{"PING"},
	)
	s[4].front = exactly("+OK\r\n")
	s[10].front = listsClient(client, front)
	s[15].front = exactly(string(append([]byte("*2\r\n"), append(bulk("snapshot_cron"), bulk(cron)...)...)))
	s[19].inline = true
	return s
}

func pipelineReplies(t *testing.T, addr string, build func(client string) []pipeStep) ([]pipeStep, [][]byte) {
	t.Helper()
	p := dialPipe(t, addr)
	st := build(p.c.LocalAddr().String())
	got, err := p.run(st)
	if err != nil {
		t.Fatal(err)
	}
	return st, got
}

func TestPipelinedRepliesMatchPlainRedisInOrder(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	mixed := func(client string) []pipeStep { return mixedPipeline(client, s.Addr()) }
	_, want := pipelineReplies(t, plainRedis(t), mixed)
	st, got := pipelineReplies(t, s.Addr(), mixed)
	if err := checkReplies(st, got, want); err != nil {
		t.Fatal(err)
	}
	if v := do(t, dial(t, s.Addr()), "CONFIG", "GET", "snapshot_cron"); len(v.Array) != 2 || v.Array[1].Str != "*/5 * * * *" {
		t.Errorf("CONFIG SET snapshot_cron mid-pipeline did not take: %+v", v)
	}

	// Planted defects: a front that swaps two replies or drops one must
	// fail the same check, naming the first wrong position.
	swapped := append([][]byte(nil), got...)
	swapped[1], swapped[2] = swapped[2], swapped[1]
	if err := checkReplies(st, swapped, want); err == nil || !strings.HasPrefix(err.Error(), "reply 2 (GET k)") {
		t.Errorf("swapped replies 2 and 3 went unnoticed or misnamed: %v", err)
	} else {
		t.Logf("planted reorder caught: %.120s", err)
	}
	dropped := append(append([][]byte(nil), got[:11]...), got[12:]...)
	if err := checkReplies(st, dropped, want); err == nil || !strings.HasPrefix(err.Error(), "reply 12 (GET nosuch)") {
		t.Errorf("dropped reply 12 went unnoticed or misnamed: %v", err)
	} else {
		t.Logf("planted drop caught: %.120s", err)
	}
	if err := checkReplies(st, got[:len(got)-1], want); err == nil || !strings.HasPrefix(err.Error(), "reply 20 (PING): missing") {
		t.Errorf("a missing last reply went unnoticed or misnamed: %v", err)
	}
	if err := checkReplies(st, append(got, []byte("+OK\r\n")), want); err == nil || !strings.HasPrefix(err.Error(), "reply 21: extra") {
		t.Errorf("an extra reply went unnoticed or misnamed: %v", err)
	}
	moved := append([][]byte(nil), got...)
	moved[3], moved[4] = moved[4], moved[3] // the intercepted reply answered early
	if err := checkReplies(st, moved, want); err == nil || !strings.HasPrefix(err.Error(), "reply 4 (RPUSH l a b c)") {
		t.Errorf("an intercepted reply overtaking an earlier one went unnoticed or misnamed: %v", err)
	}
}

// The front enforces --requirepass itself; a pipeline that authenticates
// half-way gets redis' NOAUTH before and answers after.
func TestPipelinedAuthGatingMatchesPlainRedis(t *testing.T) {
	s := start(t, Config{RequirePass: "pw"})
	auth := func(string) []pipeStep {
		return steps([]string{"GET", "k"}, []string{"SET", "k", "v"}, []string{"AUTH", "wrong"},
			[]string{"GET", "k"}, []string{"AUTH", "pw"}, []string{"SET", "k", "v"}, []string{"GET", "k"}, []string{"PING"})
	}
	_, want := pipelineReplies(t, plainRedis(t, "--requirepass", "pw"), auth)
	st, got := pipelineReplies(t, s.Addr(), auth)
	if err := checkReplies(st, got, want); err != nil {
		t.Fatal(err)
	}
}

// RESP3 push messages (client-side caching invalidations) reach the client
// in the same place among the replies as from redis-server.
func TestPipelinedPushMessagesMatchPlainRedis(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	tracking := func(string) []pipeStep {
		return steps([]string{"CLIENT", "TRACKING", "ON"}, []string{"GET", "tk"}, []string{"SET", "tk", "1"},
			[]string{"GET", "tk"}, []string{"SET", "tk", "2"}, []string{"PING"})
	}
	run := func(addr string) ([]pipeStep, [][]byte) {
		p := dialPipe(t, addr)
		if _, err := p.run(steps([]string{"HELLO", "3"})); err != nil {
			t.Fatal(err)
		}
		st := tracking("")
		got, err := p.run(st)
		if err != nil {
			t.Fatal(err)
		}
		return st, got
	}
	_, want := run(plainRedis(t))
	if !bytes.Contains(bytes.Join(want, nil), []byte(">2\r\n$10\r\ninvalidate")) {
		t.Fatalf("plain redis-server sent no invalidation push, so this test proves nothing: %q", want)
	}
	st, got := run(s.Addr())
	if err := checkReplies(st, got, want); err != nil {
		t.Fatal(err)
	}
}

// CLIENT KILL of the sending connection mid-pipeline: redis answers it and
// closes, never answering what follows.
func TestPipelinedClientKillOfItselfMatchesPlainRedis(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	kill := func(client string) []pipeStep {
		return steps([]string{"PING"}, []string{"CLIENT", "KILL", "ADDR", client, "SKIPME", "no"}, []string{"PING"})
	}
	run := func(addr string) ([][]byte, error) {
		p := dialPipe(t, addr)
		st := kill(p.c.LocalAddr().String())
		got, err := p.run(st)
		if err == nil {
			return got, fmt.Errorf("answered %q after being killed", got[len(got)-1])
		}
		if !errors.Is(err, io.EOF) {
			return got, err
		}
		return got, nil
	}
	want, err := run(plainRedis(t))
	if err != nil {
		t.Fatalf("plain redis-server: %v", err)
	}
	got, err := run(s.Addr())
	if err != nil {
		t.Fatalf("the front: %v", err)
	}
	if err := checkReplies(kill("")[:2], got, want); err != nil {
		t.Fatal(err)
	}
}

// blockedCommandHoldsNoEarlierReply: the reply to a command pipelined before
// a blocking one reaches the client while the blocking one waits.
func blockedCommandHoldsNoEarlierReply(t *testing.T, addr string) error {
	p := dialPipe(t, addr)
	if err := p.send(steps([]string{"SET", "before", "1"}, []string{"BLPOP", "q", "30"})); err != nil {
		return err
	}
	p.c.SetDeadline(time.Now().Add(3 * time.Second))
	if rep, err := p.reply(); err != nil || string(rep) != "+OK\r\n" {
		return fmt.Errorf("the reply to SET, pipelined before a BLPOP that blocks, did not arrive within 3 s: %q %v", rep, err)
	}
	do(t, dial(t, addr), "LPUSH", "q", "x")
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	want := "*2\r\n$1\r\nq\r\n$1\r\nx\r\n"
	if rep, err := p.reply(); err != nil || string(rep) != want {
		return fmt.Errorf("BLPOP after LPUSH: %q %v, want %q", rep, err, want)
	}
	return nil
}

// halfSentCommandHoldsNoEarlierReply: the reply to a whole command reaches
// the client while the next command has only been half sent.
func halfSentCommandHoldsNoEarlierReply(t *testing.T, addr string) error {
	p := dialPipe(t, addr)
	set, get := encodeCommand(strArgs("SET", "split", "value")), encodeCommand(strArgs("GET", "split"))
	if _, err := p.c.Write(append(set, get[:10]...)); err != nil {
		return err
	}
	p.c.SetDeadline(time.Now().Add(3 * time.Second))
	if rep, err := p.reply(); err != nil || string(rep) != "+OK\r\n" {
		return fmt.Errorf("the reply to SET, sent with half a GET after it, did not arrive within 3 s: %q %v", rep, err)
	}
	if _, err := p.c.Write(get[10:]); err != nil {
		return err
	}
	if rep, err := p.reply(); err != nil || string(rep) != "$5\r\nvalue\r\n" {
		return fmt.Errorf("GET sent in two parts: %q %v", rep, err)
	}
	return nil
}

func TestRepliesAreNotHeldBackWhileTheNextCommandWaits(t *testing.T) {
	checks := map[string]func(*testing.T, string) error{
		"a blocking command":  blockedCommandHoldsNoEarlierReply,
		"a half-sent command": halfSentCommandHoldsNoEarlierReply,
	}
	plain := plainRedis(t)
	s := start(t, Config{AdminNopass: true})
	// Planted defect: a front that flushes only when the client has sent
	// nothing more and never while it waits for the backend.
	late := start(t, Config{AdminNopass: true}, withLateFlush())
	for what, check := range checks {
		if err := check(t, plain); err != nil {
			t.Fatalf("plain redis-server, %s: %v", what, err)
		}
		if err := check(t, s.Addr()); err != nil {
			t.Errorf("%s: %v", what, err)
		}
		if err := check(t, late.Addr()); err == nil || !strings.Contains(err.Error(), "did not arrive within 3 s") {
			t.Errorf("a front that holds replies back passed the check for %s: %v", what, err)
		} else {
			t.Logf("planted late flush caught (%s): %v", what, err)
		}
	}
}

// A pipeline longer than the front's read buffer gets every reply in order.
func TestLongPipelineMatchesPlainRedis(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	var long []pipeStep
	for i := 0; i < 3000; i++ {
		long = append(long, pipeStep{args: []string{"SET", fmt.Sprintf("key:%d", i), strings.Repeat("v", i%300)}},
			pipeStep{args: []string{"GET", fmt.Sprintf("key:%d", i)}})
	}
	_, want := pipelineReplies(t, plainRedis(t), func(string) []pipeStep { return long })
	st, got := pipelineReplies(t, s.Addr(), func(string) []pipeStep { return long })
	if err := checkReplies(st, got, want); err != nil {
		t.Fatal(err)
	}
}

// A RESP array header of -1 or 0 is an empty command, as in redis; it must
// not take the front down.
func TestEmptyArrayHeadersAreIgnored(t *testing.T) {
	s := start(t, Config{AdminNopass: true})
	p := dialPipe(t, s.Addr())
	p.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.c.Write([]byte("*-1\r\n*0\r\n\r\n*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	if rep, err := p.reply(); err != nil || string(rep) != "+PONG\r\n" {
		t.Fatalf("PING after empty commands: %q %v", rep, err)
	}
}

func setGetBatch(depth int) []byte {
	var b bytes.Buffer
	val := strings.Repeat("v", 64)
	for i := 0; i < depth; i++ {
		key := fmt.Sprintf("bench:%d", i/2)
		if i%2 == 0 {
			b.Write(encodeCommand(strArgs("SET", key, val)))
		} else {
			b.Write(encodeCommand(strArgs("GET", key)))
		}
	}
	return b.Bytes()
}

type benchTarget struct {
	name    string
	p       *pipe
	elapsed time.Duration
}

func (bt *benchTarget) roundTrip(batch []byte, depth int) error {
	began := time.Now()
	if _, err := bt.p.c.Write(batch); err != nil {
		return err
	}
	for i := 0; i < depth; i++ {
		if kind, err := bt.p.r.Peek(1); err != nil || kind[0] == '-' {
			rep, _ := readReply(bt.p.r)
			return fmt.Errorf("%s: reply %d: %q %v", bt.name, i+1, rep, err)
		}
		if err := copyValue(bt.p.r, io.Discard); err != nil {
			return fmt.Errorf("%s: reply %d: %w", bt.name, i+1, err)
		}
	}
	bt.elapsed += time.Since(began)
	return nil
}

// BenchmarkPipelinedSetGet runs the same pipelined SET/GET workload against
// plain redis-server and through the stand-in's front in one run,
// alternating batch by batch so both see the same machine load, and reports
// each one's ops/s and the front's slowdown (plain ops/s over front ops/s).
func BenchmarkPipelinedSetGet(b *testing.B) {
	redis := plainRedis(b)
	s := start(b, Config{AdminNopass: true})
	for _, depth := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			batch := setGetBatch(depth)
			plain := &benchTarget{name: "redis-server", p: dialPipe(b, redis)}
			front := &benchTarget{name: "stand-in", p: dialPipe(b, s.Addr())}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, bt := range []*benchTarget{plain, front} {
					if err := bt.roundTrip(batch, depth); err != nil {
						b.Fatal(err)
					}
				}
			}
			ops := float64(b.N * depth)
			plainOps, frontOps := ops/plain.elapsed.Seconds(), ops/front.elapsed.Seconds()
			b.ReportMetric(0, "ns/op") // one op here is a batch on each side: meaningless
			b.ReportMetric(plainOps, "redis-ops/s")
			b.ReportMetric(frontOps, "standin-ops/s")
			b.ReportMetric(plainOps/frontOps, "slowdown")
		})
	}
}

func TestWholeCommand(t *testing.T) {
	set := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n"
	for _, tc := range []struct {
		buf   string
		whole bool
	}{
		{"", false},
		{set, true},
		{set + "*1\r\n$4\r\nPI", true},
		{set[:len(set)-1], false}, // the bulk's line end is still to come
		{set[:len(set)-8], false},
		{set[:14], false}, // a bulk header cut short
		{"*3\r\n", false},
		{"PING\r\n", true},
		{"PING", false},
		{"\r\n", true},
		{"*-1\r\n", true},
		{"*x\r\n", true},          // malformed: fails at once
		{"*1\r\n+PING\r\n", true}, // malformed
		{"*1\r\n$-5\r\n", true},   // malformed
	} {
		if got := wholeCommand([]byte(tc.buf)); got != tc.whole {
			t.Errorf("wholeCommand(%q) = %v, want %v", tc.buf, got, tc.whole)
		}
	}
}

func TestReadCommandAndCopyValueKeepTheBytes(t *testing.T) {
	in := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$7\r\nv\r\nal\x00e\r\nget  k\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	args, raw, err := readCommand(r)
	if err != nil || string(raw) != in[:len(in)-8] || len(args) != 3 || string(args[2]) != "v\r\nal\x00e" {
		t.Fatalf("array: %q %q %v", args, raw, err)
	}
	args, raw, err = readCommand(r)
	if err != nil || string(raw) != "*2\r\n$3\r\nget\r\n$1\r\nk\r\n" || len(args) != 2 {
		t.Fatalf("inline: %q %q %v", args, raw, err)
	}
	// Every RESP3 type, and bulk strings longer than the reader's buffer.
	big := strings.Repeat("b", 100)
	replies := "+OK\r\n-ERR x\r\n:1\r\n_\r\n#t\r\n,1.5\r\n(12\r\n$-1\r\n$100\r\n" + big + "\r\n!3\r\nbad\r\n" +
		"=7\r\ntxt:abc\r\n*2\r\n$1\r\na\r\n*-1\r\n~1\r\n:2\r\n%1\r\n+k\r\n$100\r\n" + big + "\r\n" +
		">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n|1\r\n+a\r\n+b\r\n+then\r\n"
	r = bufio.NewReaderSize(strings.NewReader(replies), 16)
	var out bytes.Buffer
	for n := 1; ; n++ {
		if _, err := r.Peek(1); err != nil {
			break
		}
		if err := copyValue(r, &out); err != nil {
			t.Fatalf("reply %d: %v (copied %q)", n, err, out.String())
		}
	}
	if out.String() != replies {
		t.Fatalf("copied %q\nwant   %q", out.String(), replies)
	}
}
