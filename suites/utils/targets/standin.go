package targets

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
)

// StandIn is the redis-server stand-in (internal/data/standin).
type StandIn struct {
	Options standin.Options
	Env     *Env
}

func (t *StandIn) Label() string {
	return fmt.Sprintf("redis-server stand-in %s/%s", t.Options.Namespace, t.Options.Name)
}
func (t *StandIn) StandIn() string     { return standin.Description }
func (t *StandIn) Container() string   { return standin.Container }
func (t *StandIn) DataPort() int       { return standin.Port }
func (t *StandIn) AdminPort() int      { return standin.Port }
func (t *StandIn) SnapshotDir() string { return t.Options.Dir }
func (t *StandIn) LsCommand() []string { return []string{"ls", "-1", t.Options.Dir} }

func (t *StandIn) Save(ctx context.Context, c *redis.Client) error {
	if t.Options.TimestampedSnapshots {
		// Each snapshot under its own name, as dump-{timestamp} does.
		name := fmt.Sprintf("dump-%d.rdb", time.Now().UnixNano())
		if err := c.ConfigSet(ctx, "dbfilename", name).Err(); err != nil {
			return err
		}
	}
	return saveBetweenBackgroundSaves(ctx, c, t.Label())
}

func (t *StandIn) Deploy(ctx context.Context) (string, error) {
	img, err := images.EnsureStandIn(ctx, func(f string, a ...any) { t.Env.Logf(f+"\n", a...) })
	if err != nil {
		return "", fmt.Errorf("building the stand-in image: %w", err)
	}
	t.Options.Image = img.Ref
	if t.Env.StorageClass != "" {
		t.Options.StorageClass = t.Env.StorageClass
	}
	if blocked, err := nodes.EnsureImage(ctx, t.Env.Client, t.Env.Provider, img.Ref, img.Archive, t.Env.Logf); blocked != "" || err != nil {
		return blocked, err
	}
	t.Teardown(ctx) // leftovers of an interrupted run
	svc, sts := t.Options.Objects()
	for _, o := range []client.Object{svc, sts} {
		if err := t.Env.Client.Create(ctx, o); err != nil {
			return "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return PodsBlocked(ctx, t.Env.Client, t.Env.Clientset, t.Options.Namespace, t.Options.Labels(), "stand-in "+t.Options.Name)
}

func (t *StandIn) pods(ctx context.Context) ([]corev1.Pod, error) {
	var pods corev1.PodList
	err := t.Env.Client.List(ctx, &pods, client.InNamespace(t.Options.Namespace), client.MatchingLabels(t.Options.Labels()))
	return pods.Items, err
}

func (t *StandIn) Master(ctx context.Context, since time.Time) (*corev1.Pod, error) {
	var p *corev1.Pod
	_, err := wait.For(ctx, "stand-in "+t.Options.Name+" to have one Ready pod started after "+since.Format(time.TimeOnly), wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		pods, err := t.pods(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		for i := range pods {
			if pods[i].DeletionTimestamp == nil && instance.PodReady(&pods[i]) && StartedAfter(&pods[i], t.Container(), since) {
				p = &pods[i]
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d pods, none Ready and started since", len(pods)), nil
	})
	return p, err
}

func (t *StandIn) Scale(ctx context.Context, n int32) error {
	var sts appsv1.StatefulSet
	if err := t.Env.Client.Get(ctx, client.ObjectKey{Namespace: t.Options.Namespace, Name: t.Options.Name}, &sts); err != nil {
		return err
	}
	sts.Spec.Replicas = &n
	return t.Env.Client.Update(ctx, &sts)
}

func (t *StandIn) PodsGone(ctx context.Context) (bool, string, error) {
	pods, err := t.pods(ctx)
	if err != nil {
		return false, err.Error(), nil
	}
	return len(pods) == 0, fmt.Sprintf("%d pods left", len(pods)), nil
}

func (t *StandIn) Teardown(ctx context.Context) {
	svc, sts := t.Options.Objects()
	objects.DeleteAndForget(ctx, t.Env.Client, sts)
	objects.DeleteAndForget(ctx, t.Env.Client, svc)
	objects.DeleteClaims(ctx, t.Env.Client, t.Options.Namespace, "data-"+t.Options.Name+"-")
}
