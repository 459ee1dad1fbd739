package loadgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
	"time"
)

func TestCommandTemplatesEncodeRESP(t *testing.T) {
	tpl := newCommandTemplates(5, 0)
	got := string(tpl.appendGet(nil, 42))
	if want := "*2\r\n$3\r\nGET\r\n$16\r\nkey:000000000042\r\n"; got != want {
		t.Errorf("GET = %q, want %q", got, want)
	}
	got = string(tpl.appendSet(nil, 999999999999))
	if want := "*3\r\n$3\r\nSET\r\n$16\r\nkey:999999999999\r\n$5\r\nxxxxx\r\n"; got != want {
		t.Errorf("SET = %q, want %q", got, want)
	}
	ttl := newCommandTemplates(2, 1500*time.Millisecond)
	got = string(ttl.appendSet([]byte("prefix"), 7))
	if want := "prefix*5\r\n$3\r\nSET\r\n$16\r\nkey:000000000007\r\n$2\r\nxx\r\n$2\r\nPX\r\n$4\r\n1500\r\n"; got != want {
		t.Errorf("SET with TTL = %q, want %q", got, want)
	}
	if keyName(3) != "key:000000000003" {
		t.Errorf("keyName(3) = %q", keyName(3))
	}
}

func TestEncodingDoesNotAllocate(t *testing.T) {
	tpl := newCommandTemplates(64, time.Second)
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		buf = tpl.appendSet(tpl.appendGet(buf[:0], 1), 2)
	})
	if allocs != 0 {
		t.Errorf("encoding allocates %.0f times per call", allocs)
	}
}

// readAll parses every reply from in, fed one byte per Read to exercise splits.
func readAll(t *testing.T, in string, size int) (ok, errs int, msgs []string, err error) {
	t.Helper()
	rr := newReplyReader(iotest.OneByteReader(bytes.NewReader([]byte(in))), size)
	for {
		st, msg, perr := rr.next()
		switch {
		case perr != nil:
			return ok, errs, msgs, perr
		case st == replyIncomplete:
			if _, ferr := rr.fill(); ferr != nil {
				if errors.Is(ferr, io.EOF) {
					return ok, errs, msgs, nil
				}
				return ok, errs, msgs, ferr
			}
		case st == replyError:
			errs++
			msgs = append(msgs, string(msg))
		default:
			ok++
		}
	}
}

func TestReplyReaderParsesSplitReplies(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 100)
	in := "+OK\r\n$-1\r\n$3\r\nabc\r\n:12\r\n-ERR wrong type\r\n$100\r\n" + string(big) + "\r\n_\r\n"
	ok, errs, msgs, err := readAll(t, in, 16) // smaller than the 100-byte bulk: the buffer must grow
	if err != nil || ok != 6 || errs != 1 || msgs[0] != "ERR wrong type" {
		t.Fatalf("ok=%d errs=%d msgs=%q err=%v; want 6 ok, 1 error \"ERR wrong type\"", ok, errs, msgs, err)
	}
	if k := serverErrorKind([]byte("OOM command not allowed")); k != "server_error:OOM" {
		t.Errorf("error kind %q", k)
	}
}

func TestReplyReaderRejectsNonRESP(t *testing.T) {
	for _, in := range []string{"HTTP/1.1 200 OK\r\n", "hello\n", "$abc\r\n"} {
		if _, _, _, err := readAll(t, in, 64); !errors.Is(err, errProtocol) {
			t.Errorf("%q: err = %v, want a protocol error", in, err)
		}
	}
}

func TestKeyChoiceIsDeterministicAndInRange(t *testing.T) {
	w := Workload{Connections: 4, Keyspace: 1000, Seed: 9}
	for _, dist := range []string{DistUniform, DistZipf, DistSequential} {
		w.KeyDist = dist
		a, b := newKeyChooser(w, 1), newKeyChooser(w, 1)
		seen := map[uint64]int{}
		for i := 0; i < 10000; i++ {
			ka, kb := a.key(), b.key()
			if ka != kb {
				t.Fatalf("%s: same seed gave keys %d and %d", dist, ka, kb)
			}
			if ka >= 1000 {
				t.Fatalf("%s: key %d outside keyspace 1000", dist, ka)
			}
			seen[ka]++
		}
		switch dist {
		case DistSequential:
			if len(seen) != 1000 || seen[250] != 10 {
				t.Errorf("sequential: %d distinct keys, key 250 seen %d times; want all 1000, 10 each", len(seen), seen[250])
			}
		case DistUniform:
			if len(seen) < 990 {
				t.Errorf("uniform: only %d distinct keys of 1000 in 10000 draws", len(seen))
			}
		case DistZipf:
			if seen[0] < 1000 || len(seen) > 900 {
				t.Errorf("zipf: hottest key drawn %d times, %d distinct keys; want a skew", seen[0], len(seen))
			}
		}
	}
	if c := newKeyChooser(Workload{Connections: 4, Keyspace: 1000, KeyDist: DistUniform, Seed: 10}, 1); c.key() == newKeyChooser(w, 1).key() && c.key() == c.key() {
		t.Log("different seeds happened to agree on a key; not an error by itself")
	}
}

// putDigits matches zero-padded strconv for every width and across the
// carries between digit pairs.
func TestPutDigitsMatchesStrconv(t *testing.T) {
	vals := []uint64{0, 1, 9, 10, 99, 100, 101, 999, 1000, 123456789012, 999999999999, 100000000000}
	for v := uint64(1); v < 1e12; v = v*7 + 3 {
		vals = append(vals, v)
	}
	for _, width := range []int{1, 2, 3, 12} {
		for _, v := range vals {
			want := fmt.Sprintf("%0*d", width, v)
			if len(want) > width {
				want = want[len(want)-width:] // the low digits, as the key format keeps
			}
			dst := make([]byte, width)
			putDigits(dst, v)
			if string(dst) != want {
				t.Fatalf("putDigits(width %d, %d) = %q, want %q", width, v, dst, want)
			}
		}
	}
}
