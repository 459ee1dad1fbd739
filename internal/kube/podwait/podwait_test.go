package podwait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

const (
	operatorImage = "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"
	proxyImage    = "quay.io/brancz/kube-rbac-proxy:v0.16.0"
)

var operatorLabels = map[string]string{"control-plane": "controller-manager"}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
}

// operatorPod has the operator's two containers in the given states.
func operatorPod(name string, proxy, manager corev1.ContainerStatus) *corev1.Pod {
	proxy.Name, manager.Name = "kube-rbac-proxy", "manager"
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: name, Labels: operatorLabels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-rbac-proxy", Image: proxyImage}, {Name: "manager", Image: operatorImage}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{proxy, manager}},
	}
}

// crashLoopingManager started and keeps failing on missing RBAC.
func crashLoopingManager() corev1.ContainerStatus {
	return corev1.ContainerStatus{RestartCount: 5, State: waiting("CrashLoopBackOff"),
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}
}

// unrelated is a pod of another workload in the same namespace whose image
// cannot be pulled.
func unrelated() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "test-db-1", Labels: map[string]string{"app": "test-db"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "postgres", Image: "ghcr.io/cloudnative-pg/postgresql:16"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{{Name: "postgres", State: waiting("ImagePullBackOff")}}},
	}
}

func reader(objs ...client.Object) Pods {
	return FromReader(fake.NewClientBuilder().WithObjects(objs...).Build())
}

func notYet(context.Context, []corev1.Pod) (bool, string, error) { return false, "not yet", nil }

// A manager crash-looping beside a sidecar whose image is missing ends the
// wait at once as failed, naming the crash, not as blocked.
func TestWaitPodsFailsOnACrashLoopBesideAMissingImage(t *testing.T) {
	p := operatorPod("op-1", corev1.ContainerStatus{State: waiting("ImagePullBackOff")}, crashLoopingManager())
	start := time.Now()
	err := WaitPods(context.Background(), reader(p), "the operator to run", wait.ImagePullVerdict, "database", labels.SelectorFromSet(operatorLabels), notYet)
	if !errors.Is(err, imagepull.ErrCrashed) || errors.Is(err, imagepull.ErrBlocked) {
		t.Fatalf("WaitPods = %v; want a crash (failed verdict), never blocked", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("took %s; a crash must end the wait at once", time.Since(start))
	}
	for _, want := range []string{"database/op-1", "manager", "restarted 5 times", "exit code 1", proxyImage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not name %q", err, want)
		}
	}
}

func TestWaitPodsIsBlockedOnlyOnItsOwnPods(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	mine := operatorPod("op-1", corev1.ContainerStatus{State: running()}, corev1.ContainerStatus{State: waiting("ContainerCreating")})
	err := WaitPods(ctx, reader(mine, unrelated()), "the operator to run", wait.ImagePullVerdict, "database", labels.SelectorFromSet(operatorLabels), notYet)
	var te *wait.TimeoutError
	if errors.Is(err, imagepull.ErrBlocked) || !errors.As(err, &te) {
		t.Fatalf("WaitPods = %v; an unrelated pod's missing image must not make the operator blocked", err)
	}

	blocked := operatorPod("op-1", corev1.ContainerStatus{State: running()}, corev1.ContainerStatus{State: waiting("ErrImageNeverPull")})
	err = WaitPods(context.Background(), reader(blocked), "the operator to run", wait.ImagePullVerdict, "database", labels.SelectorFromSet(operatorLabels), notYet)
	var be *imagepull.BlockedError
	if !errors.As(err, &be) || be.Failure.Image != operatorImage {
		t.Fatalf("WaitPods = %v; want blocked on %s", err, operatorImage)
	}
}

// Ready is asked first: a pod that restarted once and serves now is done.
func TestWaitPodsAsksReadyFirst(t *testing.T) {
	p := operatorPod("op-1", corev1.ContainerStatus{State: running()}, corev1.ContainerStatus{RestartCount: 1, State: running()})
	err := WaitPods(context.Background(), reader(p), "the operator to run", wait.ImagePullVerdict, "database", labels.SelectorFromSet(operatorLabels),
		func(_ context.Context, pods []corev1.Pod) (bool, string, error) { return len(pods) == 1, "", nil })
	if err != nil {
		t.Fatal(err)
	}
}

func TestWaitPodsRefusesAnEmptySelector(t *testing.T) {
	err := WaitPods(context.Background(), reader(unrelated()), "anything", wait.ImagePullVerdict, "database", labels.Everything(), notYet)
	if err == nil || !strings.Contains(err.Error(), "no pod selector") {
		t.Fatalf("WaitPods with an empty selector = %v; it would read every pod of the namespace", err)
	}
}

