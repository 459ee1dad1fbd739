package failover

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ReplicationLagWindow is W: how long before the kill an acknowledged write
// may have been acknowledged and still be missing on the promoted replica.
//
// The data plane replicates asynchronously: Dragonfly acknowledges a write
// before its replicas have it (its maintainers: "a very short period"), the
// stand-in is redis replication, and neither names a number. The finest unit
// either reports replication progress in is one second — replicas report
// their offset to the master once a second, INFO gives lag in whole seconds —
// so a replica less than a second behind is, by everything the data plane
// says, in sync. On one host the stream itself takes milliseconds, so a
// promoted replica missing more than a second of acknowledged writes is
// stale, not lagging.
const ReplicationLagWindow = time.Second

// Bound is how much acknowledged data a takeover may lose: only the killed
// master's last writes, sent within Window of its end (see Judge). Window 0
// tolerates no loss at all.
type Bound struct {
	Name   string
	Window time.Duration
}

var (
	// ReplicationLag is a failover's bound on an asynchronously replicating
	// data plane (the master is killed; its replica is promoted).
	ReplicationLag = Bound{Name: "ReplicationLag", Window: ReplicationLagWindow}
	// NoLoss is the bound of a hand-over that waits for the replica
	// (REPLTAKEOVER applies every write before the replica takes over).
	NoLoss = Bound{Name: "NoLoss"}
)

func (b Bound) String() string { return fmt.Sprintf("%s (W=%s)", b.Name, b.Window) }

// Kill is the killed master as the writer saw it.
type Kill struct {
	// At is taken right after the delete call returned (see Judge).
	At time.Time
	// Addr is the address the writer reached the killed master at; ""
	// when it never did, and then every lost write is another master's.
	Addr string
}

// Write is one logged attempt and whether the new master holds its value.
type Write struct {
	Attempt
	Held bool
}

// Rule is the part of the bound a loss broke.
type Rule string

const (
	RuleNoLoss      Rule = "no loss tolerated"
	RuleOtherMaster Rule = "lost a write another master acknowledged"
	RuleHole        Rule = "hole in the middle"
	RuleStale       Rule = "stale replica promoted"
	RuleOlder       Rule = "lost write older than the window"
)

// Violation is one broken rule and the writes that broke it.
type Violation struct {
	Rule   Rule
	Writes []Write
	Detail string
}

// Verdict is a takeover's loss judged against a Bound.
type Verdict struct {
	Bound Bound
	Kill  Kill
	Acked int
	// Lost are the acknowledged writes the new master lacks, in log order.
	Lost []Write
	// Span is the lost writes' time span: from the first one's send to
	// the kill, or to the last one's acknowledgement when that came after
	// the kill (0 when nothing was lost).
	Span       time.Duration
	Violations []Violation
}

// Judge judges the writes logged around a kill against what the new master
// holds (ws, in log order) and the bound b.
//
// Asynchronous replication loses, at most, a contiguous tail of what the
// killed master acknowledged: the replica applies the stream in order and
// lacks only what had not reached it when the link broke. So, unless b
// tolerates nothing:
//   - every lost write was acknowledged by the killed master (k.Addr); a
//     lost write another master acknowledged — after the kill, the new one
//     itself — is data loss (RuleOtherMaster);
//   - no write of the killed master that the new master holds comes after
//     a lost one (RuleHole);
//   - every lost write was sent no earlier than W before the tail's end,
//     which is the kill or, when the dying master acknowledged writes
//     after it, the last of those (RuleStale when the lost writes are a
//     tail — the new master holds an older prefix — RuleOlder otherwise).
//
// The measurement errs towards failing where a client can see it: an ack
// time is taken when the reply arrived, up to a round trip after the master
// applied the write, so the window is measured from the write's send time,
// which is never later than the apply. k.At is taken right after the delete
// returned (an earlier stamp would widen the window); the container dies
// later still, and every write the dying master acknowledges in that time
// moves the tail's end, and the window with it, later. What no client can
// see is a dying master that acknowledged nothing after k.At yet kept its
// replication link up: that time, at most the kubelet's kill delay, is the
// one slack the judgement leaves on top of W.
func Judge(ws []Write, k Kill, b Bound) Verdict {
	v := Verdict{Bound: b, Kill: k}
	var lostAt []int // index in ws of each lost write
	lastHeld := -1   // index of the killed master's last held write
	for i, w := range ws {
		if w.Err != "" {
			continue
		}
		v.Acked++
		switch {
		case !w.Held:
			v.Lost = append(v.Lost, w)
			lostAt = append(lostAt, i)
		case k.Addr != "" && w.Addr == k.Addr:
			lastHeld = i
		}
	}
	if len(v.Lost) == 0 {
		return v
	}
	end := k.At
	for _, w := range v.Lost {
		if w.At.After(end) {
			end = w.At
		}
	}
	v.Span = end.Sub(sent(v.Lost[0]))

	var other, hole, killed []Write
	firstHole, firstKilled := -1, -1
	for j, w := range v.Lost {
		switch {
		case k.Addr == "" || w.Addr != k.Addr:
			other = append(other, w)
		default:
			killed = append(killed, w)
			if firstKilled < 0 {
				firstKilled = lostAt[j]
			}
			if lostAt[j] < lastHeld {
				hole = append(hole, w)
				if firstHole < 0 {
					firstHole = lostAt[j]
				}
			}
		}
	}
	if b.Window <= 0 {
		v.add(RuleNoLoss, v.Lost, fmt.Sprintf("%s lost, and %s tolerates none", k.list(v.Lost), b))
	}
	if len(other) > 0 {
		v.add(RuleOtherMaster, other, fmt.Sprintf("%s acknowledged by %s, not by the killed master %s: "+
			"the replication lag excuses only the killed master's last writes",
			k.list(other), addrs(other), orNone(k.Addr)))
	}
	if len(hole) > 0 {
		after := k.heldAfter(ws, firstHole)
		v.add(RuleHole, hole, fmt.Sprintf("%s lost, yet the killed master's later write %s (acked %s) is held: "+
			"replication applies writes in order, so the new master has a hole in the middle of the acknowledged sequence",
			k.list(hole), Key(after.Seq), k.rel(after.At)))
	}
	if b.Window <= 0 || len(killed) == 0 {
		return v
	}
	tailEnd := k.At
	for _, w := range killed {
		if w.At.After(tailEnd) {
			tailEnd = w.At
		}
	}
	from := tailEnd.Add(-b.Window)
	var old []Write
	for _, w := range killed {
		if sent(w).Before(from) {
			old = append(old, w)
		}
	}
	if len(old) == 0 {
		return v
	}
	endName, why := "the kill", "a replica staler than the replication lag was promoted"
	if tailEnd.After(k.At) {
		endName = "the killed master's last lost ack (" + k.rel(tailEnd) + ")"
		why += ", or the killed master went on acknowledging writes its replica no longer received after its pod was deleted"
	}
	if len(hole) == 0 {
		v.add(RuleStale, old, fmt.Sprintf("the new master holds the killed master's acknowledged writes only up to %s; "+
			"its lost tail of %d writes reaches back to %s, sent %s before %s, more than W=%s: %s; lost beyond the window: %s",
			k.heldBefore(ws, firstKilled), len(killed), Key(old[0].Seq), tailEnd.Sub(sent(old[0])).Round(time.Millisecond), endName, b.Window, why, k.list(old)))
	} else {
		v.add(RuleOlder, old, fmt.Sprintf("%s sent more than W=%s before %s: lost writes older than the replication-lag window",
			k.list(old), b.Window, endName))
	}
	return v
}

