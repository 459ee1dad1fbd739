package loadgen

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Key distributions.
const (
	DistUniform    = "uniform"
	DistZipf       = "zipf"
	DistSequential = "sequential"
)

// MaxKeyspace bounds the keyspace: keys are "key:" + 12 decimal digits, the
// same shape redis-benchmark -r uses, so both tools send equal-sized keys.
const MaxKeyspace = 1_000_000_000_000

// MaxValueSize bounds one SET value (1 MiB keeps the reply reader's buffer small).
const MaxValueSize = 1 << 20

// WithDefaults returns w with the documented zero-value defaults filled in.
// Pipeline is deliberately not defaulted: 0 is an error, not "1".
func (w Workload) WithDefaults() Workload {
	if w.Connections == 0 {
		w.Connections = 50
	}
	if w.GetRatio == 0 && w.SetRatio == 0 {
		w.GetRatio, w.SetRatio = 1, 1
	}
	if w.Keyspace == 0 {
		w.Keyspace = 100000
	}
	if w.KeyDist == "" {
		w.KeyDist = DistUniform
	}
	if w.ValueSize == 0 {
		w.ValueSize = 64
	}
	if w.Seed == 0 {
		w.Seed = 1
	}
	return w
}

// Validate rejects impossible or contradictory workloads with an error that
// says what to change. Call it on the result of WithDefaults.
func (w Workload) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if w.Connections < 1 {
		bad("connections must be ≥ 1, got %d", w.Connections)
	}
	if w.Pipeline < 1 {
		bad("pipeline must be ≥ 1 (requests in flight per connection), got %d", w.Pipeline)
	}
	if w.GetRatio < 0 || w.SetRatio < 0 {
		bad("GET:SET ratio parts must be ≥ 0, got %d:%d", w.GetRatio, w.SetRatio)
	} else if w.GetRatio == 0 && w.SetRatio == 0 {
		bad("GET:SET ratio 0:0 sends nothing; use e.g. 1:1, 9:1 or 0:1")
	}
	if w.Keyspace < 1 || w.Keyspace > MaxKeyspace {
		bad("keyspace must be in 1..%d, got %d", int64(MaxKeyspace), w.Keyspace)
	}
	switch w.KeyDist {
	case DistUniform, DistZipf, DistSequential:
	default:
		bad("key distribution %q is unknown; use uniform, zipf or sequential", w.KeyDist)
	}
	if w.ValueSize < 1 || w.ValueSize > MaxValueSize {
		bad("value size must be in 1..%d bytes, got %d", MaxValueSize, w.ValueSize)
	}
	if w.TTL < 0 {
		bad("ttl must be ≥ 0, got %s", w.TTL)
	} else if w.TTL > 0 && w.TTL < time.Millisecond {
		bad("ttl must be 0 (none) or ≥ 1ms, got %s", w.TTL)
	}
	if w.Warmup < 0 {
		bad("warmup must be ≥ 0, got %s", w.Warmup)
	}
	switch {
	case w.Duration > 0 && w.Requests > 0:
		bad("duration and requests are exclusive: give one (--duration 30s or --requests 1000000)")
	case w.Duration <= 0 && w.Requests <= 0:
		bad("give a positive duration or a positive request count")
	}
	if w.Duration < 0 || w.Requests < 0 {
		bad("duration and requests must not be negative")
	}
	if w.Rate < 0 {
		bad("rate must be ≥ 0 requests/s (0 means closed loop), got %g", w.Rate)
	}
	return errors.Join(errs...)
}

// OpenLoop reports whether the workload paces requests at a target rate.
func (w Workload) OpenLoop() bool { return w.Rate > 0 }

// ParseRatio parses "GET:SET" such as "1:1", "9:1" or "0:1".
func ParseRatio(s string) (get, set int, err error) {
	g, st, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return 0, 0, fmt.Errorf("ratio %q is not GET:SET (e.g. 1:1 or 9:1)", s)
	}
	get, err1 := strconv.Atoi(g)
	set, err2 := strconv.Atoi(st)
	if err1 != nil || err2 != nil || get < 0 || set < 0 {
		return 0, 0, fmt.Errorf("ratio %q is not GET:SET with non-negative integers (e.g. 1:1 or 9:1)", s)
	}
	if get == 0 && set == 0 {
		return 0, 0, fmt.Errorf("ratio 0:0 sends nothing; use e.g. 1:1, 9:1 or 0:1")
	}
	return get, set, nil
}
