// Package failover measures what a failover costs a client: a writer that
// keeps writing numbered keys through whatever address the Service resolves
// to and logs every acknowledged write, RTO (time from the kill until writes
// succeed again) and RPO (acknowledged writes the new master does not have,
// counted exactly from the log, and judged against the loss the data plane
// promises: see Judge).
package failover

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// KeyPrefix namespaces the writer's keys (outside the dataset's prefix).
const KeyPrefix = "dfe2e:wl:"

// Key is the key of write number seq.
func Key(seq uint64) string { return KeyPrefix + strconv.FormatUint(seq, 10) }

// Resolver returns the address writes should go to now: the Service's
// current endpoint (through a port-forward), or a fixed address in tests.
type Resolver func(ctx context.Context) (addr string, err error)

// Writer writes SET dfe2e:wl:<seq> <seq>, one at a time, each seq once.
type Writer struct {
	Resolve Resolver
	// Interval between writes (default 5ms): a steady, countable load.
	Interval time.Duration
	// OpTimeout bounds one write, dial included (default 1s), so a dead
	// master costs a bounded time per attempt, never a hang.
	OpTimeout time.Duration
	Password  string
}

// Attempt is one write and its outcome.
type Attempt struct {
	Seq uint64
	// Sent is when the command was handed to the client (before any dial),
	// never later than the master could have applied it; At is when the
	// reply (or error) came back, never earlier than the master applied it.
	// The loss judgement reads both (see Judge).
	Sent time.Time
	At   time.Time
	Addr string
	Err  string // "" when acknowledged
}

// Log is the writer's record. Safe for concurrent reads while Run writes.
type Log struct {
	mu       sync.Mutex
	attempts []Attempt
}

func (l *Log) add(a Attempt) {
	l.mu.Lock()
	l.attempts = append(l.attempts, a)
	l.mu.Unlock()
}

// Attempts returns a copy of every attempt so far, in order.
func (l *Log) Attempts() []Attempt {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Attempt(nil), l.attempts...)
}

// Acked returns the acknowledged sequence numbers.
func (l *Log) Acked() []uint64 {
	var out []uint64
	for _, a := range l.Attempts() {
		if a.Err == "" {
			out = append(out, a.Seq)
		}
	}
	return out
}

// FirstAckAfter is the first acknowledged attempt at or after t from an
// address other than exclude (the dead master, which may still answer for a
// moment after its pod is deleted).
func (l *Log) FirstAckAfter(t time.Time, exclude string) (Attempt, bool) {
	for _, a := range l.Attempts() {
		if a.Err == "" && !a.At.Before(t) && (exclude == "" || a.Addr != exclude) {
			return a, true
		}
	}
	return Attempt{}, false
}

// LastFailure is the most recent failed attempt (ok false when none failed).
func (l *Log) LastFailure() (Attempt, bool) {
	as := l.Attempts()
	for i := len(as) - 1; i >= 0; i-- {
		if as[i].Err != "" {
			return as[i], true
		}
	}
	return Attempt{}, false
}

// Start writes until ctx ends; the log fills while it runs, and done closes
// when the writer has stopped.
func (w *Writer) Start(ctx context.Context) (*Log, <-chan struct{}) {
	if w.Interval <= 0 {
		w.Interval = 5 * time.Millisecond
	}
	if w.OpTimeout <= 0 {
		w.OpTimeout = time.Second
	}
	log := &Log{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx, log)
	}()
	return log, done
}

