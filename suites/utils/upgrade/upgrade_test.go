package upgrade

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

func fakeClient(objs ...client.Object) client.Client {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func operatorDeployment(available bool) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: operator.Namespace, Name: operator.DeploymentName, Generation: 2},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1}}
	if available {
		d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue}}
	}
	return d
}

func operatorPod(name, version string, restarts int32, waiting string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: operator.Namespace, Name: name, Labels: operatorpods.Labels},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-rbac-proxy", Image: "quay.io/brancz/kube-rbac-proxy:v0.16.0"},
			{Name: operator.ManagerContainer, Image: operator.ManagerImageRepository + ":" + version}}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "kube-rbac-proxy"}, {Name: operator.ManagerContainer, RestartCount: restarts}}}}
	if waiting != "" {
		p.Status.ContainerStatuses[1].State.Waiting = &corev1.ContainerStateWaiting{Reason: waiting}
		p.Status.ContainerStatuses[1].LastTerminationState.Terminated = &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}
	}
	return p
}

func TestReadOperatorGathersTheEvidence(t *testing.T) {
	c := fakeClient(operatorDeployment(true), operatorPod("m-1", "v1.6.1", 3, "CrashLoopBackOff"))
	r, err := ReadOperator(context.Background(), c, nil, "v1.6.1")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Available || len(r.Pods) != 1 {
		t.Fatalf("evidence %+v", r)
	}
	p := r.Pods[0]
	if p.Image != operator.ManagerImageRepository+":v1.6.1" || !p.Ready || len(p.Containers) != 2 {
		t.Fatalf("pod evidence %+v", p)
	}
	m := p.Containers[1]
	if m.Restarts != 3 || m.Waiting != "CrashLoopBackOff" || m.LastReason != "Error" || m.LastExit != 1 {
		t.Fatalf("manager container %+v", m)
	}
	// The judgement reads it as a crash loop.
	if _, _, err := r.Judge(); err == nil || !strings.Contains(err.Error(), "restarted 3 times, now CrashLoopBackOff") {
		t.Fatalf("crash loop not judged: %v", err)
	}
	if _, err := ReadOperator(context.Background(), fakeClient(), nil, "v1.6.1"); err == nil || !strings.Contains(err.Error(), operator.DeploymentName) {
		t.Fatalf("no Deployment: %v", err)
	}
	r, _ = ReadOperator(context.Background(), fakeClient(operatorDeployment(false)), nil, "v1.6.1")
	if r.Available {
		t.Fatal("a Deployment without the Available condition counts as Available")
	}
}

func sts(name, rev string) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: fixture.Namespace, Name: name, Generation: 3},
		Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, UpdateRevision: rev}}
}

func dfPod(inst, name, rev, role string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: fixture.Namespace, Name: name,
		Labels: map[string]string{dfapi.AppLabel: inst, dfapi.RoleLabel: role, rollout.RevisionLabel: rev}},
		Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
}

func dragonfly(name string, replicas int64, phase string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"replicas": replicas}, "status": map[string]any{"phase": phase}}}
	u.SetGroupVersionKind(dfapi.GVK)
	u.SetNamespace(fixture.Namespace)
	u.SetName(name)
	return u
}

func TestSettledNeedsEveryPodAtTheUpdateRevision(t *testing.T) {
	in := fixture.Instance{Name: fixture.Replicated, Replicas: 3}
	ctx := context.Background()
	settled := []client.Object{sts(in.Name, "r2"), dragonfly(in.Name, 3, "Ready"),
		dfPod(in.Name, "p-0", "r2", "master", true), dfPod(in.Name, "p-1", "r2", "replica", true), dfPod(in.Name, "p-2", "r2", "replica", true)}
	if ok, state, err := Settled(ctx, fakeClient(settled...), in); !ok || err != nil {
		t.Fatalf("settled instance: %v %q %v", ok, state, err)
	}
	// A pod still at the old revision: the operator has not replaced it yet.
	stale := append(append([]client.Object{}, settled[:4]...), dfPod(in.Name, "p-2", "r1", "replica", true))
	if ok, state, _ := Settled(ctx, fakeClient(stale...), in); ok || !strings.Contains(state, "p-2 (revision r1") {
		t.Fatalf("old-revision pod: %v %q", ok, state)
	}
	// Every pod updated but the operator still says RollingUpdate.
	rolling := append([]client.Object{sts(in.Name, "r2"), dragonfly(in.Name, 3, "RollingUpdate")}, settled[2:]...)
	if ok, state, _ := Settled(ctx, fakeClient(rolling...), in); ok || !strings.Contains(state, "RollingUpdate") {
		t.Fatalf("phase RollingUpdate: %v %q", ok, state)
	}
	// A replica missing.
	if ok, state, _ := Settled(ctx, fakeClient(settled[:4]...), in); ok || !strings.Contains(state, "2 of 3 pods") {
		t.Fatalf("missing pod: %v %q", ok, state)
	}
}

