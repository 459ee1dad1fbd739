package cluster

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func pod(ns, name string, grace int64, set bool) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Pod"}}
	u.SetNamespace(ns)
	u.SetName(name)
	if set {
		_ = unstructured.SetNestedField(u.Object, grace, "spec", "terminationGracePeriodSeconds")
	}
	return u
}

// A namespace with running pods outlives ObjectDeleted by their grace
// period: on kind, cleanup after a SIGTERM timed out on database while its
// pods were still terminating, though it was gone seconds later.
func TestNamespaceGoneBoundCoversTheLongestPodGracePeriod(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"ObjectDeleted":"30s"}`)
	bound, why := namespaceGoneBound([]unstructured.Unstructured{
		pod("database", "test-replicated-0", 30, true),
		pod("database", "slow-0", 120, true),
		pod("database", "quick-0", 0, true),
	})
	if bound != 150*time.Second {
		t.Errorf("bound %s, want ObjectDeleted 30s + the longest grace period 120s", bound)
	}
	if !strings.Contains(why, "database/slow-0") || !strings.Contains(why, "2m0s") || !strings.Contains(why, "ObjectDeleted 30s") {
		t.Errorf("the bound's reason %q does not name ObjectDeleted and the pod with the longest grace period", why)
	}
	if bound, why := namespaceGoneBound([]unstructured.Unstructured{pod("database", "p", 0, false)}); bound != 60*time.Second || !strings.Contains(why, "default pod grace period") {
		t.Errorf("a pod without terminationGracePeriodSeconds gets Kubernetes' default 30s: %s (%s)", bound, why)
	}
	if bound, _ := namespaceGoneBound(nil); bound != 60*time.Second {
		t.Errorf("no pods listed: want ObjectDeleted + the default grace period, got %s", bound)
	}
}

// Planted defect: the namespace wait bounded by ObjectDeleted alone, as
// before — shorter than a pod's grace period, so a namespace still
// terminating its pods is reported as left behind.
func TestNamespaceGoneBoundIsNotObjectDeletedAlone(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"ObjectDeleted":"30s"}`)
	objectDeletedAlone := func([]unstructured.Unstructured) time.Duration { return 30 * time.Second }
	pods := []unstructured.Unstructured{pod("database", "slow-0", 45, true)}
	check := func(bound time.Duration) string {
		if bound < 45*time.Second+30*time.Second {
			return "bound " + bound.String() + " is shorter than pod database/slow-0's grace period 45s plus ObjectDeleted"
		}
		return ""
	}
	if msg := check(objectDeletedAlone(pods)); !strings.Contains(msg, "database/slow-0") {
		t.Fatalf("the check must name the pod the planted bound ignores, got %q", msg)
	}
	bound, _ := namespaceGoneBound(pods)
	if msg := check(bound); msg != "" {
		t.Fatal(msg)
	}
}