func TestCrashCarriesThePreviousLogTail(t *testing.T) {
	p := operatorPod("op-1", corev1.ContainerStatus{State: running()}, crashLoopingManager())
	err := WaitPods(context.Background(), FromClientset(k8sfake.NewSimpleClientset(p)), "the operator to run", wait.ImagePullVerdict,
		"database", labels.SelectorFromSet(operatorLabels), notYet)
	var ce *imagepull.CrashError
	if !errors.As(err, &ce) || ce.LogTail != "fake logs" || !strings.Contains(err.Error(), "previous log of manager:\nfake logs") {
		t.Fatalf("WaitPods = %v; want the crash with the previous log tail", err)
	}
}

func obj(apiVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"namespace": ns, "name": name}}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	return u
}

func TestWorkloads(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "database", nil),
		obj("v1", "ConfigMap", "database", "harmless", nil),
		obj("apps/v1", "Deployment", "database", "dragonfly-operator-controller-manager", map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"control-plane": "controller-manager"}}}),
		obj("apps/v1", "StatefulSet", "database", "cache", map[string]any{
			"selector": map[string]any{"matchExpressions": []any{map[string]any{"key": "app", "operator": "In", "values": []any{"cache"}}}}}),
		obj("dragonflydb.io/v1alpha1", "Dragonfly", "database", "test-cache", map[string]any{"replicas": int64(2)}),
		obj("batch/v1", "Job", "database", "seed", map[string]any{}),
	}
	ws, err := Workloads(objs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range ws {
		got[w.Ref] = w.Namespace + " " + w.Selector.String()
	}
	want := map[string]string{
		"Deployment database/dragonfly-operator-controller-manager": "database control-plane=controller-manager",
		"StatefulSet database/cache":                                "database app in (cache)",
		"Dragonfly database/test-cache":                             "database app=test-cache",
		"Job database/seed":                                         "database batch.kubernetes.io/job-name=seed",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if _, err := Workloads([]*unstructured.Unstructured{obj("apps/v1", "Deployment", "database", "x", map[string]any{})}); err == nil {
		t.Error("a Deployment without a selector was accepted")
	}
}

// A Kustomization that renders no workload (a wrong healthCheck name on a
// harmless tree) is never blocked by another workload's pod that waits on an
// image in the same namespace; one whose own Deployment cannot pull is.
func TestCheckWorkloadsReadsOnlyTheRenderedWorkloads(t *testing.T) {
	ctx := context.Background()
	harmless := []*unstructured.Unstructured{obj("v1", "Namespace", "", "database", nil), obj("v1", "ConfigMap", "database", "harmless", nil)}
	operator := []*unstructured.Unstructured{obj("apps/v1", "Deployment", "database", "dragonfly-operator-controller-manager", map[string]any{
		"selector": map[string]any{"matchLabels": map[string]any{"control-plane": "controller-manager"}}})}

	okPod := operatorPod("op-1", corev1.ContainerStatus{State: running()}, corev1.ContainerStatus{State: running()})
	pods := reader(okPod, unrelated())
	for name, objs := range map[string][]*unstructured.Unstructured{"harmless": harmless, "operator": operator} {
		ws, err := Workloads(objs)
		if err != nil {
			t.Fatal(err)
		}
		if err := pods.CheckWorkloads(ctx, ws); err != nil {
			t.Errorf("%s Kustomization: %v — the unrelated pod test-db-1 waiting on an image must not make it blocked", name, err)
		}
	}

	ws, _ := Workloads(operator)
	blocked := operatorPod("op-1", corev1.ContainerStatus{State: running()}, corev1.ContainerStatus{State: waiting("ErrImagePull")})
	err := reader(blocked, unrelated()).CheckWorkloads(ctx, ws)
	if !errors.Is(err, imagepull.ErrBlocked) || !strings.Contains(err.Error(), "Deployment database/dragonfly-operator-controller-manager") {
		t.Fatalf("CheckWorkloads = %v; want blocked on the operator's own image, naming its Deployment", err)
	}
	crashed := operatorPod("op-1", corev1.ContainerStatus{State: waiting("ErrImagePull")}, crashLoopingManager())
	if err := reader(crashed).CheckWorkloads(ctx, ws); !errors.Is(err, imagepull.ErrCrashed) {
		t.Fatalf("CheckWorkloads = %v; want the crash", err)
	}
}