func TestInstallPresentAndRemove(t *testing.T) {
	in := Install{Kustomizations: []string{"cluster-apps"}, Bundle: []*unstructured.Unstructured{
		{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": operator.Namespace}}},
		{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": map[string]any{"name": "dragonfly-operator-controller-manager", "namespace": operator.Namespace}}},
	}}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operator.Namespace}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: operator.Namespace, Name: "dragonfly-operator-controller-manager"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: fixture.Namespace, Name: "df-" + fixture.Snapshot + "-" + fixture.Snapshot + "-0"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: fixture.Namespace, Name: "df-test-snapshot-test-snapshot-0"}},
	}
	c := fakeClient(objs...)
	ctx := context.Background()
	got := in.Present(ctx, c)
	want := []string{"ServiceAccount/" + operator.Namespace + "/dragonfly-operator-controller-manager", "PersistentVolumeClaim/" + fixture.Namespace + "/df-upgrade-snapshot-upgrade-snapshot-0"}
	if !slices.Equal(got, want) {
		t.Fatalf("Present = %v, want %v (not the shared namespace, not another suite's claim)", got, want)
	}
	removed, err := in.Remove(ctx, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, want) {
		t.Fatalf("Remove reported %v", removed)
	}
	if left := in.Present(ctx, c); len(left) != 0 {
		t.Fatalf("left after Remove: %v", left)
	}
	var ns corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: operator.Namespace}, &ns); err != nil {
		t.Fatalf("the shared namespace was removed: %v", err)
	}
	var pvc corev1.PersistentVolumeClaim
	if err := c.Get(ctx, client.ObjectKey{Namespace: fixture.Namespace, Name: "df-test-snapshot-test-snapshot-0"}, &pvc); err != nil {
		t.Fatalf("another suite's claim was removed: %v", err)
	}
}

func TestDatasetSpecIsSmallUnlessSet(t *testing.T) {
	ds, err := DatasetSpec(config.Settings{})
	if err != nil || ds.Keys != DatasetKeys {
		t.Fatalf("default: %+v %v", ds, err)
	}
	ds, err = DatasetSpec(config.Settings{DatasetKeys: "500"})
	if err != nil || ds.Keys != 500 {
		t.Fatalf("DFE2E_DATASET_KEYS=500: %+v %v", ds, err)
	}
}

// managerImageAndConfigmaps reads, from the rendered operator Kustomization,
// the manager image and whether the manager ClusterRole grants configmaps.
func managerImageAndConfigmaps(t *testing.T, c *Commit) (string, bool) {
	t.Helper()
	k := c.Tree.Kustomization("flux-system", "dragonfly-operator")
	if k == nil {
		t.Fatal("no dragonfly-operator Kustomization rendered")
	}
	image, configmaps := "", false
	for _, o := range k.Objects {
		switch {
		case o.GetKind() == "Deployment" && o.GetName() == operator.DeploymentName:
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			for _, ct := range cs {
				if m := ct.(map[string]any); m["name"] == operator.ManagerContainer {
					image, _ = m["image"].(string)
				}
			}
		case o.GetKind() == "ClusterRole" && o.GetName() == "dragonfly-operator-manager-role":
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				configmaps = configmaps || slices.Contains(res, "configmaps")
			}
		}
	}
	return image, configmaps
}

// The served commits render as Flux renders them: the chain in dependency
// order, the bundle of the commit's release; the tag-only bump runs the new
// manager under the old RBAC, without configmaps.
func TestCommitsRenderTheBundleOfTheirRelease(t *testing.T) {
	src := operator.SourceOptions{Override: config.FromEnv().OperatorSource, CacheDir: t.TempDir()}
	if src.Override == "" {
		t.Fatal(config.EnvOperatorSource + " is not set: run `make test-unit`, or export " + config.EnvOperatorSource + "=../shared/upstream/dragonfly-operator")
	}
	ctx := context.Background()
	c, err := NewCommit(ctx, "v1.6.0", src, nil)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, k := range c.Order {
		order = append(order, k.Name)
	}
	if !slices.Equal(order, []string{"cluster-apps", "dragonfly-operator", "test-cache", fixture.InstancesKS}) {
		t.Fatalf("chain order %v", order)
	}
	if img, cm := managerImageAndConfigmaps(t, c); img != operator.ManagerImageRepository+":v1.6.0" || !cm {
		t.Fatalf("v1.6.0 commit: manager %s, configmaps granted %v", img, cm)
	}
	bad, err := NewCommit(ctx, "v1.5.0", src, func(t fs.FS) (fs.FS, error) { return fixture.TagOnlyBump(t, "v1.6.0") })
	if err != nil {
		t.Fatal(err)
	}
	if img, cm := managerImageAndConfigmaps(t, bad); img != operator.ManagerImageRepository+":v1.6.0" || cm {
		t.Fatalf("tag-only bump: manager %s, configmaps granted %v; want the v1.6.0 manager under v1.5.0 RBAC", img, cm)
	}
	if _, ok := c.Files[fixture.OperatorApp]; !ok {
		t.Fatalf("the served files lack %s", fixture.OperatorApp)
	}
}
