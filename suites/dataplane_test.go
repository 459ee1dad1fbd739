//go:build e2e

package suites

import (
	"os"

	. "github.com/onsi/ginkgo/v2"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

// DragonflyStandInEnvVar names the stand-in behind DragonflyImageEnvVar,
// when the image is one: every spec whose data plane it serves says so.
const DragonflyStandInEnvVar = "DFE2E_DRAGONFLY_STANDIN"

// bundleSource is how the suites render the operator: with the
// environment's Dragonfly image handed to the manager (--dragonfly-image),
// so the Dragonfly objects stay as users write them.
func bundleSource() operator.SourceOptions {
	return operator.SourceOptions{DragonflyImage: os.Getenv(DragonflyImageEnvVar)}
}

// dataPlaneStandIn is the stand-in serving the CRD-managed instances, or "".
func dataPlaneStandIn() string { return os.Getenv(DragonflyStandInEnvVar) }

// reportDataPlane marks the current spec as run on a stand-in data plane
// (the operator itself is real): its pass is never a Dragonfly verdict.
func reportDataPlane() {
	if s := dataPlaneStandIn(); s != "" {
		AddReportEntry(reports.StandInEntry, s)
	}
}
