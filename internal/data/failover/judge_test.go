package failover

import (
	"strings"
	"testing"
	"time"
)

const (
	deadAddr = "127.0.0.1:7001" // the killed master, as the writer reached it
	newAddr  = "127.0.0.1:7002" // the promoted replica
)

var killAt = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// synth is a synthetic log around killAt: seq 1..n acknowledged by the
// killed master every 5ms, the last one at lastAck relative to the kill,
// each sent 2ms before its reply; then the new master's acks from +1.19s.
type synth struct{ ws []Write }

func newSynth(n int, lastAck time.Duration) *synth {
	s := &synth{}
	for i := 1; i <= n; i++ {
		at := killAt.Add(lastAck - time.Duration(n-i)*5*time.Millisecond)
		s.ws = append(s.ws, Write{Attempt: Attempt{Seq: uint64(i), Sent: at.Add(-2 * time.Millisecond), At: at, Addr: deadAddr}, Held: true})
	}
	return s
}

// then appends m attempts from addr starting at from (relative to the
// kill), every 5ms; failed ones are unacknowledged.
func (s *synth) then(m int, addr string, from time.Duration, failed bool) *synth {
	next := s.ws[len(s.ws)-1].Seq + 1
	for i := 0; i < m; i++ {
		at := killAt.Add(from + time.Duration(i)*5*time.Millisecond)
		a := Attempt{Seq: next + uint64(i), Sent: at.Add(-2 * time.Millisecond), At: at, Addr: addr}
		if failed {
			a.Err = "EOF"
		}
		s.ws = append(s.ws, Write{Attempt: a, Held: !failed})
	}
	return s
}

// lose marks seqs as not held by the new master.
func (s *synth) lose(seqs ...uint64) *synth {
	for _, q := range seqs {
		for i := range s.ws {
			if s.ws[i].Seq == q {
				s.ws[i].Held = false
			}
		}
	}
	return s
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for q := from; q <= to; q++ {
		out = append(out, q)
	}
	return out
}

func rules(v Verdict) []Rule {
	var out []Rule
	for _, x := range v.Violations {
		out = append(out, x.Rule)
	}
	return out
}

// The flake that prompted the bound: keys 300 and 301, the last two the
// killed master acknowledged (9ms and 4ms before the kill), are missing on
// the new master; the failover took 1.19s.
func flake() *synth {
	return newSynth(301, -4*time.Millisecond).then(10, deadAddr, 100*time.Millisecond, true).then(67, newAddr, 1190*time.Millisecond, false).lose(300, 301)
}

