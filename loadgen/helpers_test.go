package loadgen

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/redisserver"
	"github.com/redis/go-redis/v9"
)

// startRedis starts a real redis-server on a free loopback port for one test.
func startRedis(t *testing.T, password string) *redisserver.Server {
	t.Helper()
	s, err := redisserver.Start(context.Background(), redisserver.Options{Password: password})
	if err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func client(t *testing.T, addr, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// commandCalls reads cmdstat_<cmd> calls from INFO commandstats.
func commandCalls(t *testing.T, c *redis.Client, cmd string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatalf("INFO commandstats: %v", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+cmd+":calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n
		}
	}
	return 0
}

// delayProxy forwards loopback TCP to upstream, holding every chunk from the
// server back by delay (the client's requests pass straight through).
type delayProxy struct {
	ln    net.Listener
	delay time.Duration
	wg    sync.WaitGroup
}

func startDelayProxy(t *testing.T, upstream string, delay time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, delay: delay}
	p.wg.Add(1)
	go p.accept(upstream)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return ln.Addr().String()
}

func (p *delayProxy) accept(upstream string) {
	defer p.wg.Done()
	for {
		down, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			down.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(up, down); up.Close() }()
		go func() { defer p.wg.Done(); p.delayed(down, up); down.Close() }()
	}
}

type chunk struct {
	at   time.Time
	data []byte
}

// delayed copies src to dst, each chunk no earlier than delay after it was read.
func (p *delayProxy) delayed(dst, src net.Conn) {
	q := make(chan chunk, 1024)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32*1024)
			n, err := src.Read(buf)
			if n > 0 {
				q <- chunk{time.Now(), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range q {
		if d := time.Until(c.at.Add(p.delay)); d > 0 {
			time.Sleep(d) // the proxy's whole purpose is this delay
		}
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
}
