package dataset

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Change is one key whose content is not what was written.
type Change struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// Report is the outcome of Verify. Counts are exact; the name lists are
// capped at Options.MaxNames (sorted, so two runs name the same keys).
type Report struct {
	Keys         int           `json:"keys"`
	Seed         int64         `json:"seed"`
	Intact       int           `json:"intact"`
	MissingCount int           `json:"missingCount"`
	Missing      []string      `json:"missing,omitempty"`
	ChangedCount int           `json:"changedCount"`
	Changed      []Change      `json:"changed,omitempty"`
	ExtraCount   int           `json:"extraCount"`
	Extra        []string      `json:"extra,omitempty"`
	Duration     time.Duration `json:"durationNs"`
}

// Lost is the number of written keys that are not intact (missing or changed).
func (r *Report) Lost() int { return r.MissingCount + r.ChangedCount }

// Clean reports whether every key is intact and nothing extra is there.
func (r *Report) Clean() bool { return r.Lost() == 0 && r.ExtraCount == 0 }

// String is a summary naming the affected keys (capped lists), e.g.
// "100000 keys: 99999 intact, 1 missing [dfe2e:ds:str:00000007], 0 changed, 0 extra".
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d keys (seed %d): %d intact, %d missing", r.Keys, r.Seed, r.Intact, r.MissingCount)
	names(&b, r.Missing, r.MissingCount)
	fmt.Fprintf(&b, ", %d changed", r.ChangedCount)
	if len(r.Changed) > 0 {
		cs := make([]string, len(r.Changed))
		for i, c := range r.Changed {
			cs[i] = c.Key + " (" + c.Reason + ")"
		}
		names(&b, cs, r.ChangedCount)
	}
	fmt.Fprintf(&b, ", %d extra", r.ExtraCount)
	names(&b, r.Extra, r.ExtraCount)
	return b.String()
}

func names(b *strings.Builder, shown []string, total int) {
	if len(shown) == 0 {
		return
	}
	b.WriteString(" [" + strings.Join(shown, ", "))
	if total > len(shown) {
		fmt.Fprintf(b, ", … %d more", total-len(shown))
	}
	b.WriteString("]")
}

// Err is nil for a clean report, else an error carrying the summary.
func (r *Report) Err() error {
	if r.Clean() {
		return nil
	}
	return &LossError{Report: r}
}

// LossError is a dataset that did not verify.
type LossError struct{ Report *Report }

func (e *LossError) Error() string { return "dataset did not verify: " + e.Report.String() }

// collector gathers results from the workers; lists are capped at the end.
type collector struct {
	mu      sync.Mutex
	intact  int
	missing []string
	changed []Change
}

// Verify reads every key of the dataset back and compares type, content
// checksum and expiry; then scans the dataset's prefix for keys it never
// wrote. A read error is returned as an error, not counted as loss.
func Verify(ctx context.Context, c *redis.Client, s Spec, o Options) (*Report, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	start := time.Now()
	col := &collector{}
	err := forBatches(ctx, s.Keys, o, func(ctx context.Context, lo, hi int) error {
		return verifyBatch(ctx, c, s, lo, hi, col)
	})
	if err != nil {
		return nil, err
	}
	extra, err := scanExtra(ctx, c, s)
	if err != nil {
		return nil, err
	}
	sort.Strings(col.missing)
	sort.Slice(col.changed, func(i, j int) bool { return col.changed[i].Key < col.changed[j].Key })
	sort.Strings(extra)
	r := &Report{
		Keys: s.Keys, Seed: s.Seed, Intact: col.intact,
		MissingCount: len(col.missing), Missing: capped(col.missing, o.MaxNames),
		ChangedCount: len(col.changed), Changed: col.changed[:min(len(col.changed), o.MaxNames)],
		ExtraCount: len(extra), Extra: capped(extra, o.MaxNames),
		Duration: time.Since(start),
	}
	return r, nil
}

func capped(s []string, n int) []string { return s[:min(len(s), n)] }

