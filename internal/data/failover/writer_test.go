package failover

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// slowServer answers every command with +OK after delay, so a reply
// arrives measurably after its command was sent.
func slowServer(t *testing.T, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					// A command is *N, then N bulk strings ($len, data).
					head, err := r.ReadString('\n')
					if err != nil {
						return
					}
					n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "*")))
					var args []string
					for i := 0; i < 2*n; i++ {
						l, err := r.ReadString('\n')
						if err != nil {
							return
						}
						if i%2 == 1 {
							args = append(args, strings.TrimSpace(l))
						}
					}
					reply := "+OK\r\n"
					if len(args) == 0 || !strings.EqualFold(args[0], "SET") {
						reply = "-ERR unknown command\r\n" // the client's handshake (HELLO)
					} else {
						time.Sleep(delay) // the server's latency under test, not a wait
					}
					if _, err := c.Write([]byte(reply)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// The ack time is the reply's arrival and the send time precedes it by the
// server's latency: the loss judgement relies on both (see Judge). A writer
// stamping acks when the command is sent fails here.
func TestWriterStampsSendAndReply(t *testing.T) {
	const delay = 40 * time.Millisecond
	addr := slowServer(t, delay)
	ctx, stop := context.WithCancel(context.Background())
	log, done := (&Writer{Resolve: func(context.Context) (string, error) { return addr, nil }}).Start(ctx)
	waitAcks(t, log, 5)
	stop()
	<-done
	for _, a := range log.Attempts() {
		if a.Err != "" {
			continue
		}
		if a.Sent.IsZero() || a.At.Sub(a.Sent) < delay {
			t.Fatalf("write %d sent %s, acked %s later; want the ack stamped at the reply, ≥ %s after the send",
				a.Seq, a.Sent.Format(time.StampMicro), a.At.Sub(a.Sent), delay)
		}
	}
}
