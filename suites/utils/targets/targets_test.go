package targets

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

func TestSelection(t *testing.T) {
	if got := Selected(""); !slices.Equal(got, []string{DragonflyKey}) {
		t.Errorf("default: %v", got)
	}
	if got := Selected("dragonfly, redis-standin"); !slices.Equal(got, []string{DragonflyKey, StandInKey}) {
		t.Errorf("list: %v", got)
	}
	if r := NotSelected(DragonflyKey, ""); r != "" {
		t.Errorf("Dragonfly runs by default: %q", r)
	}
	r := NotSelected(StandInKey, "")
	if !strings.Contains(r, "snapshot target redis-standin not selected") || !strings.Contains(r, config.EnvSnapshotTarget+"=dragonfly,redis-standin to run both") {
		t.Errorf("skip reason must say how to select it: %q", r)
	}
	if err := CheckSelected("dragonfly,redis-standin"); err != nil {
		t.Error(err)
	}
	if err := CheckSelected("dragonfly,redis"); err == nil || !strings.Contains(err.Error(), `unknown target "redis"`) {
		t.Errorf("unknown key: %v", err)
	}
}

func running(name string, at time.Time) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(at)}}}
}

func TestStartedAfter(t *testing.T) {
	since := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	p := &corev1.Pod{Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
		running("sidecar", since.Add(time.Hour)),
		running("dragonfly", since.Truncate(time.Second)),
	}}}
	if !StartedAfter(p, "dragonfly", since) {
		t.Error("the API reports whole seconds: the same second counts as after")
	}
	if StartedAfter(p, "dragonfly", since.Add(time.Second)) {
		t.Error("a container from before since counts")
	}
	if StartedAfter(p, "other", time.Time{}) {
		t.Error("a container the pod does not have counts")
	}
	if AnyRunning([]corev1.Pod{{}}) || !AnyRunning([]corev1.Pod{{}, *p}) {
		t.Error("AnyRunning")
	}
}

func TestDragonflySnapshotDir(t *testing.T) {
	off := &Dragonfly{Name: instances.SnapshotOffVolume}
	if d := off.SnapshotDir(); d == DefaultSnapshotDir || d == "?" {
		t.Errorf("the off-volume fixture sets its own dir, got %q", d)
	}
	if got := off.LsCommand(); !slices.Equal(got, []string{"ls", "-1", off.SnapshotDir()}) {
		t.Errorf("LsCommand: %v", got)
	}
	if d := (&Dragonfly{Name: "no-such-fixture"}).SnapshotDir(); d != "?" {
		t.Errorf("unknown fixture: %q", d)
	}
	if l := (&Dragonfly{Name: "x"}).Label(); l != "Dragonfly "+instances.Namespace+"/x" {
		t.Errorf("Label: %q", l)
	}
}

func TestDragonflyEditsTheObjectAsAUser(t *testing.T) {
	ctx := context.Background()
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": int64(3), "args": []any{"--a=1"}}}}
	u.SetGroupVersionKind(dfapi.GVK)
	u.SetNamespace(instances.Namespace)
	u.SetName("df")
	c := fakecluster.Client(u)
	d := &Dragonfly{Name: "df", Env: &Env{Client: c}}
	if err := d.AppendArg(ctx, "--maxclients=10001"); err != nil {
		t.Fatal(err)
	}
	if err := d.Scale(ctx, 0); err != nil {
		t.Fatal(err)
	}
	got, err := d.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	args, _, _ := unstructured.NestedStringSlice(got.Object, "spec", "args")
	n, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas")
	if !slices.Equal(args, []string{"--a=1", "--maxclients=10001"}) || n != 0 {
		t.Fatalf("spec: args %v replicas %d", args, n)
	}
}

func TestStandInScaleAndTeardown(t *testing.T) {
	ctx := context.Background()
	o := standin.Default(instances.Namespace, "img")
	svc, sts := o.Objects()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name + "-0", Labels: o.Labels()}}
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: "data-" + o.Name + "-0"}}
	other := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: o.Namespace, Name: "df-test-snapshot-0"}}
	c := fakecluster.Client(svc, sts, pod, claim, other)
	s := &StandIn{Options: o, Env: &Env{Client: c}}

	if gone, state, _ := s.PodsGone(ctx); gone || state != "1 pods left" {
		t.Errorf("PodsGone: %v %q", gone, state)
	}
	if err := s.Scale(ctx, 0); err != nil {
		t.Fatal(err)
	}
	var got appsv1.StatefulSet
	if err := c.Get(ctx, client.ObjectKeyFromObject(sts), &got); err != nil || *got.Spec.Replicas != 0 {
		t.Fatalf("Scale: %v %v", got.Spec.Replicas, err)
	}
	s.Teardown(ctx)
	var pvcs corev1.PersistentVolumeClaimList
	_ = c.List(ctx, &pvcs)
	if len(pvcs.Items) != 1 || pvcs.Items[0].Name != other.Name {
		t.Errorf("Teardown must remove the stand-in's claims only: %v", pvcs.Items)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(sts), &got); err == nil {
		t.Error("the StatefulSet survived Teardown")
	}
	if s.StandIn() != standin.Description || s.SnapshotDir() != o.Dir {
		t.Error("StandIn describes itself and uses its --dir")
	}
}

// The storage class given to the run reaches the claim of every instance
// fixture that has one; a fixture left on its own class (local-path, the
// planted defect on a cluster without it) is named.
func TestWithStorageClassReachesEverySnapshotClaim(t *testing.T) {
	for _, name := range instances.Names() {
		u, err := instances.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		_, hasClaim, _ := unstructured.NestedMap(u.Object, "spec", "snapshot", "persistentVolumeClaimSpec")
		if err := WithStorageClass(u, "gold"); err != nil {
			t.Fatal(err)
		}
		got, _, _ := unstructured.NestedString(u.Object, "spec", "snapshot", "persistentVolumeClaimSpec", "storageClassName")
		if hasClaim && got != "gold" {
			t.Errorf("instance %s: snapshot claim on class %q, want the run's gold", name, got)
		}
		if !hasClaim && got != "" {
			t.Errorf("instance %s has no snapshot claim but got class %q", name, got)
		}
	}
	u, _ := instances.Get(instances.Snapshot)
	if WithStorageClass(u, ""); u.Object["spec"].(map[string]any)["snapshot"].(map[string]any)["persistentVolumeClaimSpec"].(map[string]any)["storageClassName"] != "local-path" {
		t.Error("without a class the fixture keeps its own")
	}
}

func TestStandInClaimUsesTheRunsStorageClass(t *testing.T) {
	o := standin.Default(instances.Namespace, "img")
	o.StorageClass = "gold"
	_, sts := o.Objects()
	if c := sts.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; c == nil || *c != "gold" {
		t.Fatalf("stand-in claim class %v, want gold", c)
	}
}
