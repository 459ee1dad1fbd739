package failover

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// realFailover runs the writer against a real primary with a real replica,
// cuts the replica off (REPLICAOF NO ONE: from then on it lags by
// everything), lets the primary acknowledge for lagFor, kills the primary,
// moves the writer to the replica and returns the new master's client, the
// kill and the RPO counted on it.
func realFailover(t *testing.T, before int, lagFor time.Duration) (*redis.Client, Kill, RPO) {
	t.Helper()
	shortRecovery(t)
	// No diskless-sync delay: the replica syncs at once, not after 5s.
	primary, _ := redistest.Server(t, "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(primary.Addr)
	replica, rc := redistest.Server(t, "--replicaof", host, port)
	replicaSynced(t, rc)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r := &switchable{}
	r.set(primary.Addr)
	log, done := (&Writer{Resolve: r.resolve}).Start(ctx)
	waitAcks(t, log, before)
	if err := rc.SlaveOf(context.Background(), "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	split, n := time.Now(), len(log.Acked())
	_, err := wait.ForDuration(context.Background(), "the cut-off primary to acknowledge writes for "+lagFor.String(), lagFor+20*time.Second,
		func(context.Context) (bool, string, error) {
			return time.Since(split) >= lagFor && len(log.Acked()) > n, "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
	primary.Stop()
	kill := Kill{At: time.Now(), Addr: primary.Addr}
	r.set(replica.Addr)
	if _, err := MeasureRTO(context.Background(), log, kill.At, primary.Addr); err != nil {
		t.Fatal(err)
	}
	waitAcks(t, log, len(log.Acked())+20) // the new master's own writes
	stop()
	<-done
	rpo, err := CountRPO(context.Background(), rc, log)
	if err != nil {
		t.Fatal(err)
	}
	return rc, kill, rpo
}

func wantRules(t *testing.T, v Verdict, want []Rule, say ...string) {
	t.Helper()
	got := strings.Join(ruleStrings(rules(v)), "|")
	if got != strings.Join(ruleStrings(want), "|") {
		t.Fatalf("broken rules %q, want %q: %v", got, want, v.Err())
	}
	text := v.String()
	if err := v.Err(); err != nil {
		text = err.Error()
	}
	for _, s := range say {
		if !strings.Contains(text, s) {
			t.Errorf("%q does not say %q", text, s)
		}
	}
}

// A replica cut off shortly before the kill lacks exactly the primary's
// last acknowledged writes: a replication-lag tail, within W, reported as
// count and span; zero tolerance fails on the very same loss. Planted
// defects on the same new master — a hole in the middle, a lost write
// older than W, a lost write the new master acknowledged itself — each
// fail naming their rule and key.
func TestJudgeRealReplicationLagTail(t *testing.T) {
	rc, kill, rpo := realFailover(t, 400, 50*time.Millisecond)
	v := rpo.Judge(kill, ReplicationLag)
	t.Logf("RPO: %v", v)
	if v.Span > ReplicationLagWindow {
		t.Fatalf("this test's own cut-off-to-kill took %s, longer than W; its premise (a tail within W) did not hold", v.Span)
	}
	if v.LostWrites() == 0 || v.LostWrites() != rpo.Lost {
		t.Fatalf("the cut-off primary's acknowledged writes must be lost and counted alike: verdict %d, count %d", v.LostWrites(), rpo.Lost)
	}
	first := v.Lost[0].Seq
	wantRules(t, v, nil, "within ReplicationLag (W=1s)", Key(first)+" (sent -")
	wantRules(t, rpo.Judge(kill, NoLoss), []Rule{RuleNoLoss}, Key(first)+" (sent -", "NoLoss (W=0s) tolerates none")

	ctx := context.Background()
	var own, early, middle Write
	for _, w := range rpo.Writes {
		if w.Err != "" {
			continue
		}
		switch {
		case w.Addr != kill.Addr && own.Seq == 0:
			own = w
		case w.Addr == kill.Addr && early.Seq == 0 && kill.At.Sub(w.At) > 2*ReplicationLagWindow:
			early = w
		}
		if w.Seq+3 == first {
			middle = w
		}
	}
	if own.Seq == 0 || early.Seq == 0 || middle.Seq == 0 {
		t.Fatalf("the log lacks a write to plant on: own %d, early %d, middle %d", own.Seq, early.Seq, middle.Seq)
	}
	for _, c := range []struct {
		name  string
		plant Write
		want  []Rule
		say   []string
	}{
		{"hole in the middle", middle, []Rule{RuleHole}, []string{"hole in the middle", "keys " + Key(middle.Seq) + " (sent -"}},
		{"lost write older than W", early, []Rule{RuleHole, RuleOlder}, []string{"lost write older than the window", "keys " + Key(early.Seq) + " (sent -"}},
		{"the new master lost its own write", own, []Rule{RuleOtherMaster}, []string{"lost a write another master acknowledged", Key(own.Seq) + " (sent +", "not by the killed master " + kill.Addr}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := rc.Del(ctx, Key(c.plant.Seq)).Err(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := rc.Set(ctx, Key(c.plant.Seq), strconv.FormatUint(c.plant.Seq, 10), 0).Err(); err != nil {
					t.Fatal(err)
				}
			}()
			planted, err := CountRPO(ctx, rc, &Log{attempts: attempts(rpo.Writes)})
			if err != nil {
				t.Fatal(err)
			}
			wantRules(t, planted.Judge(kill, ReplicationLag), c.want, c.say...)
		})
	}
}

// A replica cut off longer than W before the kill was stale when it was
// promoted: its lost tail fails, named as such.
func TestJudgeRealStaleReplicaPromoted(t *testing.T) {
	_, kill, rpo := realFailover(t, 100, ReplicationLagWindow+300*time.Millisecond)
	v := rpo.Judge(kill, ReplicationLag)
	wantRules(t, v, []Rule{RuleStale}, "stale replica promoted", "more than W=1s", "keys "+Key(v.Lost[0].Seq)+" (sent -")
	if v.Span <= ReplicationLagWindow {
		t.Fatalf("span %s, want more than W", v.Span)
	}
}

func attempts(ws []Write) []Attempt {
	out := make([]Attempt, len(ws))
	for i, w := range ws {
		out[i] = w.Attempt
	}
	return out
}
