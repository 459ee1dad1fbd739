package loadgen

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Target is the server a run loads: an address (loopback, or a port-forward
// the harness opened) plus credentials and optional TLS.
type Target struct {
	Addr     string
	Username string // ACL user; empty for plain AUTH <password>
	Password string
	TLS      *tls.Config // nil: plaintext
	// DialTimeout bounds connecting and the setup handshake (default 5s).
	DialTimeout time.Duration
	// ReplyTimeout bounds the wait for a batch's replies before they count
	// as "timeout" errors and the connection is re-established (default 10s).
	ReplyTimeout time.Duration
}

func (t Target) withDefaults() Target {
	if t.DialTimeout == 0 {
		t.DialTimeout = 5 * time.Second
	}
	if t.ReplyTimeout == 0 {
		t.ReplyTimeout = 10 * time.Second
	}
	return t
}

// SetupError is a target that cannot be loaded: unreachable, not speaking
// RESP, or refusing the credentials. The CLI maps it to exit 2.
type SetupError struct {
	Kind string // "unreachable", "not-resp", "auth", "prefill"
	Addr string
	Err  error
	Hint string
}

func (e *SetupError) Error() string {
	msg := fmt.Sprintf("%s: %s: %v", e.Addr, e.Kind, e.Err)
	if e.Hint != "" {
		msg += " — " + e.Hint
	}
	return msg
}
func (e *SetupError) Unwrap() error { return e.Err }

// redisOptions are go-redis options for one handshake or correctness client.
// RESP2 keeps replies in the shape the hot-path reader expects; maintenance
// notifications (RESP3 only) are off for the same reason.
func (t Target) redisOptions(pool int) *redis.Options {
	return &redis.Options{
		Addr:                     t.Addr,
		Username:                 t.Username,
		Password:                 t.Password,
		TLSConfig:                t.TLS,
		Protocol:                 2,
		DisableIdentity:          true,
		DialTimeout:              t.DialTimeout,
		ReadTimeout:              t.DialTimeout,
		WriteTimeout:             t.DialTimeout,
		PoolSize:                 pool,
		MaxRetries:               -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// classify turns a go-redis setup error into a SetupError that says what to do.
func (t Target) classify(err error) error {
	var se *SetupError
	if errors.As(err, &se) {
		return err
	}
	msg := err.Error()
	var opErr *net.OpError
	switch {
	case strings.Contains(msg, "WRONGPASS") || strings.Contains(msg, "invalid password") ||
		strings.Contains(msg, "invalid username-password") || strings.Contains(msg, "failed to authenticate"):
		return &SetupError{Kind: "auth", Addr: t.Addr, Err: err, Hint: "the server rejected the credentials; check --password (and --user)"}
	case strings.Contains(msg, "NOAUTH"):
		return &SetupError{Kind: "auth", Addr: t.Addr, Err: err, Hint: "the server requires a password; pass --password"}
	case strings.Contains(msg, "AUTH") && strings.Contains(msg, "without any password configured"):
		return &SetupError{Kind: "auth", Addr: t.Addr, Err: err, Hint: "the server has no password; drop --password"}
	case errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "connect"):
		return &SetupError{Kind: "unreachable", Addr: t.Addr, Err: err, Hint: "is the server running and the address (or port-forward) right?"}
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return &SetupError{Kind: "not-resp", Addr: t.Addr, Err: err, Hint: "connected, but no RESP reply to PING in time; is this a Redis/Dragonfly port?"}
	default:
		return &SetupError{Kind: "not-resp", Addr: t.Addr, Err: err, Hint: "the server did not answer PING in RESP; is this a Redis/Dragonfly port?"}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Check connects with go-redis, authenticates, PINGs and reads INFO server.
// It returns the server identification ("redis_version:7.0.15",
// "dragonfly_version:df-v1.x") and whether the server is Dragonfly.
func (t Target) Check(ctx context.Context) (info string, dragonfly bool, err error) {
	t = t.withDefaults()
	c := redis.NewClient(t.redisOptions(1))
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, t.DialTimeout)
	defer cancel()
	pong, err := c.Ping(ctx).Result()
	if err != nil {
		return "", false, t.classify(err)
	}
	if pong != "PONG" {
		return "", false, &SetupError{Kind: "not-resp", Addr: t.Addr, Err: fmt.Errorf("PING answered %q", pong)}
	}
	raw, err := c.Info(ctx, "server").Result()
	if err != nil {
		return "", false, t.classify(err)
	}
	var version string
	for _, line := range strings.Split(raw, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "dragonfly_version:"):
			return line, true, nil
		case strings.HasPrefix(line, "redis_version:"):
			version = line
		}
	}
	return version, false, nil
}

// dialHandshaken opens one hot-path connection: go-redis dials it (TLS
// included), authenticates and PINGs; the loader then owns the raw socket.
// The returned closer releases the go-redis client after the socket.
func (t Target) dialHandshaken(ctx context.Context) (net.Conn, func(), error) {
	opts := t.redisOptions(1)
	dial := redis.NewDialer(opts)
	var mu sync.Mutex
	var conn net.Conn
	opts.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		mu.Lock()
		conn = c
		mu.Unlock()
		return c, err
	}
	client := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, t.DialTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		return nil, nil, t.classify(err)
	}
	mu.Lock()
	c := conn
	mu.Unlock()
	if c == nil {
		client.Close()
		return nil, nil, &SetupError{Kind: "unreachable", Addr: t.Addr, Err: errors.New("go-redis handshake did not dial")}
	}
	// go-redis leaves its per-command deadline on the socket.
	_ = c.SetDeadline(time.Time{})
	return c, func() { c.Close(); client.Close() }, nil
}

// Prefill writes every key of the keyspace once (value of the workload's size
// and TTL) through go-redis pipelines, so GETs hit from the first request.
func (t Target) Prefill(ctx context.Context, w Workload) error {
	t = t.withDefaults()
	const workers, batch = 8, 1000
	c := redis.NewClient(t.redisOptions(workers))
	defer c.Close()
	value := strings.Repeat("x", w.ValueSize)
	next := make(chan uint64)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := range next {
				end := min(start+batch, uint64(w.Keyspace))
				p := c.Pipeline()
				for k := start; k < end; k++ {
					p.Set(ctx, keyName(k), value, w.TTL)
				}
				if _, err := p.Exec(ctx); err != nil {
					errc <- fmt.Errorf("prefill keys %d..%d: %w", start, end-1, err)
					return
				}
			}
		}()
	}
	var err error
feed:
	for s := uint64(0); s < uint64(w.Keyspace); s += batch {
		select {
		case next <- s:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}
