package nodes

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func TestDisruptRefusesAnUnknownDisruption(t *testing.T) {
	err := Disrupt(context.Background(), "dfe2e-worker", "kill")
	if err == nil || !strings.Contains(err.Error(), `unknown node disruption "kill"`) {
		t.Fatal(err)
	}
}

func TestFailoverBoundIsDetectionPlusTheFailoverBudget(t *testing.T) {
	if got := FailoverBound(); got != 110*time.Second {
		t.Fatalf("FailoverBound() = %s, want 50s + FailoverRecovered 60s", got)
	}
}

func readyPod(name, ns, node string, labels map[string]string, ready corev1.ConditionStatus) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
		Spec:   corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
}

func TestEvidenceShowsNodesPodsAndOperator(t *testing.T) {
	w := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "dfe2e-worker"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}}}}
	app := map[string]string{"app": "test-replicated", "role": "master"}
	c := fakecluster.Client(w,
		readyPod("test-replicated-0", "database", "dfe2e-worker", app, corev1.ConditionFalse),
		readyPod("op", operator.Namespace, "dfe2e-worker2", map[string]string{"control-plane": "controller-manager"}, corev1.ConditionTrue))
	ev := Evidence(context.Background(), c, fake.NewSimpleClientset(), "database", map[string]string{"app": "test-replicated"})
	for _, want := range []string{
		"dfe2e-worker Ready=Unknown reason=NodeStatusUnknown",
		`test-replicated-0 on dfe2e-worker phase=Running Ready=False`, `role="master"`,
		"operator op on dfe2e-worker2",
	} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, ev)
		}
	}
}

func TestMoveOperatorOffLeavesAnOperatorElsewhere(t *testing.T) {
	ctx := context.Background()
	op := readyPod("op", operator.Namespace, "dfe2e-worker2", map[string]string{"control-plane": "controller-manager"}, corev1.ConditionTrue)
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "dfe2e-worker"}}
	c := fakecluster.Client(n, op)
	moved, err := MoveOperatorOff(ctx, c, "dfe2e-worker")
	if err != nil || moved {
		t.Fatalf("moved %v, %v", moved, err)
	}
	var got corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: "dfe2e-worker"}, &got); err != nil || got.Spec.Unschedulable {
		t.Fatalf("node cordoned (%v) though the operator was elsewhere", err)
	}
}

func TestCordon(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "w"}})
	var got corev1.Node
	for _, on := range []bool{true, false} {
		if err := Cordon(ctx, c, "w", on); err != nil {
			t.Fatal(err)
		}
		if err := c.Get(ctx, client.ObjectKey{Name: "w"}, &got); err != nil || got.Spec.Unschedulable != on {
			t.Fatalf("unschedulable %v, want %v (%v)", got.Spec.Unschedulable, on, err)
		}
	}
}

func TestSpread(t *testing.T) {
	s := Spread([]corev1.Pod{*readyPod("b", "n", "w1", nil, "True"), *readyPod("a", "n", "w1", nil, "True"), *readyPod("c", "n", "w2", nil, "True")})
	if strings.Join(s["w1"], ",") != "a,b" || strings.Join(s["w2"], ",") != "c" {
		t.Fatal(s)
	}
}

// The planted defect: a Service that routes to no pod after the node failed
// (no promotion). The wait fails at the bound and names the last failure.
func TestRecoveryTimeFailsWhenTheServiceNeverMoves(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := &failover.Writer{Interval: 10 * time.Millisecond, Resolve: func(context.Context) (string, error) {
		return "", errors.New("Service database/test-replicated routes to 0 pods [], want exactly the master")
	}}
	log, done := w.Start(ctx)
	defer func() { cancel(); <-done }()
	start := time.Now()
	_, err := RecoveryTime(ctx, log, start, failover.Kill{At: start, Addr: "127.0.0.1:1"}, 400*time.Millisecond, "node dfe2e-worker was stopped")
	if err == nil || !strings.Contains(err.Error(), "no failover within 400ms of node dfe2e-worker was stopped") || !strings.Contains(err.Error(), "routes to 0 pods") {
		t.Fatalf("err %v", err)
	}
}
