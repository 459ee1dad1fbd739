package dfstandin

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxBulk bounds one bulk string; redis' own proto-max-bulk-len default.
const maxBulk = 512 << 20

// readCommand reads one client command, as a RESP array or an inline line,
// and returns its arguments and the bytes to forward (inline commands are
// re-encoded as arrays so the backend always sees one form). The arguments
// are slices of those bytes: one allocation holds the whole command.
func readCommand(r *bufio.Reader) ([][]byte, []byte, error) {
	line, err := readLine(r)
	if err != nil {
		return nil, nil, err
	}
	if len(line) == 0 {
		return nil, nil, nil
	}
	if line[0] != '*' {
		var args [][]byte
		for _, f := range strings.Fields(string(line)) {
			args = append(args, []byte(f))
		}
		return args, encodeCommand(args), nil
	}
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n > 1<<20 {
		return nil, nil, fmt.Errorf("protocol error: bad array header %q", line)
	}
	if n <= 0 {
		// As redis: an empty or null array is no command.
		return nil, nil, nil
	}
	raw := appendLine(make([]byte, 0, 32*n), line)
	starts, lens := make([]int, n), make([]int, n)
	for i := 0; i < n; i++ {
		h, err := peekLine(r)
		if err != nil {
			return nil, nil, err
		}
		if len(h) == 0 || h[0] != '$' {
			return nil, nil, fmt.Errorf("protocol error: expected bulk string, got %q", h)
		}
		l, err := strconv.Atoi(string(h[1:]))
		if err != nil || l < 0 || l > maxBulk {
			return nil, nil, fmt.Errorf("protocol error: bad bulk length %q", h)
		}
		raw = appendLine(raw, h)
		starts[i], lens[i] = len(raw), l
		raw = slices.Grow(raw, l+2)[:len(raw)+l+2]
		if _, err := io.ReadFull(r, raw[starts[i]:]); err != nil {
			return nil, nil, err
		}
	}
	args := make([][]byte, n)
	for i := range args {
		args[i] = raw[starts[i] : starts[i]+lens[i] : starts[i]+lens[i]]
	}
	return args, raw, nil
}

func appendLine(b, line []byte) []byte {
	return append(append(b, line...), '\r', '\n')
}

// peekLine reads one line without its line end; the slice is valid until
// the next read from r.
func peekLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return nil, errors.New("protocol error: line too long")
	}
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := peekLine(r)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), line...), nil
}

