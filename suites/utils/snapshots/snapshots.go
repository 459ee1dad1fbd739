// Package snapshots is one target's run of the snapshot suite: deployed
// once, loaded with the dataset, then disrupted spec by spec and checked.
package snapshots

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

// Seed seeds every dataset the data suites write (specs add to it for
// datasets of their own).
const Seed = 20261126

// DatasetSpec is the suites' dataset: dataset.DefaultKeys keys, or
// DFE2E_DATASET_KEYS of s.
func DatasetSpec(s config.Settings) (dataset.Spec, error) {
	n := dataset.DefaultKeys
	k, set, err := s.DatasetKeysValue()
	if err != nil {
		return dataset.Spec{}, err
	}
	if set {
		n = k
	}
	return dataset.Spec{Keys: n, Seed: Seed}, nil
}

// Run is one target's state across the ordered specs.
type Run struct {
	Target targets.Target
	Key    string // targets.DragonflyKey | targets.StandInKey
	Skip   string // why every spec skips (not selected, or blocked)
	DS     dataset.Spec
	Loaded bool
	// PodNode is the node of the master last forwarded to.
	PodNode string

	Env *targets.Env
	// Metric records a metric of the current spec.
	Metric func(reports.Metric)
}

// New is key's run over the suite's target for it, skipped unless the
// DFE2E_SNAPSHOT_TARGET value setting selects it.
func New(key, setting string, env *targets.Env, metric func(reports.Metric)) *Run {
	r := &Run{Key: key, Env: env, Metric: metric, Skip: targets.NotSelected(key, setting)}
	switch key {
	case targets.DragonflyKey:
		r.Target = &targets.Dragonfly{Name: instances.Snapshot, Env: env}
	case targets.StandInKey:
		r.Target = &targets.StandIn{Options: standin.Default(instances.Namespace, ""), Env: env}
	}
	return r
}

// Forward opens a port-forward to the target's current master on port
// (served from a container started after since); the caller closes it.
func (r *Run) Forward(ctx context.Context, port int, since time.Time) (*instance.Forward, *corev1.Pod, error) {
	m, err := r.Target.Master(ctx, since)
	if err != nil {
		return nil, nil, err
	}
	f, err := instance.PortForward(ctx, r.Env.Config, r.Env.Clientset, m.Namespace, m.Name, port)
	if err != nil {
		return nil, nil, err
	}
	r.PodNode = m.Spec.NodeName
	return f, m, nil
}

// Connect opens a dataset client of pool connections to the target's
// current master on port (served from a container started after since),
// through a port-forward; closeAll closes both.
func (r *Run) Connect(ctx context.Context, port, pool int, since time.Time) (c *redis.Client, master *corev1.Pod, closeAll func(), err error) {
	m, err := r.Target.Master(ctx, since)
	if err != nil {
		return nil, nil, nil, err
	}
	c, closeAll, err = instance.Connect(ctx, r.Env.Config, r.Env.Clientset, m, port, pool)
	if err != nil {
		return nil, nil, nil, err
	}
	r.PodNode = m.Spec.NodeName
	return c, m, closeAll, nil
}

// Survived waits for the target to serve again after a disruption at since,
// records the time to Ready, and verifies the dataset: nil when no key was
// lost, else an error naming the lost keys and where the snapshot dir lives.
func (r *Run) Survived(ctx context.Context, kind, detail string, since time.Time) error {
	t := r.Target
	disruption := kind + " (" + detail + ")"
	m, err := t.Master(ctx, since)
	if err != nil {
		return fmt.Errorf("%s did not serve again after %s: %w", t.Label(), disruption, err)
	}
	ready := time.Since(since)
	// Named by target and kind of disruption only, so runs compare.
	r.Metric(reports.Metric{Name: fmt.Sprintf("%s: time to Ready after %s", t.Label(), kind), Unit: "s",
		Better: reports.Lower, Values: []float64{ready.Seconds()}})
	r.Env.Logf("%s: Ready %s after %s (pod %s)\n", t.Label(), ready.Round(100*time.Millisecond), disruption, m.Name)
	c, closeAll, err := instance.Connect(ctx, r.Env.Config, r.Env.Clientset, m, t.DataPort(), 4)
	if err != nil {
		return err
	}
	defer closeAll()
	v, err := dataset.Verify(ctx, c, r.DS, dataset.Options{})
	if err != nil {
		return err
	}
	r.Env.Logf("%s after %s: %s (verified in %s)\n", t.Label(), disruption, v, v.Duration.Round(time.Millisecond))
	if v.Lost() == 0 && v.ExtraCount == 0 {
		return nil
	}
	where, _ := standin.DirVolume(m, t.Container(), t.SnapshotDir())
	return fmt.Errorf("%s lost data across %s: %s — %s", t.Label(), disruption, v, where)
}

// SnapshotsBounded takes one snapshot, then four more with changes between
// them, and fails when the snapshot dir holds more files than after the
// first: a dir that grows with every snapshot fills the volume.
func (r *Run) SnapshotsBounded(ctx context.Context) error {
	t := r.Target
	c, m, closeAll, err := r.Connect(ctx, t.AdminPort(), 1, time.Time{})
	if err != nil {
		return err
	}
	defer closeAll()
	if err := t.Save(ctx, c); err != nil {
		return fmt.Errorf("SAVE on %s: %w", t.Label(), err)
	}
	first, err := r.SnapshotFiles(ctx, m)
	if err != nil {
		return err
	}
	if len(first) == 0 {
		return fmt.Errorf("no file in snapshot dir %s of %s after SAVE", t.SnapshotDir(), m.Name)
	}
	for i := 0; i < 4; i++ {
		if err := c.Set(ctx, "dfe2e:snapshot-round", i, 0).Err(); err != nil {
			return err
		}
		if err := t.Save(ctx, c); err != nil {
			return fmt.Errorf("SAVE on %s: %w", t.Label(), err)
		}
	}
	if err := c.Del(ctx, "dfe2e:snapshot-round").Err(); err != nil {
		return err
	}
	after, err := r.SnapshotFiles(ctx, m)
	if err != nil {
		return err
	}
	r.Env.Logf("snapshot dir %s: after 1 SAVE %v, after 5 %v\n", t.SnapshotDir(), first, after)
	return Bounded(t.SnapshotDir(), first, after)
}

// Bounded is the verdict on the snapshot dir's files after one SAVE and
// after five.
func Bounded(dir string, first, after []string) error {
	if len(after) > len(first) {
		return fmt.Errorf("snapshot dir %s grows with every snapshot: %d files after one SAVE, %d after five (%s) — the volume will fill",
			dir, len(first), len(after), strings.Join(after, " "))
	}
	return nil
}

// SnapshotFiles lists the snapshot dir of the master m.
func (r *Run) SnapshotFiles(ctx context.Context, m *corev1.Pod) ([]string, error) {
	out, err := instance.Exec(ctx, r.Env.Config, r.Env.Clientset, m.Namespace, m.Name, r.Target.Container(), r.Target.LsCommand()...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}
