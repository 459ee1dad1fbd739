package nodes

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
)

func node(name string, images ...string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: images}}}}
}

func TestEnsureImage(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(node("a", "dfe2e.local/standin:1"), node("b"))
	blocked, err := EnsureImage(ctx, c, "kubeconfig", "dfe2e.local/standin:1", "/cache/standin.tar", t.Logf)
	if err != nil || !strings.Contains(blocked, "image dfe2e.local/standin:1 is not on node b") || !strings.Contains(blocked, "ctr -n k8s.io images import /cache/standin.tar") || strings.Contains(blocked, "--image-archive") {
		t.Fatalf("outside kind a missing image is blocked with the remedy: %q, %v", blocked, err)
	}
	blocked, err = EnsureImage(ctx, fakecluster.Client(node("a", "dfe2e.local/standin:1")), "kubeconfig", "dfe2e.local/standin:1", "x.tar", t.Logf)
	if blocked != "" || err != nil {
		t.Fatalf("every node has it: %q, %v", blocked, err)
	}
}

func TestReady(t *testing.T) {
	ctx := context.Background()
	n := node("a")
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}
	c := fakecluster.Client(n, node("b"))
	if ok, state, _ := Ready(ctx, c, "a"); ok || state != "Ready=False" {
		t.Errorf("a: %v %q", ok, state)
	}
	if ok, state, _ := Ready(ctx, c, "b"); ok || state != "no Ready condition" {
		t.Errorf("b: %v %q", ok, state)
	}
	if ok, _, err := Ready(ctx, c, "gone"); ok || err != nil {
		t.Errorf("a missing node is not Ready and not an error (the API may be restarting): %v %v", ok, err)
	}
}
