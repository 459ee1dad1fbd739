package imagepull

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/verdict"
)

const operatorImage = "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"

func pod(reason string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "op-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-rbac-proxy", Image: "quay.io/brancz/kube-rbac-proxy:v0.16.0"}, {Name: "manager", Image: operatorImage}}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "kube-rbac-proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "manager", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "dial tcp: lookup docker.dragonflydb.io: no such host"}}},
	}
	return p
}

func TestFailingNamesImageAndReason(t *testing.T) {
	for _, r := range []string{"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"} {
		f := Failing([]corev1.Pod{pod(r)})
		if f == nil {
			t.Fatalf("%s not detected", r)
		}
		if f.Image != operatorImage || f.Container != "manager" || f.Reason != r {
			t.Fatalf("%s: got %+v", r, f)
		}
		msg := f.BlockedMessage("operator Deployment Available")
		st, reason, remedy := verdict.ParseSkipMessage(msg)
		if st != verdict.Blocked || !strings.Contains(reason, operatorImage) || !strings.Contains(remedy, "--image-archive") {
			t.Fatalf("%s: blocked message %q parsed as %s / %q / %q", r, msg, st, reason, remedy)
		}
	}
}

// A crash loop or a pod still creating is not an image problem: never blocked.
func TestNotBlocked(t *testing.T) {
	for _, r := range []string{"CrashLoopBackOff", "ContainerCreating", "CreateContainerConfigError"} {
		if f := Failing([]corev1.Pod{pod(r)}); f != nil {
			t.Fatalf("%s reported as image failure: %v", r, f)
		}
	}
	if Failing(nil) != nil {
		t.Fatal("no pods reported as failing")
	}
}

func TestOnNode(t *testing.T) {
	n := corev1.Node{Status: corev1.NodeStatus{Images: []corev1.ContainerImage{
		{Names: []string{"docker.io/library/busybox:1.35.0", "ghcr.io/fluxcd/source-controller:v1.9.5"}},
	}}}
	for img, want := range map[string]bool{
		"busybox:1.35.0": true, "ghcr.io/fluxcd/source-controller:v1.9.5": true,
		operatorImage: false, "busybox": false,
	} {
		if got := OnNode(n, img); got != want {
			t.Errorf("OnNode(%s) = %v, want %v", img, got, want)
		}
	}
}

// Every image that cannot be pulled is named, not only the first.
func TestFailingNamesEveryImage(t *testing.T) {
	p := pod("ErrImagePull")
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
	f := Failing([]corev1.Pod{p})
	if f == nil || f.Image != "quay.io/brancz/kube-rbac-proxy:v0.16.0" || len(f.Others) != 1 || f.Others[0] != operatorImage {
		t.Fatalf("got %+v", f)
	}
	if !strings.Contains(f.String(), operatorImage) {
		t.Fatalf("%q does not name %s", f.String(), operatorImage)
	}
}
