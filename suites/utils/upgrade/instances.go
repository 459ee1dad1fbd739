package upgrade

import (
	"context"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/sampling"
)

// Settle is how long an instance must stay settled before a hop counts it
// as done: the new operator reconciles every instance once it starts, and a
// StatefulSet it updates a moment after a first look must not be missed.
const Settle = 5 * time.Second

// Settled says whether an instance is done with a hop: its StatefulSet saw
// its latest spec, every pod runs the update revision, Ready and not
// terminating, the operator reports phase Ready with one master.
func Settled(ctx context.Context, c client.Client, in fixture.Instance) (bool, string, error) {
	var sts appsv1.StatefulSet
	if err := c.Get(ctx, client.ObjectKey{Namespace: fixture.Namespace, Name: in.Name}, &sts); err != nil {
		return false, err.Error(), nil
	}
	if sts.Status.ObservedGeneration != sts.Generation {
		return false, fmt.Sprintf("StatefulSet %s generation %d not yet observed", in.Name, sts.Generation), nil
	}
	s, err := rollout.Take(ctx, c, fixture.Namespace, in.Name)
	if err != nil {
		return false, err.Error(), nil
	}
	var stale []string
	for _, p := range s.Pods {
		if p.Revision != sts.Status.UpdateRevision || !p.Ready || p.Deleting {
			stale = append(stale, fmt.Sprintf("%s (revision %s, ready %v, terminating %v)", p.Name, p.Revision, p.Ready, p.Deleting))
		}
	}
	if len(s.Pods) != in.Replicas || len(stale) > 0 {
		return false, fmt.Sprintf("%s: %d of %d pods, not at revision %s and Ready: %s", in.Name, len(s.Pods), in.Replicas, sts.Status.UpdateRevision, strings.Join(stale, ", ")), nil
	}
	r, err := instance.Discover(ctx, c, fixture.Namespace, in.Name)
	if err != nil {
		return false, err.Error(), nil
	}
	ok, state := r.Ready()
	return ok, in.Name + ": " + state, nil
}

// WaitSettled waits (RollingUpdateDone) until every instance has been
// Settled for Settle without a break.
func WaitSettled(ctx context.Context, c client.Client, ins []fixture.Instance) (time.Duration, error) {
	var since time.Time
	return wait.For(ctx, fmt.Sprintf("every instance to settle for %s: StatefulSet at its update revision, pods Ready, phase Ready, one master", Settle), wait.RollingUpdateDone,
		func(ctx context.Context) (bool, string, error) {
			for _, in := range ins {
				ok, state, err := Settled(ctx, c, in)
				if err != nil || !ok {
					since = time.Time{}
					return false, state, err
				}
			}
			if since.IsZero() {
				since = time.Now()
			}
			return time.Since(since) >= Settle, "settled since " + since.Format(time.TimeOnly), nil
		})
}

// Watch samples the pods of every instance (sampling.Interval) until the
// returned stop is called; stop returns the samples per instance.
func Watch(ctx context.Context, c client.Client, ins []fixture.Instance) (stop func() map[string][]rollout.Sample) {
	stops := map[string]func() []rollout.Sample{}
	for _, in := range ins {
		stops[in.Name] = sampling.Pods(ctx, c, fixture.Namespace, in.Name, sampling.Interval)
	}
	return func() map[string][]rollout.Sample {
		out := map[string][]rollout.Sample{}
		for n, s := range stops {
			out[n] = s()
		}
		return out
	}
}
