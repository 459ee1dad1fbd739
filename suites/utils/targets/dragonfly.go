package targets

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

// DefaultSnapshotDir is the operator's default --dir, where it mounts the claim.
const DefaultSnapshotDir = "/dragonfly/snapshots"

// Dragonfly is the CRD-managed instance Name of fixtures/instances.
type Dragonfly struct {
	Name string
	Env  *Env
}

func (t *Dragonfly) Label() string       { return "Dragonfly " + instances.Namespace + "/" + t.Name }
func (t *Dragonfly) StandIn() string     { return t.Env.DataPlaneStandIn }
func (t *Dragonfly) Container() string   { return "dragonfly" }
func (t *Dragonfly) DataPort() int       { return 6379 }
func (t *Dragonfly) AdminPort() int      { return 9999 }
func (t *Dragonfly) LsCommand() []string { return []string{"ls", "-1", t.SnapshotDir()} }

func (t *Dragonfly) Save(ctx context.Context, c *redis.Client) error {
	return saveBetweenBackgroundSaves(ctx, c, t.Label())
}

// SnapshotDir is the fixture's spec.snapshot.dir, or the operator's default.
func (t *Dragonfly) SnapshotDir() string {
	u, err := instances.Get(t.Name)
	if err != nil {
		return "?"
	}
	if d, _, _ := unstructured.NestedString(u.Object, "spec", "snapshot", "dir"); d != "" {
		return d
	}
	return DefaultSnapshotDir
}

func (t *Dragonfly) Deploy(ctx context.Context) (string, error) {
	// An image override (with the image loaded by dfe2e e2e --image-archive)
	// runs the same specs unchanged.
	if img := t.Env.OperatorImage; img != "" {
		if err := operatorpods.SetImage(ctx, t.Env.Client, img); err != nil {
			return "", err
		}
	}
	// The operator first: without it nothing reconciles the instance.
	if blocked, err := operatorpods.Running(ctx, t.Env.Client, t.Env.Clientset); blocked != "" || err != nil {
		return blocked, err
	}
	u, err := instances.Get(t.Name)
	if err != nil {
		return "", err
	}
	if err := WithStorageClass(u, t.Env.StorageClass); err != nil {
		return "", err
	}
	t.Teardown(ctx)
	if err := t.Env.Client.Create(ctx, u); err != nil {
		return "", fmt.Errorf("creating Dragonfly %s: %w", t.Name, err)
	}
	return PodsBlocked(ctx, t.Env.Client, t.Env.Clientset, instances.Namespace, map[string]string{dfapi.AppLabel: t.Name}, "Dragonfly "+t.Name)
}

func (t *Dragonfly) Master(ctx context.Context, since time.Time) (*corev1.Pod, error) {
	var m *corev1.Pod
	_, err := wait.For(ctx, "Dragonfly "+t.Name+" to be Ready with a master started after "+since.Format(time.TimeOnly), wait.DragonflyReady, func(ctx context.Context) (bool, string, error) {
		r, err := instance.Discover(ctx, t.Env.Client, instances.Namespace, t.Name)
		if err != nil {
			return false, err.Error(), nil
		}
		if ok, state := r.Ready(); !ok {
			return false, state, nil
		}
		if !StartedAfter(r.Master, t.Container(), since) {
			return false, "master " + r.Master.Name + " still shows a container from before", nil
		}
		m = r.Master
		return true, "", nil
	})
	return m, err
}

func (t *Dragonfly) get(ctx context.Context) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dfapi.GVK)
	err := t.Env.Client.Get(ctx, client.ObjectKey{Namespace: instances.Namespace, Name: t.Name}, u)
	return u, err
}

func (t *Dragonfly) Scale(ctx context.Context, n int32) error {
	u, err := t.get(ctx)
	if err != nil {
		return err
	}
	_ = unstructured.SetNestedField(u.Object, int64(n), "spec", "replicas")
	return t.Env.Client.Update(ctx, u)
}

// AppendArg adds arg to the Dragonfly's spec.args, as a user edits the object.
func (t *Dragonfly) AppendArg(ctx context.Context, arg string) error {
	u, err := t.get(ctx)
	if err != nil {
		return err
	}
	args, _, _ := unstructured.NestedStringSlice(u.Object, "spec", "args")
	if err := unstructured.SetNestedStringSlice(u.Object, append(args, arg), "spec", "args"); err != nil {
		return err
	}
	return t.Env.Client.Update(ctx, u)
}

func (t *Dragonfly) PodsGone(ctx context.Context) (bool, string, error) {
	var pods corev1.PodList
	if err := t.Env.Client.List(ctx, &pods, client.InNamespace(instances.Namespace), client.MatchingLabels{dfapi.AppLabel: t.Name}); err != nil {
		return false, err.Error(), nil
	}
	return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items)), nil
}

func (t *Dragonfly) Teardown(ctx context.Context) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dfapi.GVK)
	u.SetNamespace(instances.Namespace)
	u.SetName(t.Name)
	objects.DeleteAndForget(ctx, t.Env.Client, u)
	objects.DeleteClaims(ctx, t.Env.Client, instances.Namespace, "df-"+t.Name+"-")
}

// WithStorageClass sets the class of the instance's snapshot claim
// (spec.snapshot.persistentVolumeClaimSpec.storageClassName) when class is
// set and the instance has a claim; an instance without one is left as it is.
func WithStorageClass(u *unstructured.Unstructured, class string) error {
	if class == "" {
		return nil
	}
	if _, ok, _ := unstructured.NestedMap(u.Object, "spec", "snapshot", "persistentVolumeClaimSpec"); !ok {
		return nil
	}
	return unstructured.SetNestedField(u.Object, class, "spec", "snapshot", "persistentVolumeClaimSpec", "storageClassName")
}
