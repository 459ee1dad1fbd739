//go:build e2e

package suites

import (
	"context"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/restarts"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// operatorPodLabels select the operator's pods (the upstream Deployment's
// selector; there is no app.kubernetes.io/name=dragonfly-operator label).
var operatorPodLabels = client.MatchingLabels{"control-plane": "controller-manager"}

func operatorPods(ctx context.Context) ([]corev1.Pod, error) {
	var pods corev1.PodList
	err := k8s.List(ctx, &pods, client.InNamespace(operator.Namespace), operatorPodLabels)
	return pods.Items, err
}

// Suite-wide invariant (as CloudNativePG's suite does for its operator):
// any spec during which the operator restarted fails, unless it is labelled
// disruptive. Where no operator pod runs (envtest, blocked image) there is
// nothing to compare and the invariant holds trivially.
var _ = BeforeEach(func(ctx SpecContext) {
	if k8s == nil {
		return
	}
	pods, err := operatorPods(ctx)
	if err != nil {
		return
	}
	before := restarts.Take(pods)
	DeferCleanup(func(ctx SpecContext) {
		if slices.Contains(CurrentSpecReport().Labels(), LabelDisruptive) {
			return
		}
		pods, err := operatorPods(ctx)
		if err != nil {
			return
		}
		if err := restarts.Check(before, restarts.Take(pods)); err != nil {
			Fail(err.Error())
		}
	})
})
