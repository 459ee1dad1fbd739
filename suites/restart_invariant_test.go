//go:build e2e

package suites

import (
	"slices"

	. "github.com/onsi/ginkgo/v2"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/restarts"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

// Suite-wide invariant (as CloudNativePG's suite does for its operator):
// any spec during which the operator restarted fails, unless it is labelled
// disruptive. Where no operator pod runs (envtest, blocked image) there is
// nothing to compare and the invariant holds trivially.
var _ = BeforeEach(func(ctx SpecContext) {
	if k8s == nil {
		return
	}
	pods, err := operatorpods.List(ctx, k8s)
	if err != nil {
		return
	}
	before := restarts.Take(pods)
	DeferCleanup(func(ctx SpecContext) {
		if slices.Contains(CurrentSpecReport().Labels(), LabelDisruptive) {
			return
		}
		pods, err := operatorpods.List(ctx, k8s)
		if err != nil {
			return
		}
		if err := restarts.Check(before, restarts.Take(pods)); err != nil {
			Fail(err.Error())
		}
	})
})
