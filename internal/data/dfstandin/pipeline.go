package dfstandin

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"
)

// Pipelining: pass-through commands the client has already sent go to the
// backend in one write and their replies come back in order, collected in
// the client's write buffer. That buffer is sent whenever the front is
// about to wait — for the client (no whole command buffered), for the
// backend (no reply bytes buffered: a BLPOP may be blocking), or before any
// intercepted command — so the client sees exactly redis' order and never
// waits for a reply the front already has.

// command is one client command as read.
type command struct {
	name string // first word, upper-cased; "" for an empty command
	args [][]byte
	raw  []byte // the bytes to forward
}

// sub is the upper-cased second word ("" when absent).
func (c command) sub() string {
	if len(c.args) < 2 {
		return ""
	}
	return strings.ToUpper(string(c.args[1]))
}

func readClientCommand(r *bufio.Reader) (command, error) {
	args, raw, err := readCommand(r)
	if err != nil || len(args) == 0 {
		return command{}, err
	}
	return command{name: strings.ToUpper(string(args[0])), args: args, raw: raw}, nil
}

// withLateFlush plants a defect for tests: replies are sent only once the
// client has sent nothing more, never while the front waits for the backend
// or for the rest of a half-sent command.
func withLateFlush() Option { return func(s *Server) { s.lateFlush = true } }

// next returns the command that ended the last batch, or reads one after
// sending the buffered replies if the read could wait for the client.
func (f *frontConn) next() (command, error) {
	if c := f.held; c != nil {
		f.held = nil
		return *c, nil
	}
	if err := f.heldErr; err != nil {
		f.heldErr = nil
		return command{}, err
	}
	if !f.commandWaiting() {
		if err := f.cw.Flush(); err != nil {
			return command{}, err
		}
	}
	return readClientCommand(f.cr)
}

// commandWaiting: a whole command is buffered, so reading it cannot block.
func (f *frontConn) commandWaiting() bool {
	if f.lateFlush {
		return f.cr.Buffered() > 0
	}
	buf, _ := f.cr.Peek(f.cr.Buffered())
	return wholeCommand(buf)
}

// pipeline sends first and the pass-through commands already waiting after
// it as one write, then relays one reply per command. A command the front
// intercepts, or a failed read, ends the batch and is kept for next, so it
// runs only after this batch has been answered.
func (f *frontConn) pipeline(first command) error {
	f.batch = append(f.batch[:0], first.raw)
	for f.commandWaiting() {
		c, err := readClientCommand(f.cr)
		if err != nil {
			f.heldErr = err
			break
		}
		if c.name == "" {
			continue
		}
		if !f.passThrough(c) {
			f.held = &c
			break
		}
		f.batch = append(f.batch, c.raw)
	}
	n := len(f.batch)
	bufs := net.Buffers(f.batch)
	_, err := bufs.WriteTo(f.b.c)
	clear(f.batch) // WriteTo consumed the entries; drop the command bytes
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := f.relayReply(); err != nil {
			return err
		}
	}
	return nil
}

// relayReply copies one reply, and the RESP3 push messages before it, from
// the backend to the client's buffer, sending that buffer first whenever
// reading would wait for the backend.
func (f *frontConn) relayReply() error {
	for {
		if f.b.r.Buffered() == 0 && !f.lateFlush {
			if err := f.cw.Flush(); err != nil {
				return err
			}
		}
		kind, err := f.b.r.Peek(1)
		if err != nil {
			return err
		}
		push := kind[0] == '>'
		if err := copyValue(f.b.r, f.cw); err != nil {
			return err
		}
		if !push {
			return nil
		}
	}
}

// wholeCommand reports whether buf starts with a complete command, inline
// or RESP array. A malformed one counts as whole: reading it fails without
// waiting for more bytes.
func wholeCommand(buf []byte) bool {
	line, rest, ok := bytes.Cut(buf, []byte("\n"))
	if !ok {
		return false
	}
	if len(line) == 0 || line[0] != '*' {
		return true
	}
	n, err := strconv.Atoi(string(bytes.TrimSuffix(line[1:], []byte("\r"))))
	if err != nil {
		return true
	}
	for i := 0; i < n; i++ {
		if line, rest, ok = bytes.Cut(rest, []byte("\n")); !ok {
			return false
		}
		if len(line) == 0 || line[0] != '$' {
			return true
		}
		l, err := strconv.Atoi(string(bytes.TrimSuffix(line[1:], []byte("\r"))))
		if err != nil || l < 0 || l > maxBulk {
			return true
		}
		if len(rest) < l+2 {
			return false
		}
		rest = rest[l+2:]
	}
	return true
}
