package failover

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// shortRecovery sets a short recovery bound, so the stuck-Service defect is
// proven quickly (and through the same override users have).
func shortRecovery(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"FailoverRecovered":"2s"}`)
}

// switchable is a Resolver whose answer the test moves, as a Service would.
type switchable struct{ addr atomic.Value }

func (s *switchable) set(a string) { s.addr.Store(a) }
func (s *switchable) resolve(context.Context) (string, error) {
	return s.addr.Load().(string), nil
}

func waitAcks(t *testing.T, log *Log, n int) {
	t.Helper()
	_, err := wait.ForDuration(context.Background(), "the writer to log acknowledged writes", 20*time.Second,
		func(context.Context) (bool, string, error) { return len(log.Acked()) >= n, "", nil })
	if err != nil {
		t.Fatal(err)
	}
}

func replicaSynced(t *testing.T, replica *redis.Client) {
	t.Helper()
	_, err := wait.ForDuration(context.Background(), "the replica link to be up", 20*time.Second,
		func(ctx context.Context) (bool, string, error) {
			info, err := replica.Info(ctx, "replication").Result()
			return err == nil && strings.Contains(info, "master_link_status:up"), "", nil
		})
	if err != nil {
		t.Fatal(err)
	}
}

// Exact RPO: acknowledged writes removed from the "new master" are counted
// one by one and named.
func TestCountRPOIsExact(t *testing.T) {
	shortRecovery(t)
	s, c := redistest.Server(t)
	ctx, stop := context.WithCancel(context.Background())
	r := &switchable{}
	r.set(s.Addr)
	log, done := (&Writer{Resolve: r.resolve}).Start(ctx)
	waitAcks(t, log, 100)
	stop()
	<-done
	acked := log.Acked()
	lost := []uint64{acked[3], acked[10], acked[50]}
	for _, seq := range lost {
		if err := c.Del(context.Background(), Key(seq)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// A changed value is lost data too.
	if err := c.Set(context.Background(), Key(acked[60]), "garbage", 0).Err(); err != nil {
		t.Fatal(err)
	}
	lost = append(lost, acked[60])
	rpo, err := CountRPO(context.Background(), c, log)
	if err != nil {
		t.Fatal(err)
	}
	if rpo.Acked != len(acked) || rpo.Lost != len(lost) {
		t.Fatalf("RPO %s; want %d of %d lost", rpo, len(lost), len(acked))
	}
	for i, seq := range lost {
		if rpo.LostSeqs[i] != seq {
			t.Fatalf("lost seqs %v, want %v", rpo.LostSeqs, lost)
		}
	}
}

// A replica promoted with REPLICAOF NO ONE while the old master still takes
// writes: everything acknowledged after the split is lost, and CountRPO
// must agree with an independent count (SCAN of the new master).
func TestPromotedReplicaRTOAndRPO(t *testing.T) {
	shortRecovery(t)
	primary, _ := redistest.Server(t, "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(primary.Addr)
	replica, rc := redistest.Server(t, "--replicaof", host, port)
	replicaSynced(t, rc)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r := &switchable{}
	r.set(primary.Addr)
	log, done := (&Writer{Resolve: r.resolve}).Start(ctx)
	waitAcks(t, log, 200)

	// Split: promote the replica, let the old master acknowledge more.
	if err := rc.SlaveOf(context.Background(), "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	afterSplit := len(log.Acked())
	waitAcks(t, log, afterSplit+50)
	primary.Stop()
	killedAt := time.Now()
	// The "Service" moves to the promoted replica a little later.
	time.AfterFunc(300*time.Millisecond, func() { r.set(replica.Addr) })
	rto, err := MeasureRTO(context.Background(), log, killedAt, primary.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := WaitServiceFollows(context.Background(), r.resolve, primary.Addr, replica.Addr); err != nil {
		t.Fatal(err)
	}
	stop()
	<-done
	if rto < 300*time.Millisecond || rto > wait.Timeout(wait.FailoverRecovered) {
		t.Errorf("RTO %s: want ≥ 300ms (the Service moved then) and within the bound", rto)
	}
	rpo, err := CountRPO(context.Background(), rc, log)
	if err != nil {
		t.Fatal(err)
	}
	// Independent count: which acknowledged keys does the new master hold?
	have := map[string]bool{}
	iter := rc.Scan(context.Background(), 0, KeyPrefix+"*", 1000).Iterator()
	for iter.Next(context.Background()) {
		have[iter.Val()] = true
	}
	want := 0
	for _, seq := range log.Acked() {
		if !have[Key(seq)] {
			want++
		}
	}
	t.Logf("RTO %s; RPO %s", rto.Round(time.Millisecond), rpo)
	if rpo.Lost != want || rpo.Lost < 50 {
		t.Fatalf("RPO counted %d lost, independent count %d; at least the 50 writes after the split must be lost", rpo.Lost, want)
	}
}

// Planted defect: the Service keeps pointing at the dead master. Both the
// RTO measurement and the Service check must fail within the named bound
// (2s here), naming the dead address — not hang.
func TestServiceStuckOnDeadMasterIsDetectedWithinBound(t *testing.T) {
	shortRecovery(t)
	primary, _ := redistest.Server(t)
	replica, _ := redistest.Server(t)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	r := &switchable{}
	r.set(primary.Addr)
	log, done := (&Writer{Resolve: r.resolve}).Start(ctx)
	waitAcks(t, log, 20)
	dead := primary.Addr
	// The kill is ordered, but the dying master still answers for a while
	// (as a deleted pod does until its container stops): those acks must not
	// count as recovery.
	killedAt := time.Now()
	waitAcks(t, log, len(log.Acked())+20)
	primary.Stop()

	_, err := MeasureRTO(context.Background(), log, killedAt, dead)
	took := time.Since(killedAt)
	var re *RecoveryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), dead) || !strings.Contains(err.Error(), string(wait.FailoverRecovered)) {
		t.Fatalf("got %v; want a RecoveryError naming %s and %s", err, dead, wait.FailoverRecovered)
	}
	if took > 2*wait.Timeout(wait.FailoverRecovered)+2*time.Second {
		t.Fatalf("detection took %s; bound is %s", took, wait.Timeout(wait.FailoverRecovered))
	}
	start := time.Now()
	err = WaitServiceFollows(context.Background(), r.resolve, dead, replica.Addr)
	if err == nil || !strings.Contains(err.Error(), "still points at the dead master "+dead) || time.Since(start) > 2*wait.Timeout(wait.FailoverRecovered) {
		t.Fatalf("got %v after %s; want the stuck address named within the bound", err, time.Since(start))
	}
	stop()
	<-done
	t.Logf("detected in %s: %v", took.Round(time.Millisecond), re)
}

// A Service whose only pod was the dead master resolves to nothing once its
// endpoint is gone: the error must still name the dead master (by the name
// the caller knows it by, a pod name in the suites), and must tell that
// apart from a Service that moved to a third pod.
func TestStuckServiceWithoutEndpointsNamesTheDeadMaster(t *testing.T) {
	shortRecovery(t)
	noEndpoints := func(context.Context) (string, error) {
		return "", errors.New("Service ns/redis-fo routes to 0 pods [], want exactly the master")
	}
	err := WaitServiceFollows(context.Background(), noEndpoints, "redis-fo-a", "redis-fo-b")
	if err == nil || !strings.Contains(err.Error(), "stuck on the dead master redis-fo-a") || !strings.Contains(err.Error(), "routes to 0 pods") ||
		!strings.Contains(err.Error(), "new master redis-fo-b") {
		t.Fatalf("got %v; want the dead master redis-fo-a, the empty Service and the new master named", err)
	}
	elsewhere := func(context.Context) (string, error) { return "redis-fo-c", nil }
	err = WaitServiceFollows(context.Background(), elsewhere, "redis-fo-a", "redis-fo-b")
	if err == nil || !strings.Contains(err.Error(), "points at redis-fo-c, neither the dead master redis-fo-a") {
		t.Fatalf("got %v; want the third pod named as such", err)
	}
}
