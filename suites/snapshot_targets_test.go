//go:build e2e

package suites

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// snapTarget is what the snapshot suite runs against: the CRD-managed
// Dragonfly instance or the redis-server stand-in. The specs are the same.
type snapTarget interface {
	// label names the target in spec texts and metrics.
	label() string
	// standIn is "" for Dragonfly, else the stand-in's description.
	standIn() string
	// deploy creates the target and waits until it serves; blocked is a
	// verdict.BlockedMessage when an image cannot be had.
	deploy(ctx context.Context) (blocked string, err error)
	// master waits until the target serves from a container started after
	// since (so a stale Ready status after a disruption does not count) and
	// returns the pod that takes writes.
	master(ctx context.Context, since time.Time) (*corev1.Pod, error)
	// scale sets the number of pods (0 and back is a disruption).
	scale(ctx context.Context, n int32) error
	// podsGone reports whether no pod of the target is left.
	podsGone(ctx context.Context) (bool, string, error)
	container() string
	dataPort() int
	// adminPort is where SAVE goes (Dragonfly's admin port).
	adminPort() int
	snapshotDir() string
	// lsCommand lists the snapshot dir's files, one per line.
	lsCommand() []string
	// save takes a snapshot now through c (connected to adminPort).
	save(ctx context.Context, c *redis.Client) error
	teardown(ctx context.Context)
}

// restConfig is the suite's cluster config (no client timeout: port-forwards
// and execs are long-lived streams bounded by their contexts).
func restConfig() *rest.Config {
	c, ok := cluster.From(envCtx)
	if !ok {
		Fail("no cluster in the suite context")
	}
	return c.Config
}

// ---- the redis-server stand-in ----

type standinTarget struct{ o standin.Options }

func (t *standinTarget) label() string {
	return fmt.Sprintf("redis-server stand-in %s/%s", t.o.Namespace, t.o.Name)
}
func (t *standinTarget) standIn() string     { return standin.Description }
func (t *standinTarget) container() string   { return standin.Container }
func (t *standinTarget) dataPort() int       { return standin.Port }
func (t *standinTarget) adminPort() int      { return standin.Port }
func (t *standinTarget) snapshotDir() string { return t.o.Dir }
func (t *standinTarget) lsCommand() []string { return []string{"ls", "-1", t.o.Dir} }

func (t *standinTarget) save(ctx context.Context, c *redis.Client) error {
	if t.o.TimestampedSnapshots {
		// Each snapshot under its own name, as dump-{timestamp} does.
		name := fmt.Sprintf("dump-%d.rdb", time.Now().UnixNano())
		if err := c.ConfigSet(ctx, "dbfilename", name).Err(); err != nil {
			return err
		}
	}
	return c.Save(ctx).Err()
}

func (t *standinTarget) deploy(ctx context.Context) (string, error) {
	img, err := images.EnsureStandIn(ctx, func(f string, a ...any) { GinkgoWriter.Printf(f+"\n", a...) })
	if err != nil {
		return "", fmt.Errorf("building the stand-in image: %w", err)
	}
	t.o.Image = img.Ref
	if blocked, err := ensureImageOnNode(ctx, img.Ref, img.Archive); blocked != "" || err != nil {
		return blocked, err
	}
	t.teardown(ctx) // leftovers of an interrupted run
	svc, sts := t.o.Objects()
	for _, o := range []client.Object{svc, sts} {
		if err := k8s.Create(ctx, o); err != nil {
			return "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	return podsBlocked(ctx, t.o.Namespace, t.o.Labels(), "stand-in "+t.o.Name)
}

func (t *standinTarget) pods(ctx context.Context) ([]corev1.Pod, error) {
	var pods corev1.PodList
	err := k8s.List(ctx, &pods, client.InNamespace(t.o.Namespace), client.MatchingLabels(t.o.Labels()))
	return pods.Items, err
}

func (t *standinTarget) master(ctx context.Context, since time.Time) (*corev1.Pod, error) {
	var p *corev1.Pod
	_, err := wait.For(ctx, "stand-in "+t.o.Name+" to have one Ready pod started after "+since.Format(time.TimeOnly), wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		pods, err := t.pods(ctx)
		if err != nil {
			return false, err.Error(), nil
		}
		for i := range pods {
			if pods[i].DeletionTimestamp == nil && instance.PodReady(&pods[i]) && startedAfter(&pods[i], t.container(), since) {
				p = &pods[i]
				return true, "", nil
			}
		}
		return false, fmt.Sprintf("%d pods, none Ready and started since", len(pods)), nil
	})
	return p, err
}

func (t *standinTarget) scale(ctx context.Context, n int32) error {
	var sts appsv1.StatefulSet
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: t.o.Namespace, Name: t.o.Name}, &sts); err != nil {
		return err
	}
	sts.Spec.Replicas = &n
	return k8s.Update(ctx, &sts)
}

