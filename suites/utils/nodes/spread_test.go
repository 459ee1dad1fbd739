package nodes

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func kindNode(name string, ready corev1.ConditionStatus, taints ...corev1.Taint) corev1.Node {
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{Taints: taints},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}}}
}

func TestSchedulableLeavesOutTheTaintedCordonedAndNotReady(t *testing.T) {
	cordoned := kindNode("w3", corev1.ConditionTrue)
	cordoned.Spec.Unschedulable = true
	got := Schedulable([]corev1.Node{
		kindNode("w2", corev1.ConditionTrue),
		kindNode("cp", corev1.ConditionTrue, corev1.Taint{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}),
		kindNode("w1", corev1.ConditionTrue, corev1.Taint{Key: "soft", Effect: corev1.TaintEffectPreferNoSchedule}),
		cordoned,
		kindNode("w4", corev1.ConditionUnknown),
	})
	if strings.Join(got, ",") != "w1,w2" {
		t.Fatalf("schedulable %v, want w1,w2", got)
	}
}

func TestMostPerNode(t *testing.T) {
	for _, c := range []struct{ replicas, nodes, want int }{{3, 3, 1}, {3, 4, 1}, {3, 2, 2}, {3, 1, 3}, {3, 0, 3}} {
		if got := MostPerNode(c.replicas, c.nodes); got != c.want {
			t.Errorf("MostPerNode(%d, %d) = %d, want %d", c.replicas, c.nodes, got, c.want)
		}
	}
}

func on(name, node string) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.PodSpec{NodeName: node}}
}

func TestCheckSpreadPassesAnEvenSpread(t *testing.T) {
	if err := CheckSpread([]corev1.Pod{on("r-0", "w1"), on("r-1", "w2"), on("r-2", "w3")}, []string{"w1", "w2", "w3"}); err != nil {
		t.Fatal(err)
	}
	// Two workers, three pods: two on one node is as even as it gets.
	if err := CheckSpread([]corev1.Pod{on("r-0", "w1"), on("r-1", "w2"), on("r-2", "w1")}, []string{"w1", "w2"}); err != nil {
		t.Fatal(err)
	}
}

// Planted defect: with a node for each pod, two share one (the anti-affinity
// lost, or ignored). The check names the node and both pods.
func TestCheckSpreadNamesTheNodeHoldingTwo(t *testing.T) {
	err := CheckSpread([]corev1.Pod{on("r-0", "w1"), on("r-1", "w2"), on("r-2", "w2")}, []string{"w1", "w2", "w3"})
	if err == nil || !strings.Contains(err.Error(), "node w2 holds 2 pods (r-1, r-2)") || !strings.Contains(err.Error(), "no node holds more than 1 of 3") {
		t.Fatalf("err %v", err)
	}
	// All three on one of two workers.
	err = CheckSpread([]corev1.Pod{on("r-0", "w1"), on("r-1", "w1"), on("r-2", "w1")}, []string{"w1", "w2"})
	if err == nil || !strings.Contains(err.Error(), "node w1 holds 3 pods (r-0, r-1, r-2)") {
		t.Fatalf("err %v", err)
	}
	// A terminating pod does not count; an unplaced one is an error.
	gone := on("r-3", "w1")
	gone.DeletionTimestamp = &metav1.Time{}
	if err := CheckSpread([]corev1.Pod{on("r-0", "w1"), gone, on("r-1", "w2")}, []string{"w1", "w2"}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSpread([]corev1.Pod{on("r-0", "")}, []string{"w1"}); err == nil || !strings.Contains(err.Error(), "r-0 is not placed") {
		t.Fatalf("err %v", err)
	}
}
