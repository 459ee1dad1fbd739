//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

// bundleSource is how the suites render the operator: with the
// environment's Dragonfly image handed to the manager (--dragonfly-image),
// so the Dragonfly objects stay as users write them.
func bundleSource() operator.SourceOptions {
	return operator.SourceOptions{DragonflyImage: config.FromEnv().DragonflyImage}
}

// dataPlaneStandIn is the stand-in serving the CRD-managed instances, or "":
// every spec whose data plane it serves says so.
func dataPlaneStandIn() string { return config.FromEnv().DragonflyStandIn }

// reportDataPlane marks the current spec as run on a stand-in data plane
// (the operator itself is real): its pass is never a Dragonfly verdict.
func reportDataPlane() {
	if s := dataPlaneStandIn(); s != "" {
		AddReportEntry(reports.StandInEntry, s)
	}
}