func (v *Verdict) add(r Rule, ws []Write, detail string) {
	v.Violations = append(v.Violations, Violation{Rule: r, Writes: ws, Detail: detail})
}

// Err is nil when the loss is within the bound, else it names each broken
// rule, the keys that broke it and their times relative to the kill.
func (v Verdict) Err() error {
	if len(v.Violations) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "acknowledged writes lost beyond %s: %d of %d lost, span %s", v.Bound, len(v.Lost), v.Acked, v.Span.Round(time.Millisecond))
	for _, x := range v.Violations {
		fmt.Fprintf(&b, "; %s: %s", x.Rule, x.Detail)
	}
	return errors.New(b.String())
}

// String is the RPO as reported: count, span, keys and the bound.
func (v Verdict) String() string {
	if len(v.Lost) == 0 {
		return fmt.Sprintf("0 of %d acknowledged writes lost (bound %s)", v.Acked, v.Bound)
	}
	within := "within"
	if len(v.Violations) > 0 {
		within = "beyond"
	}
	return fmt.Sprintf("%d of %d acknowledged writes lost, span %s: %s; %s %s",
		len(v.Lost), v.Acked, v.Span.Round(time.Millisecond), v.Kill.list(v.Lost), within, v.Bound)
}

// LostWrites is the RPO as a count of acknowledged writes.
func (v Verdict) LostWrites() int { return len(v.Lost) }

// SpanMillis is the RPO as the lost writes' time span, in milliseconds.
func (v Verdict) SpanMillis() float64 { return float64(v.Span) / float64(time.Millisecond) }

// sent is when w left the client; a log without send times falls back to
// the ack, which is later (see Judge).
func sent(w Write) time.Time {
	if w.Sent.IsZero() {
		return w.At
	}
	return w.Sent
}

// rel is t relative to the kill, signed, to the millisecond.
func (k Kill) rel(t time.Time) string {
	d := t.Sub(k.At).Round(time.Millisecond)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

const listed = 10

// list names writes by key with their send and ack times relative to the
// kill (the first ten, then how many more).
func (k Kill) list(ws []Write) string {
	var parts []string
	for i, w := range ws {
		if i == listed {
			parts = append(parts, fmt.Sprintf("… and %d more", len(ws)-listed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (sent %s, acked %s)", Key(w.Seq), k.rel(sent(w)), k.rel(w.At)))
	}
	return "keys " + strings.Join(parts, ", ")
}

// heldAfter is the killed master's first held write after index i (Judge
// calls it only when there is one).
func (k Kill) heldAfter(ws []Write, i int) Write {
	for _, w := range ws[i+1:] {
		if w.Err == "" && w.Held && w.Addr == k.Addr {
			return w
		}
	}
	return Write{}
}

// heldBefore names the killed master's last held write before index i.
func (k Kill) heldBefore(ws []Write, i int) string {
	for j := i - 1; j >= 0; j-- {
		if w := ws[j]; w.Err == "" && w.Held && w.Addr == k.Addr {
			return Key(w.Seq) + " (acked " + k.rel(w.At) + ")"
		}
	}
	return "none of them"
}

func addrs(ws []Write) string {
	var out []string
	seen := map[string]bool{}
	for _, w := range ws {
		if !seen[w.Addr] {
			seen[w.Addr] = true
			out = append(out, orNone(w.Addr))
		}
	}
	return strings.Join(out, ", ")
}

func orNone(a string) string {
	if a == "" {
		return "(no address)"
	}
	return a
}
