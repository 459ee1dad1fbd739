package dataset

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Options tune how the dataset is written and read.
type Options struct {
	// Workers is the number of connections used in parallel (default 4).
	Workers int
	// Batch is the number of keys per pipeline round trip (default 500).
	Batch int
	// MaxNames caps each list of key names in a Report (default 20); the
	// counts are always exact.
	MaxNames int
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Batch <= 0 {
		o.Batch = 500
	}
	if o.MaxNames <= 0 {
		o.MaxNames = 20
	}
	return o
}

// ConnectError is a server the dataset cannot be written to or read from
// (the CLI maps it to exit 2).
type ConnectError struct {
	Addr string
	Err  error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s: cannot talk RESP to it: %v — check the address (host:port), that the server runs, and --password", e.Addr, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Err }

// Connect opens a client for addr and checks that it answers PING.
func Connect(ctx context.Context, addr, password string, pool int) (*redis.Client, error) {
	if pool <= 0 {
		pool = 4
	}
	c := redis.NewClient(&redis.Options{
		Addr:            addr,
		Password:        password,
		Protocol:        2,
		DisableIdentity: true,
		DialTimeout:     5 * time.Second,
		ReadTimeout:     30 * time.Second,
		WriteTimeout:    30 * time.Second,
		PoolSize:        pool,
		MaxRetries:      -1,
		// Maintenance notifications need RESP3; this client speaks RESP2.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Ping(pctx).Err(); err != nil {
		c.Close()
		return nil, &ConnectError{Addr: addr, Err: err}
	}
	return c, nil
}

// WriteResult says what Write did.
type WriteResult struct {
	Keys     int
	Duration time.Duration
}

// Write (re)writes every key of the dataset: each key is deleted first, so
// lists and sets end exactly as generated whatever was there before.
func Write(ctx context.Context, c *redis.Client, s Spec, o Options) (WriteResult, error) {
	if err := s.Validate(); err != nil {
		return WriteResult{}, err
	}
	o = o.withDefaults()
	start := time.Now()
	err := forBatches(ctx, s.Keys, o, func(ctx context.Context, lo, hi int) error {
		p := c.Pipeline()
		for i := lo; i < hi; i++ {
			it := s.Item(i)
			p.Del(ctx, it.Name)
			switch it.Type {
			case String:
				p.Set(ctx, it.Name, it.Str, it.TTL)
			case Hash:
				p.HSet(ctx, it.Name, toAny(it.Fields)...)
			case List:
				p.RPush(ctx, it.Name, toAny(it.Elems)...)
			case Set:
				p.SAdd(ctx, it.Name, toAny(it.Elems)...)
			case ZSet:
				zs := make([]redis.Z, len(it.Elems))
				for k := range it.Elems {
					zs[k] = redis.Z{Score: it.Scores[k], Member: it.Elems[k]}
				}
				p.ZAdd(ctx, it.Name, zs...)
			}
			if it.TTL > 0 && it.Type != String {
				p.PExpire(ctx, it.Name, it.TTL)
			}
		}
		cmds, err := p.Exec(ctx)
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					return fmt.Errorf("writing %s: %s: %w", cmd.Args()[1], cmd.Name(), cmd.Err())
				}
			}
			return fmt.Errorf("writing keys %d–%d: %w", lo, hi-1, err)
		}
		return nil
	})
	return WriteResult{Keys: s.Keys, Duration: time.Since(start)}, err
}

// forBatches runs fn over [0,n) in batches on o.Workers goroutines and
// returns the first error (the others stop at their next batch).
func forBatches(parent context.Context, n int, o Options, fn func(ctx context.Context, lo, hi int) error) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for w := 0; w < o.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := range next {
				hi := min(lo+o.Batch, n)
				if err := fn(ctx, lo, hi); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
feed:
	for lo := 0; lo < n; lo += o.Batch {
		select {
		case next <- lo:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && parent.Err() != nil {
		// Cancelled (Ctrl-C, deadline): the work is partial, so not a success.
		firstErr = fmt.Errorf("interrupted: %w", parent.Err())
	}
	return firstErr
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
