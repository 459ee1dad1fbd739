package run

import (
	"slices"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// The suites run in a process of their own: what they are told decides
// where their failure dumps land and which images they expect. A setting
// the run does not set must not leak in from the caller's environment.
func TestSuitesAreToldTheRunsSettings(t *testing.T) {
	base := config.Settings{Artifacts: "/elsewhere", DragonflyStandIn: "stale stand-in", Home: "/root"}
	o := Options{Artifacts: "/run/artifacts", OperatorVersion: "v1.6.1", SnapshotTarget: "dragonfly"}
	s := suiteSettings(base, o, "/run/artifacts/kind-dfe2e.kubeconfig", airGap{})
	env := s.ChildEnv()
	for _, want := range []string{"DFE2E_ARTIFACTS=/run/artifacts", "DFE2E_CLUSTER=kind", "DFE2E_OPERATOR_VERSION=v1.6.1",
		"DFE2E_KIND_KUBECONFIG=/run/artifacts/kind-dfe2e.kubeconfig", "KUBECONFIG=/run/artifacts/kind-dfe2e.kubeconfig", "DFE2E_SNAPSHOT_TARGET=dragonfly"} {
		if !slices.Contains(env, want) {
			t.Errorf("the suites are not told %s", want)
		}
	}
	if s.DragonflyStandIn != "" || slices.ContainsFunc(env, func(kv string) bool { return kv == "DFE2E_DRAGONFLY_STANDIN=stale stand-in" }) {
		t.Errorf("a stand-in the run did not choose leaks into the suites: %q", s.DragonflyStandIn)
	}
	s = suiteSettings(base, o, "kc", airGap{dragonfly: "dfe2e.local/dragonfly-contract-standin:1", standIn: "contract stand-in"})
	if s.DragonflyImage != "dfe2e.local/dragonfly-contract-standin:1" || s.DragonflyStandIn != "contract stand-in" {
		t.Errorf("the stand-in is not passed on: %+v", s)
	}
}