func (t *standinTarget) podsGone(ctx context.Context) (bool, string, error) {
	pods, err := t.pods(ctx)
	if err != nil {
		return false, err.Error(), nil
	}
	return len(pods) == 0, fmt.Sprintf("%d pods left", len(pods)), nil
}

func (t *standinTarget) teardown(ctx context.Context) {
	svc, sts := t.o.Objects()
	deleteAndForget(ctx, sts)
	deleteAndForget(ctx, svc)
	deleteClaims(ctx, t.o.Namespace, "data-"+t.o.Name+"-")
}

// ---- the CRD-managed Dragonfly instance ----

type dragonflyTarget struct{ name string }

func (t *dragonflyTarget) label() string       { return "Dragonfly " + instances.Namespace + "/" + t.name }
func (t *dragonflyTarget) standIn() string     { return dataPlaneStandIn() }
func (t *dragonflyTarget) container() string   { return "dragonfly" }
func (t *dragonflyTarget) dataPort() int       { return 6379 }
func (t *dragonflyTarget) adminPort() int      { return 9999 }
func (t *dragonflyTarget) lsCommand() []string { return []string{"ls", "-1", t.snapshotDir()} }

func (t *dragonflyTarget) save(ctx context.Context, c *redis.Client) error {
	return c.Save(ctx).Err()
}

func (t *dragonflyTarget) snapshotDir() string {
	u, err := instances.Get(t.name)
	if err != nil {
		return "?"
	}
	if d, _, _ := unstructured.NestedString(u.Object, "spec", "snapshot", "dir"); d != "" {
		return d
	}
	return "/dragonfly/snapshots" // the operator's default --dir, where it mounts the claim
}

func (t *dragonflyTarget) deploy(ctx context.Context) (string, error) {
	// An image override (with the image loaded by dfe2e e2e --image-archive)
	// runs the same specs unchanged.
	if img := config.FromEnv().OperatorImage; img != "" {
		if err := setOperatorImage(ctx, img); err != nil {
			return "", err
		}
	}
	// The operator first: without it nothing reconciles the instance.
	if blocked, err := operatorRunning(ctx); blocked != "" || err != nil {
		return blocked, err
	}
	u, err := instances.Get(t.name)
	if err != nil {
		return "", err
	}
	t.teardown(ctx)
	if err := k8s.Create(ctx, u); err != nil {
		return "", fmt.Errorf("creating Dragonfly %s: %w", t.name, err)
	}
	return podsBlocked(ctx, instances.Namespace, map[string]string{instance.AppLabel: t.name}, "Dragonfly "+t.name)
}

func (t *dragonflyTarget) master(ctx context.Context, since time.Time) (*corev1.Pod, error) {
	var m *corev1.Pod
	_, err := wait.For(ctx, "Dragonfly "+t.name+" to be Ready with a master started after "+since.Format(time.TimeOnly), wait.DragonflyReady, func(ctx context.Context) (bool, string, error) {
		r, err := instance.Discover(ctx, k8s, instances.Namespace, t.name)
		if err != nil {
			return false, err.Error(), nil
		}
		if ok, state := r.Ready(); !ok {
			return false, state, nil
		}
		if !startedAfter(r.Master, t.container(), since) {
			return false, "master " + r.Master.Name + " still shows a container from before", nil
		}
		m = r.Master
		return true, "", nil
	})
	return m, err
}