func (w *Writer) run(ctx context.Context, log *Log) {
	var (
		c    *redis.Client
		addr string
	)
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	tick := time.NewTicker(w.Interval)
	defer tick.Stop()
	for seq := uint64(1); ; seq++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		sent := time.Now()
		if c == nil {
			rctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
			a, err := w.Resolve(rctx)
			cancel()
			if err != nil {
				log.add(Attempt{Seq: seq, Sent: sent, At: time.Now(), Err: "resolving the target: " + err.Error()})
				continue
			}
			addr = a
			c = w.client(addr)
		}
		octx, cancel := context.WithTimeout(ctx, w.OpTimeout)
		sent = time.Now()
		err := c.Set(octx, Key(seq), strconv.FormatUint(seq, 10), 0).Err()
		// Stamped when the reply has arrived: an acknowledgement exists
		// only from then on.
		at := time.Now()
		cancel()
		if ctx.Err() != nil && err != nil {
			return // stopped mid-write: neither acked nor a failure of the target
		}
		if err != nil {
			log.add(Attempt{Seq: seq, Sent: sent, At: at, Addr: addr, Err: err.Error()})
			// Re-resolve on the next write: the Service may have moved.
			c.Close()
			c = nil
			continue
		}
		log.add(Attempt{Seq: seq, Sent: sent, At: at, Addr: addr})
	}
}

func (w *Writer) client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr: addr, Password: w.Password, Protocol: 2, DisableIdentity: true,
		DialTimeout: w.OpTimeout, ReadTimeout: w.OpTimeout, WriteTimeout: w.OpTimeout,
		PoolSize: 1, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

// RPO is the data a failover lost, counted from the writer's log.
type RPO struct {
	Acked int // acknowledged writes before the check
	Lost  int // acknowledged, but absent (or wrong) on the new master
	// LostSeqs are the first lost sequence numbers (capped at 20).
	LostSeqs []uint64
	// Unacked counts failed attempts; UnackedPresent those the new master
	// has anyway (applied but not acknowledged: not data loss).
	Unacked, UnackedPresent int
	// Writes is every logged attempt, in order, with whether the new master
	// holds it: what Judge reads.
	Writes []Write
}

// Judge judges r's writes against the kill under bound b (see Judge).
func (r RPO) Judge(k Kill, b Bound) Verdict { return Judge(r.Writes, k, b) }

func (r RPO) String() string {
	s := fmt.Sprintf("%d of %d acknowledged writes lost", r.Lost, r.Acked)
	if len(r.LostSeqs) > 0 {
		s += fmt.Sprintf(" (first: %v)", r.LostSeqs)
	}
	return s + fmt.Sprintf("; %d unacknowledged attempts, %d of them applied anyway", r.Unacked, r.UnackedPresent)
}

// CountRPO reads every logged key from the new master and counts the
// acknowledged writes it lacks. Exact: one GET per logged write, pipelined.
func CountRPO(ctx context.Context, master *redis.Client, log *Log) (RPO, error) {
	as := log.Attempts()
	var r RPO
	const batch = 1000
	for lo := 0; lo < len(as); lo += batch {
		hi := min(lo+batch, len(as))
		p := master.Pipeline()
		cmds := make([]*redis.StringCmd, hi-lo)
		for i := lo; i < hi; i++ {
			cmds[i-lo] = p.Get(ctx, Key(as[i].Seq))
		}
		if _, err := p.Exec(ctx); err != nil && err != redis.Nil {
			return r, fmt.Errorf("reading the writer's keys from the new master: %w", err)
		}
		for i := lo; i < hi; i++ {
			a, cmd := as[i], cmds[i-lo]
			present := cmd.Err() == nil && cmd.Val() == strconv.FormatUint(a.Seq, 10)
			if cmd.Err() != nil && cmd.Err() != redis.Nil {
				return r, fmt.Errorf("reading %s: %w", Key(a.Seq), cmd.Err())
			}
			r.Writes = append(r.Writes, Write{Attempt: a, Held: present})
			if a.Err == "" {
				r.Acked++
				if !present {
					r.Lost++
					if len(r.LostSeqs) < 20 {
						r.LostSeqs = append(r.LostSeqs, a.Seq)
					}
				}
			} else {
				r.Unacked++
				if present {
					r.UnackedPresent++
				}
			}
		}
	}
	sort.Slice(r.LostSeqs, func(i, j int) bool { return r.LostSeqs[i] < r.LostSeqs[j] })
	return r, nil
}
