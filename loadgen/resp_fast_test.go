package loadgen

import "testing"

// The parser's shortcut for "+OK" and bulk strings treats every edge of
// their headers as the general RESP path does: one reply consumed whole,
// an incomplete one waited for, a malformed header rejected.
func TestReplyShortcutsAgreeWithTheGeneralParser(t *testing.T) {
	for _, c := range []struct {
		in       string
		st       replyStatus
		consumed int
		bad      bool
	}{
		{"+OK\r\n+OK\r\n", replyOK, 5, false},
		{"+OKAY\r\n", replyOK, 7, false},
		{"+OK\r", replyIncomplete, 0, false},
		{"$3\r\nabc\r\n+OK\r\n", replyOK, 9, false},
		{"$0\r\n\r\n", replyOK, 6, false},
		{"$10\r\n0123456789\r\n", replyOK, 17, false},
		{"$3\r\nab", replyIncomplete, 0, false},
		{"$3\r", replyIncomplete, 0, false},
		{"$3", replyIncomplete, 0, false},
		{"$-1\r\n", replyOK, 5, false},
		{"$3\nabc\r\n", 0, 0, true},          // bare LF
		{"$3x\r\nabc\r\n", 0, 0, true},       // not a length
		{"$\r\n", 0, 0, true},                // no digits
		{"$12345678901\r\n", 0, 0, true},     // longer than any length RESP allows here
		{"-ERR x\r\n", replyError, 8, false}, // errors stay on the general path
		{"*1\r\n$1\r\na\r\n", 0, 0, true},    // arrays are no reply to GET/SET
	} {
		rr := &replyReader{buf: []byte(c.in), w: len(c.in)}
		st, _, err := rr.next()
		if c.bad {
			if err == nil {
				t.Errorf("%q: parsed as status %d, want a protocol error", c.in, st)
			}
			continue
		}
		if err != nil || st != c.st || rr.r != c.consumed {
			t.Errorf("%q: status %d, consumed %d, err %v; want status %d, consumed %d", c.in, st, rr.r, err, c.st, c.consumed)
		}
	}
}
