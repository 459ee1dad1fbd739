package takeover

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// A server holding the dataset and the writer's acknowledged writes, as the
// new master after a takeover that lost nothing.
func newMaster(t *testing.T) (*redis.Client, *failover.Log, dataset.Spec) {
	t.Helper()
	ctx := context.Background()
	s, c := redistest.Server(t)
	ds := dataset.Spec{Keys: 200, Seed: 7}
	if _, err := dataset.Write(ctx, c, ds, dataset.Options{}); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	log, done := (&failover.Writer{Resolve: func(context.Context) (string, error) { return s.Addr, nil }}).Start(wctx)
	_, err := wait.ForDuration(ctx, "the writer to log 50 acknowledged writes", 20*time.Second,
		func(context.Context) (bool, string, error) { return len(log.Acked()) >= 50, "", nil })
	stop()
	<-done
	if err != nil {
		t.Fatal(err)
	}
	return c, log, ds
}

func TestJudgeCleanTakeover(t *testing.T) {
	c, log, ds := newMaster(t)
	r, err := Judge(context.Background(), c, log, ds)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPO.Lost != 0 || r.RPO.Acked != len(log.Acked()) || r.Dataset.Err() != nil {
		t.Fatalf("nothing was lost, got RPO %s and dataset %v", r.RPO, r.Dataset.Err())
	}
	if err := r.RPO.Judge(failover.Kill{At: time.Now(), Addr: log.Attempts()[0].Addr}, failover.NoLoss).Err(); err != nil {
		t.Fatalf("nothing was lost: %v", err)
	}
}

// Planted defect: one acknowledged write and one dataset key gone on the
// new master; both are counted, the dataset key named.
func TestJudgeCountsWhatTheNewMasterLacks(t *testing.T) {
	c, log, ds := newMaster(t)
	ctx := context.Background()
	if err := c.Del(ctx, failover.Key(log.Acked()[10]), ds.Name(3)).Err(); err != nil {
		t.Fatal(err)
	}
	r, err := Judge(ctx, c, log, ds)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPO.Lost != 1 || r.RPO.LostSeqs[0] != log.Acked()[10] {
		t.Errorf("RPO %s; want acknowledged write %d lost", r.RPO, log.Acked()[10])
	}
	// The judgement reads the same result: the write lost between held
	// ones is a hole, whatever the bound, and zero tolerance names it too.
	lost := failover.Key(log.Acked()[10])
	kill := failover.Kill{At: time.Now(), Addr: log.Attempts()[0].Addr}
	for _, b := range []failover.Bound{failover.ReplicationLag, failover.NoLoss} {
		err := r.RPO.Judge(kill, b).Err()
		if err == nil || !strings.Contains(err.Error(), "hole in the middle: keys "+lost) {
			t.Errorf("%s: %v; want the hole at %s named", b, err, lost)
		}
	}
	if r.Dataset.Lost() != 1 || r.Dataset.Err() == nil {
		t.Errorf("dataset %v; want key %s lost", r.Dataset, ds.Name(3))
	}
}

// A server that cannot be reached is an error, never a clean result.
func TestJudgeOfAnUnreachableServerIsAnError(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	if _, err := Judge(context.Background(), c, &failover.Log{}, dataset.Spec{Keys: 1, Seed: 1}); err == nil {
		t.Fatal("judging an unreachable server must be an error")
	}
}

func TestCheckNamesTheMasterItCannotReach(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:1", Timeout: 5 * time.Second}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	master := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df-1"}}
	_, err = Check(context.Background(), cfg, cs, master, &failover.Log{}, dataset.Spec{Keys: 1, Seed: 1})
	if err == nil || !strings.Contains(err.Error(), "new master df-1") {
		t.Fatalf("err = %v; want it to name the new master df-1", err)
	}
}
