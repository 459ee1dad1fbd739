package restarts

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func pod(uid string, manager int32) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), Namespace: "database", Name: "dragonfly-operator-controller-manager-" + uid},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "kube-rbac-proxy", RestartCount: 0}, {Name: "manager", RestartCount: manager},
		}},
	}
}

func TestSteadyOperatorPasses(t *testing.T) {
	before := Take([]corev1.Pod{pod("a", 2)})
	if err := Check(before, Take([]corev1.Pod{pod("a", 2)})); err != nil {
		t.Fatal(err)
	}
	// A first start (no pod before) is not a restart.
	if err := Check(Take(nil), Take([]corev1.Pod{pod("a", 0)})); err != nil {
		t.Fatal(err)
	}
}

// Planted restart count: the manager container's restartCount rises by one.
func TestPlantedRestartCountFails(t *testing.T) {
	err := Check(Take([]corev1.Pod{pod("a", 2)}), Take([]corev1.Pod{pod("a", 3)}))
	if err == nil || !strings.Contains(err.Error(), "container manager") || !strings.Contains(err.Error(), "2 → 3") {
		t.Fatalf("planted restart not reported by name: %v", err)
	}
}

// A replaced pod (deleted, recreated by the ReplicaSet) is a restart too.
func TestReplacedPodFails(t *testing.T) {
	err := Check(Take([]corev1.Pod{pod("a", 0)}), Take([]corev1.Pod{pod("b", 0)}))
	if err == nil || !strings.Contains(err.Error(), "replaced") {
		t.Fatalf("replaced pod not reported: %v", err)
	}
}
