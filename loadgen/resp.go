package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// The hot path speaks RESP directly: commands are copied from prebuilt
// templates with the key digits patched in, and replies are parsed in place
// from one read buffer. Nothing here allocates per request.

const (
	keyPrefix = "key:"
	keyDigits = 12 // as redis-benchmark's "key:__rand_int__" with -r
	keyLen    = len(keyPrefix) + keyDigits
)

// commandTemplates holds one GET and one SET command with placeholder keys.
type commandTemplates struct {
	get, set       []byte
	getKey, setKey int // offset of the 12 key digits in get / set
}

func newCommandTemplates(valueSize int, ttl time.Duration) commandTemplates {
	key := keyPrefix + "000000000000"
	get := fmt.Sprintf("*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", keyLen, key)
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = 'x'
	}
	args := 3
	tail := ""
	if ttl > 0 {
		args = 5
		ms := strconv.FormatInt(ttl.Milliseconds(), 10)
		tail = fmt.Sprintf("$2\r\nPX\r\n$%d\r\n%s\r\n", len(ms), ms)
	}
	set := fmt.Sprintf("*%d\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n%s", args, keyLen, key, valueSize, value, tail)
	return commandTemplates{
		get: []byte(get), set: []byte(set),
		getKey: len(get) - 2 - keyDigits,
		setKey: len(fmt.Sprintf("*%d\r\n$3\r\nSET\r\n$%d\r\n%s", args, keyLen, keyPrefix)),
	}
}

func (t *commandTemplates) appendGet(buf []byte, key uint64) []byte {
	n := len(buf)
	buf = append(buf, t.get...)
	putDigits(buf[n+t.getKey:n+t.getKey+keyDigits], key)
	return buf
}

func (t *commandTemplates) appendSet(buf []byte, key uint64) []byte {
	n := len(buf)
	buf = append(buf, t.set...)
	putDigits(buf[n+t.setKey:n+t.setKey+keyDigits], key)
	return buf
}

// keyName is the key string for index k, for go-redis callers (prefill, tests).
func keyName(k uint64) string {
	b := []byte(keyPrefix + "000000000000")
	putDigits(b[len(keyPrefix):], k)
	return string(b)
}

// putDigits writes k as zero-padded decimal into dst, two digits per
// division (it runs once per request: at pipeline 16 the one-digit loop was
// the loader's largest user-space cost).
func putDigits(dst []byte, k uint64) {
	i := len(dst)
	for ; i >= 2; i -= 2 {
		q := k / 100
		r := (k - q*100) * 2
		dst[i-2], dst[i-1] = digitPairs[r], digitPairs[r+1]
		k = q
	}
	if i == 1 {
		dst[0] = byte('0' + k%10)
	}
}

const digitPairs = "00010203040506070809" + "10111213141516171819" + "20212223242526272829" + "30313233343536373839" +
	"40414243444546474849" + "50515253545556575859" + "60616263646566676869" + "70717273747576777879" +
	"80818283848586878889" + "90919293949596979899"

// replyStatus is the outcome of parsing one reply.
type replyStatus int

const (
	replyIncomplete replyStatus = iota // need more bytes
	replyOK                            // any non-error reply
	replyError                         // "-ERR ..." (message returned)
)

// errProtocol marks bytes that are not a RESP reply to GET/SET.
var errProtocol = errors.New("protocol error")

// replyReader parses RESP replies from a connection without copying them out.
type replyReader struct {
	rd   io.Reader
	buf  []byte
	r, w int
}

func newReplyReader(rd io.Reader, size int) *replyReader {
	return &replyReader{rd: rd, buf: make([]byte, size)}
}

// fill reads more bytes, keeping unparsed ones, and returns when they arrived.
func (rr *replyReader) fill() (time.Time, error) {
	if rr.r == rr.w {
		rr.r, rr.w = 0, 0
	} else if rr.w == len(rr.buf) {
		if rr.r == 0 { // one reply larger than the buffer
			nb := make([]byte, 2*len(rr.buf))
			copy(nb, rr.buf[:rr.w])
			rr.buf = nb
		} else {
			rr.w = copy(rr.buf, rr.buf[rr.r:rr.w])
			rr.r = 0
		}
	}
	n, err := rr.rd.Read(rr.buf[rr.w:])
	now := time.Now()
	rr.w += n
	if n > 0 {
		return now, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return now, err
}

// next parses one reply. For replyError, msg aliases the buffer until the next fill.
func (rr *replyReader) next() (st replyStatus, msg []byte, err error) {
	b := rr.buf[rr.r:rr.w]
	if len(b) == 0 {
		return replyIncomplete, nil, nil
	}
	// The replies of a GET/SET load, "+OK" and a short bulk string, are
	// parsed without searching for the line end; anything else (or an
	// incomplete header) takes the general path below.
	if len(b) >= 5 && b[0] == '+' && b[1] == 'O' && b[2] == 'K' && b[3] == '\r' && b[4] == '\n' {
		rr.r += 5
		return replyOK, nil, nil
	}
	if b[0] == '$' {
		n, i := 0, 1
		for ; i < len(b) && i <= 10 && b[i] >= '0' && b[i] <= '9'; i++ {
			n = n*10 + int(b[i]-'0')
		}
		if i > 1 && i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			total := i + 2 + n + 2
			if len(b) < total {
				return replyIncomplete, nil, nil
			}
			rr.r += total
			return replyOK, nil, nil
		}
	}
	end := lineEnd(b)
	if end == -2 {
		return 0, nil, fmt.Errorf("%w: line not ended by CRLF", errProtocol)
	}
	if end < 0 {
		if len(b) > 64*1024 { // no line end within 64 KiB: not RESP
			return 0, nil, fmt.Errorf("%w: no line end in %d bytes", errProtocol, len(b))
		}
		return replyIncomplete, nil, nil
	}
	switch b[0] {
	case '+', ':', '_', ',', '#':
		rr.r += end + 2
		return replyOK, nil, nil
	case '-':
		rr.r += end + 2
		return replyError, b[1:end], nil
	case '$':
		n, ok := parseLen(b[1:end])
		if !ok {
			return 0, nil, fmt.Errorf("%w: bad bulk length %q", errProtocol, b[1:end])
		}
		if n < 0 {
			rr.r += end + 2
			return replyOK, nil, nil
		}
		total := end + 2 + n + 2
		if len(b) < total {
			return replyIncomplete, nil, nil
		}
		rr.r += total
		return replyOK, nil, nil
	default:
		return 0, nil, fmt.Errorf("%w: unexpected reply type %q", errProtocol, b[0])
	}
}

// lineEnd is the index of the "\r\n" ending b's first line, or -1.
func lineEnd(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		if i == 0 || (i > 0 && b[i-1] != '\r') {
			return -2 // a bare "\n": not RESP
		}
		return -1
	}
	return i - 1
}

func parseLen(b []byte) (int, bool) {
	if len(b) == 2 && b[0] == '-' && b[1] == '1' {
		return -1, true
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