func TestJudgeTable(t *testing.T) {
	kill := Kill{At: killAt, Addr: deadAddr}
	cases := []struct {
		name  string
		ws    []Write
		kill  Kill
		bound Bound
		// want are the broken rules, in order; none means within the bound.
		want []Rule
		// say must all appear in the error (or, when within, in String).
		say []string
		// lost and span are the RPO as count and time span.
		lost int
		span time.Duration
	}{
		{
			name: "nothing lost", ws: newSynth(300, -4*time.Millisecond).then(50, newAddr, time.Second, false).ws,
			kill: kill, bound: ReplicationLag, say: []string{"0 of 350 acknowledged writes lost"},
		},
		{
			name: "replication-lag tail within W is tolerated and reported", ws: flake().ws, kill: kill, bound: ReplicationLag,
			say:  []string{"2 of 368 acknowledged writes lost", "dfe2e:wl:300 (sent -11ms, acked -9ms)", "dfe2e:wl:301 (sent -6ms, acked -4ms)", "within ReplicationLag (W=1s)"},
			lost: 2, span: 11 * time.Millisecond,
		},
		{
			name: "zero tolerance still catches the same loss", ws: flake().ws, kill: kill, bound: NoLoss,
			want: []Rule{RuleNoLoss}, say: []string{"no loss tolerated", "dfe2e:wl:300 (sent -11ms, acked -9ms)", "dfe2e:wl:301", "lost, and NoLoss (W=0s) tolerates none"},
			lost: 2, span: 11 * time.Millisecond,
		},
		{
			name: "stale replica promoted: the lost tail reaches back further than W",
			ws:   newSynth(600, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(seqRange(300, 600)...).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleStale},
			say:  []string{"stale replica promoted", "only up to dfe2e:wl:299 (acked -1.509s)", "lost tail of 301 writes reaches back to dfe2e:wl:300", "more than W=1s", "keys dfe2e:wl:300 (sent -1.506s, acked -1.504s)"},
			lost: 301, span: 1506 * time.Millisecond,
		},
		{
			name: "stale replica promoted that also lost its own write",
			ws:   newSynth(600, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(append(seqRange(300, 600), 610)...).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleOtherMaster, RuleStale},
			say:  []string{"keys dfe2e:wl:610 (sent +1.233s, acked +1.235s) acknowledged by 127.0.0.1:7002", "only up to dfe2e:wl:299 (acked -1.509s)", "lost tail of 301 writes"},
			lost: 302, span: 2741 * time.Millisecond,
		},
		{
			name: "hole in the middle within W",
			ws:   newSynth(301, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(292).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleHole},
			say:  []string{"hole in the middle", "keys dfe2e:wl:292 (sent -51ms, acked -49ms) lost", "later write dfe2e:wl:293 (acked -44ms) is held"},
			lost: 1, span: 51 * time.Millisecond,
		},
		{
			name: "lost write older than W, later ones held",
			ws:   newSynth(301, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(50, 300, 301).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleHole, RuleOlder},
			say:  []string{"hole in the middle", "later write dfe2e:wl:51 (acked -1.254s) is held", "lost write older than the window", "keys dfe2e:wl:50 (sent -1.261s, acked -1.259s) sent more than W=1s before the kill"},
			lost: 3, span: 1261 * time.Millisecond,
		},
		{
			name: "the new master lost a write it acknowledged after the kill",
			ws:   newSynth(301, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(305).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleOtherMaster},
			say:  []string{"lost a write another master acknowledged", "dfe2e:wl:305 (sent +1.203s, acked +1.205s) acknowledged by 127.0.0.1:7002, not by the killed master 127.0.0.1:7001"},
			lost: 1, span: 2 * time.Millisecond,
		},
		{
			name: "a dying master's acks after the kill, lost within W, are its tail",
			ws:   newSynth(301, 30*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(298, 299, 300, 301).ws,
			kill: kill, bound: ReplicationLag,
			say:  []string{"4 of 321 acknowledged writes lost", "dfe2e:wl:301 (sent +28ms, acked +30ms)", "within"},
			lost: 4, span: 17 * time.Millisecond,
		},
		{
			// A master that keeps acknowledging long after its pod was
			// deleted (a split brain): the window ends at its last lost
			// ack, not at the kill, so its older lost writes are stale.
			name: "a dying master acknowledging for longer than W after the kill",
			ws:   newSynth(600, 1200*time.Millisecond).then(20, newAddr, 1300*time.Millisecond, false).lose(seqRange(350, 600)...).ws,
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleStale},
			say:  []string{"stale replica promoted", "before the killed master's last lost ack (+1.2s)", "or the killed master went on acknowledging writes its replica no longer received"},
			lost: 251, span: 1252 * time.Millisecond,
		},
		{
			// Acknowledged 999ms before the kill but sent 1000.5ms before
			// it: the master may have applied it more than W before the
			// kill, so the judgement, reading the send time, fails it.
			name: "the window is measured from the send, not from the reply",
			ws: func() []Write {
				s := newSynth(301, -4*time.Millisecond).then(20, newAddr, 1190*time.Millisecond, false).lose(seqRange(102, 301)...)
				s.ws[101].Sent = s.ws[101].At.Add(-1500 * time.Microsecond)
				return s.ws
			}(),
			kill: kill, bound: ReplicationLag,
			want: []Rule{RuleStale},
			say:  []string{"dfe2e:wl:102 (sent -1.001s, acked -999ms)"},
			lost: 200, span: 1000500 * time.Microsecond,
		},
		{
			name: "a killed master the writer never reached: every lost write is another master's",
			ws:   flake().ws, kill: Kill{At: killAt}, bound: ReplicationLag,
			want: []Rule{RuleOtherMaster},
			say:  []string{"not by the killed master (no address)"},
			lost: 2, span: 11 * time.Millisecond,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Judge(c.ws, c.kill, c.bound)
			got := rules(v)
			if strings.Join(ruleStrings(got), "|") != strings.Join(ruleStrings(c.want), "|") {
				t.Fatalf("broken rules %q, want %q; verdict: %v; err: %v", got, c.want, v, v.Err())
			}
			text := v.String()
			if len(c.want) > 0 {
				if v.Err() == nil {
					t.Fatal("violations but no error")
				}
				text = v.Err().Error()
			} else if v.Err() != nil {
				t.Fatalf("within the bound, got %v", v.Err())
			}
			for _, s := range c.say {
				if !strings.Contains(text, s) {
					t.Errorf("%q does not say %q", text, s)
				}
			}
			if v.LostWrites() != c.lost || v.Span != c.span {
				t.Errorf("RPO %d writes, span %s; want %d, %s", v.LostWrites(), v.Span, c.lost, c.span)
			}
			if want := float64(c.span) / float64(time.Millisecond); v.SpanMillis() != want {
				t.Errorf("span %vms, want %vms", v.SpanMillis(), want)
			}
		})
	}
}

func ruleStrings(rs []Rule) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r))
	}
	return out
}

// Failed attempts the new master lacks are not data loss; ones it holds
// anyway do not make a hole.
func TestJudgeIgnoresUnacknowledgedAttempts(t *testing.T) {
	s := newSynth(301, -4*time.Millisecond).then(10, deadAddr, 100*time.Millisecond, true).then(20, newAddr, 1190*time.Millisecond, false)
	s.ws[305].Held = true // failed, applied anyway
	if v := Judge(s.ws, Kill{At: killAt, Addr: deadAddr}, NoLoss); v.Err() != nil || v.Acked != 321 {
		t.Fatalf("%v (acked %d, want 321)", v.Err(), v.Acked)
	}
}

// A log without send times (an older writer) falls back to the ack time.
func TestJudgeWithoutSendTimes(t *testing.T) {
	s := flake()
	for i := range s.ws {
		s.ws[i].Sent = time.Time{}
	}
	v := Judge(s.ws, Kill{At: killAt, Addr: deadAddr}, ReplicationLag)
	if v.Err() != nil || v.Span != 9*time.Millisecond {
		t.Fatalf("%v, span %s; want within, span 9ms", v.Err(), v.Span)
	}
}

// Long lists are cut, and say how many more there are.
func TestJudgeListsAtMostTenKeys(t *testing.T) {
	ws := newSynth(50, -4*time.Millisecond).lose(seqRange(1, 50)...).ws
	err := Judge(ws, Kill{At: killAt, Addr: deadAddr}, NoLoss).Err()
	if err == nil || !strings.Contains(err.Error(), "dfe2e:wl:10 (") || strings.Contains(err.Error(), "dfe2e:wl:11 (") || !strings.Contains(err.Error(), "… and 40 more") {
		t.Fatalf("%v", err)
	}
}