func (t *dragonflyTarget) scale(ctx context.Context, n int32) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(instance.GVK)
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: instances.Namespace, Name: t.name}, u); err != nil {
		return err
	}
	_ = unstructured.SetNestedField(u.Object, int64(n), "spec", "replicas")
	return k8s.Update(ctx, u)
}

func (t *dragonflyTarget) podsGone(ctx context.Context) (bool, string, error) {
	var pods corev1.PodList
	if err := k8s.List(ctx, &pods, client.InNamespace(instances.Namespace), client.MatchingLabels{instance.AppLabel: t.name}); err != nil {
		return false, err.Error(), nil
	}
	return len(pods.Items) == 0, fmt.Sprintf("%d pods left", len(pods.Items)), nil
}

func (t *dragonflyTarget) teardown(ctx context.Context) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(instance.GVK)
	u.SetNamespace(instances.Namespace)
	u.SetName(t.name)
	deleteAndForget(ctx, u)
	deleteClaims(ctx, instances.Namespace, "df-"+t.name+"-")
}

// ---- shared helpers ----

// startedAfter reports whether container c of p is running since after t
// (truncated to seconds, as the API reports it).
func startedAfter(p *corev1.Pod, c string, t time.Time) bool {
	for _, st := range p.Status.ContainerStatuses {
		if st.Name == c && st.State.Running != nil {
			return !st.State.Running.StartedAt.Time.Before(t.Truncate(time.Second))
		}
	}
	return false
}

// operatorRunning waits until an operator pod is Ready, or blocked when its
// image cannot be pulled.
func operatorRunning(ctx context.Context) (string, error) {
	var seen []corev1.Pod
	err := podwait.WaitPods(ctx, podwait.FromReader(k8s).WithLogs(clientset), "the operator pod (control-plane=controller-manager) in "+operator.Namespace+" to be Ready",
		wait.ImagePullVerdict, operator.Namespace, labels.SelectorFromSet(labels.Set{"control-plane": "controller-manager"}),
		func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			seen = pods
			for i := range pods {
				if instance.PodReady(&pods[i]) {
					return true, "", nil
				}
			}
			return false, fmt.Sprintf("%d operator pods, none Ready", len(pods)), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		return verdict.BlockedMessage(
			"the operator cannot start: "+be.Failure.String()+"; images its pod needs that the node lacks: "+strings.Join(imagesNotOnNode(ctx, seen), ", ")+
				"; the instance then needs the Dragonfly image (spec.image, default docker.dragonflydb.io/dragonflydb/dragonfly at the operator's pinned tag)",
			"supply the images offline: dfe2e e2e --image-archive=<docker save of each> (or --load-image from the local Docker engine); "+
				"to use other images, set "+config.EnvOperatorImage+" and "+config.EnvDragonflyImage+" — the same specs then run unchanged"), nil
	}
	return "", err
}

// imagesNotOnNode lists the container images of pods absent from their node.
func imagesNotOnNode(ctx context.Context, pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		var n corev1.Node
		if err := k8s.Get(ctx, client.ObjectKey{Name: p.Spec.NodeName}, &n); err != nil {
			continue
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if !imagepull.OnNode(n, c.Image) && !slices.Contains(out, c.Image) {
				out = append(out, c.Image)
			}
		}
	}
	return out
}

