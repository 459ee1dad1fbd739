package failoverpair

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/redistest"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

// created is the pair's objects in a fake API, with b's server a real
// redis-server replicating from a's.
func created(t *testing.T) (*Pair, *redis.Client) {
	t.Helper()
	ctx := context.Background()
	p := New(&targets.Env{Client: fakecluster.Client()}, "db", "dfe2e.local/redis-standin:test")
	for _, o := range []client.Object{p.Svc, p.A, p.B} {
		if err := p.env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := redistest.Server(t)
	_, bc := redistest.Server(t)
	host, port, _ := strings.Cut(a.Addr, ":")
	if err := bc.SlaveOf(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	return p, bc
}

func role(t *testing.T, c *redis.Client) string {
	t.Helper()
	info, err := c.Info(context.Background(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if r, ok := strings.CutPrefix(strings.TrimSpace(l), "role:"); ok {
			return r
		}
	}
	return ""
}

func TestKillAndPromote(t *testing.T) {
	for _, relabel := range []bool{true, false} {
		p, bc := created(t)
		ctx := context.Background()
		before := time.Now()
		killedAt, err := p.KillAndPromote(ctx, bc, relabel)
		if err != nil || killedAt.Before(before) {
			t.Fatalf("relabel=%v: killed at %s, %v", relabel, killedAt, err)
		}
		if err := p.env.Client.Get(ctx, client.ObjectKeyFromObject(p.A), &corev1.Pod{}); !apierrors.IsNotFound(err) {
			t.Errorf("relabel=%v: the master %s was not deleted: %v", relabel, p.A.Name, err)
		}
		if r := role(t, bc); r != "master" {
			t.Errorf("relabel=%v: %s is %s after REPLICAOF NO ONE", relabel, p.B.Name, r)
		}
		var b corev1.Pod
		if err := p.env.Client.Get(ctx, client.ObjectKeyFromObject(p.B), &b); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{true: "master", false: "replica"}[relabel]
		if got := b.Labels[standin.RoleLabel]; got != want {
			t.Errorf("relabel=%v: %s labelled %s=%s, want %s", relabel, p.B.Name, standin.RoleLabel, got, want)
		}
	}
}

// A master that cannot be killed is an error naming it; nothing else runs.
func TestKillAndPromoteNamesTheMasterItCannotKill(t *testing.T) {
	p := New(&targets.Env{Client: fakecluster.Client()}, "db", "img")
	if _, err := p.KillAndPromote(context.Background(), nil, true); err == nil || !strings.Contains(err.Error(), "killing the master "+standin.FailoverA) {
		t.Fatalf("err = %v", err)
	}
}

func TestTeardownRemovesThePair(t *testing.T) {
	p, _ := created(t)
	ctx := context.Background()
	p.Teardown(ctx)
	for _, o := range []client.Object{p.A, p.B, p.Svc} {
		if err := p.env.Client.Get(ctx, client.ObjectKeyFromObject(o), o); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s left after Teardown: %v", o, o.GetName(), err)
		}
	}
	var nothing *Pair
	nothing.Teardown(ctx) // a Start that failed early leaves no pair
}
