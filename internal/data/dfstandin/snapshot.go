package dfstandin

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// tsLayout is Dragonfly's {timestamp} substitution: sortable as text.
const tsLayout = "2006-01-02T15:04:05"

// snapshotName is the file a save writes: the template with {timestamp}
// substituted, plus ".rdb" — the extension Dragonfly gives RDB-format
// snapshots; the stand-in's files are redis RDB, never Dragonfly's .dfs.
func snapshotName(template string, now time.Time) string {
	name := strings.ReplaceAll(template, "{timestamp}", now.UTC().Format(tsLayout))
	if filepath.Ext(name) != ".rdb" {
		name += ".rdb"
	}
	return name
}

// snapshotPattern matches every file a template can have produced.
func snapshotPattern(template string) *regexp.Regexp {
	t := strings.TrimSuffix(template, ".rdb")
	parts := strings.Split(t, "{timestamp}")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, `(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})`) + `\.rdb$`)
}

// snapshotFiles lists dir's snapshots of template, oldest first: by the
// substituted timestamp (sortable text), then by modification time.
func snapshotFiles(dir, template string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	re := snapshotPattern(template)
	type snap struct {
		name, ts string
		mod      time.Time
	}
	var all []snap
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		all = append(all, snap{e.Name(), strings.Join(m[1:], ""), info.ModTime()})
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ts != all[j].ts {
			return all[i].ts < all[j].ts
		}
		return all[i].mod.Before(all[j].mod)
	})
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = s.name
	}
	return out, nil
}

// pickNewest is how Dragonfly chooses what to load at start.
func pickNewest(oldestFirst []string) string {
	if len(oldestFirst) == 0 {
		return ""
	}
	return oldestFirst[len(oldestFirst)-1]
}

// cron is a parsed --snapshot_cron: sets of allowed values per field.
type cron struct {
	sec, min, hour, dom, mon, dow map[int]bool
	domStar, dowStar              bool
}

// parseCron reads "min hour dom mon dow", or six fields with seconds first
// (as Dragonfly's cron library also accepts).
func parseCron(expr string) (*cron, error) {
	f := strings.Fields(expr)
	if len(f) == 5 {
		f = append([]string{"0"}, f...)
	}
	if len(f) != 6 {
		return nil, fmt.Errorf("cron %q: want 5 or 6 fields", expr)
	}
	c := &cron{domStar: f[3] == "*", dowStar: f[5] == "*"}
	var err error
	ranges := []struct {
		dst      *map[int]bool
		lo, hi   int
		fieldIdx int
	}{{&c.sec, 0, 59, 0}, {&c.min, 0, 59, 1}, {&c.hour, 0, 23, 2}, {&c.dom, 1, 31, 3}, {&c.mon, 1, 12, 4}, {&c.dow, 0, 7, 5}}
	for _, r := range ranges {
		if *r.dst, err = cronField(f[r.fieldIdx], r.lo, r.hi); err != nil {
			return nil, fmt.Errorf("cron %q: %w", expr, err)
		}
	}
	if c.dow[7] {
		c.dow[0] = true
	}
	return c, nil
}

func cronField(s string, lo, hi int) (map[int]bool, error) {
	set := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("bad step in %q", part)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*" || rng == "?":
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var e1, e2 error
			a, e1 = strconv.Atoi(x)
			b, e2 = strconv.Atoi(y)
			if e1 != nil || e2 != nil {
				return nil, fmt.Errorf("bad range %q", part)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", part)
			}
			a, b = n, n
			if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return nil, fmt.Errorf("%q outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
	return set, nil
}

// matches reports whether the second t falls on the schedule; day-of-month
// and day-of-week combine with OR when both are restricted, as in cron.
func (c *cron) matches(t time.Time) bool {
	if !c.sec[t.Second()] || !c.min[t.Minute()] || !c.hour[t.Hour()] || !c.mon[int(t.Month())] {
		return false
	}
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}