// podsBlocked waits until the selected pods either run their containers or
// show that an image cannot be had (then: a blocked message).
func podsBlocked(ctx context.Context, ns string, sel map[string]string, what string) (string, error) {
	err := podwait.WaitPods(ctx, podwait.FromReader(k8s).WithLogs(clientset), what+": pods to start or show an image they cannot get", wait.ImagePullVerdict,
		ns, labels.SelectorFromSet(sel), func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			for _, p := range pods {
				for _, c := range p.Status.ContainerStatuses {
					if c.State.Running != nil {
						return true, "", nil
					}
				}
			}
			return false, fmt.Sprintf("%d pods, no container running yet", len(pods)), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		return verdict.BlockedMessage(what+" cannot start: "+be.Failure.String(),
			imagepull.Remedy(be.Failure.Image)+"; or set "+config.EnvDragonflyImage+" to an image the node has"), nil
	}
	return "", err
}

// ensureImageOnNode loads a locally built archive into the kind node when
// the node lacks the image; on other clusters it is blocked with the remedy.
func ensureImageOnNode(ctx context.Context, ref, archive string) (string, error) {
	var nodes corev1.NodeList
	if err := k8s.List(ctx, &nodes); err != nil {
		return "", err
	}
	for _, n := range nodes.Items {
		if imagepull.OnNode(n, ref) {
			continue
		}
		if provider.Name() != "kind" {
			return verdict.BlockedMessage("image "+ref+" is not on node "+n.Name, "load "+archive+" into the node (dfe2e e2e --image-archive="+archive+")"), nil
		}
		start := time.Now()
		if err := standin.LoadIntoKindNode(ctx, standin.DockerBinary(), n.Name, archive); err != nil {
			return "", err
		}
		GinkgoWriter.Printf("loaded %s into kind node %s in %s\n", ref, n.Name, time.Since(start).Round(time.Millisecond))
	}
	return "", nil
}

// setOperatorImage points the operator Deployment's manager container at img.
func setOperatorImage(ctx context.Context, img string) error {
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d); err != nil {
		return err
	}
	for i := range d.Spec.Template.Spec.Containers {
		if d.Spec.Template.Spec.Containers[i].Name == "manager" {
			d.Spec.Template.Spec.Containers[i].Image = img
		}
	}
	return k8s.Update(ctx, &d)
}

// deleteAndForget deletes o (foreground) and waits until it is gone.
func deleteAndForget(ctx context.Context, o client.Object) {
	err := k8s.Delete(ctx, o, client.PropagationPolicy("Foreground"))
	if apierrors.IsNotFound(err) || (err != nil && strings.Contains(err.Error(), "no matches for kind")) {
		return
	}
	key := client.ObjectKeyFromObject(o)
	_, _ = wait.For(ctx, fmt.Sprintf("%T %s to be deleted", o, key), wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
		err := k8s.Get(ctx, key, o)
		return apierrors.IsNotFound(err), "", nil
	})
}

// deleteClaims removes the PVCs whose names start with prefix (a StatefulSet
// leaves its claims behind on purpose).
func deleteClaims(ctx context.Context, ns, prefix string) {
	var pvcs corev1.PersistentVolumeClaimList
	if err := k8s.List(ctx, &pvcs, client.InNamespace(ns)); err != nil {
		return
	}
	for i := range pvcs.Items {
		if strings.HasPrefix(pvcs.Items[i].Name, prefix) {
			deleteAndForget(ctx, &pvcs.Items[i])
		}
	}
}

// restartKindNode restarts the node container of pod p (kind names the
// container after the node) and waits until the API serves and the node is Ready.
func restartKindNode(ctx context.Context, node string) error {
	out, err := exec.CommandContext(ctx, standin.DockerBinary(), "restart", node).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker restart %s: %w: %s", node, err, out)
	}
	_, err = wait.For(ctx, "kind node "+node+" to be Ready after its container restarted", wait.NodeRestarted, func(ctx context.Context) (bool, string, error) {
		var n corev1.Node
		if err := k8s.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
			return false, err.Error(), nil
		}
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady {
				return c.Status == corev1.ConditionTrue, "Ready=" + string(c.Status), nil
			}
		}
		return false, "no Ready condition", nil
	})
	return err
}