// readReply reads one complete RESP2 or RESP3 reply and returns its bytes
// unchanged; the proxy needs reply boundaries, not their meaning.
func readReply(r *bufio.Reader) ([]byte, error) {
	var out bytes.Buffer
	if err := copyValue(r, &out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// copyValue copies one RESP value from r to out as it is.
func copyValue(r *bufio.Reader, out io.Writer) error {
	line, err := peekLine(r)
	if err != nil {
		return err
	}
	if len(line) == 0 {
		return errors.New("protocol error: empty reply line")
	}
	kind := line[0]
	var n int
	var nErr error
	switch kind {
	case '$', '!', '=', '*', '~', '>', '%', '|':
		n, nErr = strconv.Atoi(string(line[1:]))
	}
	out.Write(line)
	if _, err := out.Write(crlf); err != nil {
		return err
	}
	switch kind {
	case '+', '-', ':', '_', '#', ',', '(':
		return nil
	case '$', '!', '=':
		if nErr != nil || n > maxBulk {
			return fmt.Errorf("protocol error: bad length %q", line)
		}
		if n < 0 {
			return nil
		}
		return copyN(out, r, n+2)
	case '*', '~', '>', '%', '|':
		if nErr != nil {
			return fmt.Errorf("protocol error: bad aggregate %q", line)
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		for i := 0; i < n; i++ {
			if err := copyValue(r, out); err != nil {
				return err
			}
		}
		if kind == '|' {
			// An attribute precedes the reply it describes.
			return copyValue(r, out)
		}
		return nil
	}
	return fmt.Errorf("protocol error: unknown reply type %q", line)
}

var crlf = []byte("\r\n")

// copyN copies n bytes from r's buffer to out, refilling as needed (not
// io.CopyN: a bufio.Writer with nothing buffered would hand the copy to
// the socket, one write per bulk string).
func copyN(out io.Writer, r *bufio.Reader, n int) error {
	for n > 0 {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				return err
			}
		}
		buf, _ := r.Peek(min(n, r.Buffered()))
		if _, err := out.Write(buf); err != nil {
			return err
		}
		r.Discard(len(buf))
		n -= len(buf)
	}
	return nil
}

func encodeCommand(args [][]byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n", len(a))
		b.Write(a)
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

func strArgs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

func simple(s string) []byte { return []byte("+" + s + "\r\n") }

func errReply(s string) []byte {
	return []byte("-" + strings.NewReplacer("\r", " ", "\n", " ").Replace(s) + "\r\n")
}

func bulk(s string) []byte { return []byte(fmt.Sprintf("$%d\r\n%s\r\n", len(s), s)) }

func integer(n int64) []byte { return []byte(fmt.Sprintf(":%d\r\n", n)) }

// Value is a decoded reply, enough for the stand-in's own requests and for
// tests: Str for simple, bulk and verbatim strings (verbatim without its
// format prefix), Int for integers, Err for errors, Array for aggregates.
type Value struct {
	Str   string
	Int   int64
	Err   string
	Array []Value
	Nil   bool
}

func parseValue(raw []byte) (Value, error) {
	return decode(bufio.NewReader(bytes.NewReader(raw)))
}

func decode(r *bufio.Reader) (Value, error) {
	line, err := readLine(r)
	if err != nil {
		return Value{}, err
	}
	if len(line) == 0 {
		return Value{}, errors.New("protocol error: empty reply line")
	}
	body := string(line[1:])
	switch line[0] {
	case '+', ',', '(', '#':
		return Value{Str: body}, nil
	case '-', '!':
		if line[0] == '!' {
			n, _ := strconv.Atoi(body)
			buf := make([]byte, n+2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return Value{}, err
			}
			body = string(buf[:n])
		}
		return Value{Err: body}, nil
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		return Value{Int: n, Str: body}, err
	case '_':
		return Value{Nil: true}, nil
	case '$', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			return Value{Nil: true}, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return Value{}, err
		}
		s := string(buf[:n])
		if line[0] == '=' && len(s) >= 4 {
			s = s[4:]
		}
		return Value{Str: s}, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return Value{}, err
		}
		if n < 0 {
			return Value{Nil: true}, nil
		}
		if line[0] == '%' || line[0] == '|' {
			n *= 2
		}
		v := Value{Array: make([]Value, 0, n)}
		for i := 0; i < n; i++ {
			e, err := decode(r)
			if err != nil {
				return Value{}, err
			}
			v.Array = append(v.Array, e)
		}
		if line[0] == '|' {
			return decode(r)
		}
		return v, nil
	}
	return Value{}, fmt.Errorf("protocol error: unknown reply type %q", line)
}

// Conn is a minimal RESP2 client: the stand-in's own link to its backend and
// to a master's admin port, and the tests' client.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// Dial connects to network/addr ("tcp" or "unix").
func Dial(network, addr string, timeout time.Duration) (*Conn, error) {
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	return &Conn{c: c, r: bufio.NewReader(c)}, nil
}

// Do sends one command and returns its reply; a RESP error reply is
// returned as an error.
func (c *Conn) Do(args ...string) (Value, error) {
	v, err := c.DoRaw(args...)
	if err == nil && v.Err != "" {
		return v, errors.New(v.Err)
	}
	return v, err
}

// DoRaw is Do with error replies left in Value.Err.
func (c *Conn) DoRaw(args ...string) (Value, error) {
	if _, err := c.c.Write(encodeCommand(strArgs(args...))); err != nil {
		return Value{}, err
	}
	return decode(c.r)
}

// SetDeadline bounds the next requests.
func (c *Conn) SetDeadline(t time.Time) error { return c.c.SetDeadline(t) }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// infoField returns field's value from an INFO text ("" when absent).
func infoField(info, field string) string {
	for _, l := range strings.Split(info, "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.HasPrefix(l, field+":") {
			return l[len(field)+1:]
		}
	}
	return ""
}