func verifyBatch(ctx context.Context, c *redis.Client, s Spec, lo, hi int, col *collector) error {
	items := make([]Item, 0, hi-lo)
	reads := make([]redis.Cmder, 0, hi-lo)
	ttls := make([]*redis.DurationCmd, 0, hi-lo)
	p := c.Pipeline()
	for i := lo; i < hi; i++ {
		it := s.Item(i)
		items = append(items, it)
		switch it.Type {
		case String:
			reads = append(reads, p.Get(ctx, it.Name))
		case Hash:
			reads = append(reads, p.HGetAll(ctx, it.Name))
		case List:
			reads = append(reads, p.LRange(ctx, it.Name, 0, -1))
		case Set:
			reads = append(reads, p.SMembers(ctx, it.Name))
		case ZSet:
			reads = append(reads, p.ZRangeWithScores(ctx, it.Name, 0, -1))
		}
		ttls = append(ttls, p.PTTL(ctx, it.Name))
	}
	// Per-command errors (redis.Nil, WRONGTYPE) are judged below; only a
	// transport error fails the batch.
	if _, err := p.Exec(ctx); err != nil && !isReplyError(err) {
		return fmt.Errorf("reading keys %s … %s: %w", items[0].Name, items[len(items)-1].Name, err)
	}
	var missing []string
	var changed []Change
	intact := 0
	for k, it := range items {
		reason, gone, err := judge(it, reads[k], ttls[k])
		if err != nil {
			return fmt.Errorf("reading %s: %w", it.Name, err)
		}
		switch {
		case gone:
			missing = append(missing, it.Name)
		case reason != "":
			changed = append(changed, Change{Key: it.Name, Reason: reason})
		default:
			intact++
		}
	}
	col.mu.Lock()
	col.intact += intact
	col.missing = append(col.missing, missing...)
	col.changed = append(col.changed, changed...)
	col.mu.Unlock()
	return nil
}

// isReplyError is true for errors that are replies of the server (redis.Nil,
// WRONGTYPE …), which Exec returns as the first failed command's error.
func isReplyError(err error) bool {
	if errors.Is(err, redis.Nil) {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

// judge compares one key: gone when it does not exist, else a reason when
// its type, content or expiry differ ("" when intact).
func judge(it Item, read redis.Cmder, ttl *redis.DurationCmd) (reason string, gone bool, err error) {
	if e := read.Err(); e != nil && !errors.Is(e, redis.Nil) {
		if strings.HasPrefix(e.Error(), "WRONGTYPE") {
			return "holds another type, want " + string(it.Type), false, nil
		}
		if isReplyError(e) {
			return "", false, e
		}
		return "", false, e
	}
	var sum uint64
	empty := false
	switch cmd := read.(type) {
	case *redis.StringCmd:
		empty = errors.Is(cmd.Err(), redis.Nil)
		sum = checksum(String, cmd.Val(), nil, nil, nil)
	case *redis.MapStringStringCmd:
		m := cmd.Val()
		empty = len(m) == 0
		fs := make([]string, 0, 2*len(m))
		for f, v := range m {
			fs = append(fs, f, v)
		}
		sum = checksum(Hash, "", fs, nil, nil)
	case *redis.StringSliceCmd:
		empty = len(cmd.Val()) == 0
		sum = checksum(it.Type, "", nil, cmd.Val(), nil)
	case *redis.ZSliceCmd:
		zs := cmd.Val()
		empty = len(zs) == 0
		ms := make([]string, len(zs))
		sc := make([]float64, len(zs))
		for i, z := range zs {
			ms[i], sc[i] = fmt.Sprint(z.Member), z.Score
		}
		sum = checksum(ZSet, "", nil, ms, sc)
	}
	if empty {
		// Redis and Dragonfly delete empty collections, so an empty read is
		// a key that does not exist.
		return "", true, nil
	}
	if want := it.Checksum(); sum != want {
		return fmt.Sprintf("content checksum %016x, want %016x", sum, want), false, nil
	}
	if err := ttl.Err(); err != nil {
		return "", false, err
	}
	d := ttl.Val() // -1: no expiry (go-redis keeps the raw -1/-2 for PTTL)
	switch {
	case it.TTL == 0 && d > 0:
		return fmt.Sprintf("expires in %s, was written without a TTL", d.Round(time.Second)), false, nil
	case it.TTL > 0 && d <= 0:
		return fmt.Sprintf("lost its TTL (written with %s)", it.TTL), false, nil
	case it.TTL > 0 && d > it.TTL:
		return fmt.Sprintf("TTL %s is longer than the %s written", d.Round(time.Second), it.TTL), false, nil
	}
	return "", false, nil
}

// scanExtra lists keys under the dataset's prefix that it does not contain.
func scanExtra(ctx context.Context, c *redis.Client, s Spec) ([]string, error) {
	var extra []string
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, s.prefix()+"*", 1000).Result()
		if err != nil {
			return nil, fmt.Errorf("scanning %s* for extra keys: %w", s.prefix(), err)
		}
		for _, k := range keys {
			if _, ok := s.Index(k); !ok {
				extra = append(extra, k)
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}
	// SCAN may return a key twice; report each once.
	sort.Strings(extra)
	out := extra[:0]
	for i, k := range extra {
		if i == 0 || k != extra[i-1] {
			out = append(out, k)
		}
	}
	return out, nil
}
