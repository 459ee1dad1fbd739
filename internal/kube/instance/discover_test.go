package instance

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

func pod(name, role string, ready bool) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: name, Labels: map[string]string{dfapi.AppLabel: "test-replicated"}}}
	if role != "" {
		p.Labels[dfapi.RoleLabel] = role
	}
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}
	return p
}

func dragonfly(phase string, replicas int64) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(dfapi.GVK)
	u.SetNamespace("database")
	u.SetName("test-replicated")
	_ = unstructured.SetNestedField(u.Object, replicas, "spec", "replicas")
	if phase != "" {
		_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
	}
	return u
}

// After a failover the master is pod-2: found by its label, not its ordinal.
func TestMasterIsFoundByRoleLabelNotOrdinal(t *testing.T) {
	c := fakecluster.Client(dragonfly("Ready", 3),
		pod("test-replicated-0", dfapi.RoleReplica, true), pod("test-replicated-1", dfapi.RoleReplica, true), pod("test-replicated-2", dfapi.RoleMaster, true))
	r, err := Discover(context.Background(), c, "database", "test-replicated")
	if err != nil {
		t.Fatal(err)
	}
	if r.Master == nil || r.Master.Name != "test-replicated-2" || len(r.Others) != 2 {
		t.Fatalf("got master %v, replicas %d", r.Master, len(r.Others))
	}
	if ok, state := r.Ready(); !ok {
		t.Fatalf("not ready: %s", state)
	}
}

func TestNotReadyStatesAreNamed(t *testing.T) {
	cases := map[string]struct {
		df   *unstructured.Unstructured
		pods []client.Object
		want string
	}{
		"phase":        {dragonfly("Configuring", 3), nil, `phase "Configuring"`},
		"no master":    {dragonfly("Ready", 3), []client.Object{pod("test-replicated-0", dfapi.RoleReplica, true), pod("test-replicated-1", "", true)}, "no pod labelled role=master"},
		"replica down": {dragonfly("Ready", 3), []client.Object{pod("test-replicated-0", dfapi.RoleMaster, true), pod("test-replicated-1", dfapi.RoleReplica, false), pod("test-replicated-2", dfapi.RoleReplica, true)}, "1 of 2 replicas Ready"},
	}
	for name, tc := range cases {
		c := fakecluster.Client(append([]client.Object{tc.df}, tc.pods...)...)
		r, err := Discover(context.Background(), c, "database", "test-replicated")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if ok, state := r.Ready(); ok || !strings.Contains(state, tc.want) {
			t.Errorf("%s: ready %v %q, want not ready %q", name, ok, state, tc.want)
		}
	}
}

// Two pods labelled master: a split brain, reported by name.
func TestTwoMastersIsAnError(t *testing.T) {
	c := fakecluster.Client(dragonfly("Ready", 2), pod("test-replicated-0", dfapi.RoleMaster, true), pod("test-replicated-1", dfapi.RoleMaster, true))
	_, err := Discover(context.Background(), c, "database", "test-replicated")
	if err == nil || !strings.Contains(err.Error(), "test-replicated-0, test-replicated-1") {
		t.Fatalf("got %v, want both masters named", err)
	}
}

func TestMissingDragonflyIsAnError(t *testing.T) {
	c := fakecluster.Client()
	if _, err := Discover(context.Background(), c, "database", "nope"); err == nil || !strings.Contains(err.Error(), "database/nope") {
		t.Fatalf("got %v", err)
	}
}
