// Package failoverpair is the failover stand-in (internal/data/standin):
// a master pod a, a replica b and a Service on role=master, so that the
// failover machinery (writer, RTO, RPO, Service following) is proven on a
// cluster without an operator doing the promotion.
package failoverpair

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

// Pair is the running stand-in pair.
type Pair struct {
	A, B *corev1.Pod
	Svc  *corev1.Service
	env  *targets.Env
}

// Start puts the stand-in image on the nodes, creates the pair in ns and
// makes B a replica of A. blocked is a verdict.BlockedMessage when the
// image cannot be put on the node. The caller runs Teardown when done, also
// after an error (it is safe on a nil Pair).
func Start(ctx context.Context, env *targets.Env, ns string) (p *Pair, blocked string, err error) {
	img, err := images.EnsureStandIn(ctx, func(f string, a ...any) { env.Logf(f+"\n", a...) })
	if err != nil {
		return nil, "", fmt.Errorf("building the stand-in image: %w", err)
	}
	if blocked, err := nodes.EnsureImage(ctx, env.Client, env.Provider, img.Ref, img.Archive, env.Logf); blocked != "" || err != nil {
		return nil, blocked, err
	}
	p = New(env, ns, img.Ref)
	p.Teardown(ctx) // leftovers of an interrupted run
	for _, o := range []client.Object{p.Svc, p.A, p.B} {
		if err := env.Client.Create(ctx, o); err != nil {
			return p, "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	for _, pod := range []*corev1.Pod{p.A, p.B} {
		_, err := wait.For(ctx, "pod "+pod.Name+" to be Ready", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return false, err.Error(), nil
			}
			return instance.PodReady(pod), string(pod.Status.Phase), nil
		})
		if err != nil {
			return p, "", err
		}
	}
	bc, closeB, err := p.Connect(ctx, p.B)
	if err != nil {
		return p, "", err
	}
	defer closeB()
	if err := bc.SlaveOf(ctx, p.A.Status.PodIP, "6379").Err(); err != nil {
		return p, "", fmt.Errorf("REPLICAOF %s on %s: %w", p.A.Name, p.B.Name, err)
	}
	_, err = wait.For(ctx, p.B.Name+" to replicate from "+p.A.Name, wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		info, err := bc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up"), "", nil
	})
	return p, "", err
}

// New is the pair's objects in ns running image, not yet created.
func New(env *targets.Env, ns, image string) *Pair {
	a, b, svc := standin.FailoverObjects(ns, image)
	return &Pair{A: a, B: b, Svc: svc, env: env}
}

// Teardown deletes the pair and waits until it is gone.
func (p *Pair) Teardown(ctx context.Context) {
	if p == nil {
		return
	}
	for _, o := range []client.Object{p.A, p.B, p.Svc} {
		objects.DeleteAndForget(ctx, p.env.Client, o)
	}
}

// Connect opens a dataset client to pod (A or B) through a port-forward;
// closeAll closes both.
func (p *Pair) Connect(ctx context.Context, pod *corev1.Pod) (c *redis.Client, closeAll func(), err error) {
	return instance.Connect(ctx, p.env.Config, p.env.Clientset, pod, standin.Port, 2)
}

// KillAndPromote deletes the master A (grace 0) and does what an operator
// would: REPLICAOF NO ONE on B through bc, then, when relabel, moves
// role=master to B. It returns when A was deleted.
func (p *Pair) KillAndPromote(ctx context.Context, bc *redis.Client, relabel bool) (time.Time, error) {
	zero := int64(0)
	if err := p.env.Client.Delete(ctx, p.A, &client.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		return time.Time{}, fmt.Errorf("killing the master %s: %w", p.A.Name, err)
	}
	killedAt := time.Now()
	if err := bc.SlaveOf(ctx, "NO", "ONE").Err(); err != nil {
		return killedAt, fmt.Errorf("REPLICAOF NO ONE on %s: %w", p.B.Name, err)
	}
	if relabel {
		patch := client.MergeFrom(p.B.DeepCopy())
		p.B.Labels[standin.RoleLabel] = "master"
		if err := p.env.Client.Patch(ctx, p.B, patch); err != nil {
			return killedAt, fmt.Errorf("labelling %s master: %w", p.B.Name, err)
		}
	}
	return killedAt, nil
}
