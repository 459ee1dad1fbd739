package flux

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
)

func deploymentWithPods(pods ...*corev1.Pod) client.Client {
	sel := map[string]string{"control-plane": "controller-manager"}
	objs := []client.Object{&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "op"},
		Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: sel}}}}
	// A pod of another workload in the namespace whose image is missing.
	objs = append(objs, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "other", Labels: map[string]string{"app": "other"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "missing:1",
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}}}}})
	for _, p := range pods {
		p.Labels = sel
		objs = append(objs, p)
	}
	return fake.NewClientBuilder().WithObjects(objs...).Build()
}

func operatorPod(proxy, manager corev1.ContainerState, restarts int32) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "op-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-rbac-proxy", Image: "quay.io/brancz/kube-rbac-proxy:v0.16.0"}, {Name: "manager", Image: "operator:v1"}}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "kube-rbac-proxy", State: proxy}, {Name: "manager", State: manager, RestartCount: restarts}}}}
}

// The manager crash-looping beside a sidecar whose image is missing fails
// the wait at once; it is not blocked.
func TestWaitDeploymentFailsOnACrashLoop(t *testing.T) {
	pull := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
	crash := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	err := WaitDeployment(context.Background(), deploymentWithPods(operatorPod(pull, crash, 3)), "database", "op")
	if !errors.Is(err, imagepull.ErrCrashed) || errors.Is(err, imagepull.ErrBlocked) || !strings.Contains(err.Error(), "manager") {
		t.Fatalf("WaitDeployment = %v; want failed on the crash-looping manager, not blocked", err)
	}

	err = WaitDeployment(context.Background(), deploymentWithPods(operatorPod(pull, corev1.ContainerState{}, 0)), "database", "op")
	var be *imagepull.BlockedError
	if !errors.As(err, &be) || be.Failure.Image != "quay.io/brancz/kube-rbac-proxy:v0.16.0" {
		t.Fatalf("WaitDeployment = %v; want blocked on the sidecar image (and never on the other workload's missing:1)", err)
	}
}
