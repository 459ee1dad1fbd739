package run

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// The install and Flux tiers never run an upgrade spec, whatever filter the
// user gives them: those specs replace the operator install on purpose.
func TestOtherTiersNeverSelectUpgradeSpecs(t *testing.T) {
	upgradeSpec := []string{"upgrade", "selftest", "disruptive"}
	for _, f := range []string{DefaultLabels, "health", "selftest || upgrade", ""} {
		lf, err := types.ParseLabelFilter(withoutUpgrade(f))
		if err != nil {
			t.Fatalf("%q: %v", withoutUpgrade(f), err)
		}
		if lf(upgradeSpec) {
			t.Errorf("filter %q selects an upgrade spec", withoutUpgrade(f))
		}
	}
	lf, _ := types.ParseLabelFilter(withoutUpgrade(DefaultLabels))
	if !lf([]string{"selftest"}) || !lf([]string{"install", "api-tier"}) {
		t.Error("the install tier's default filter lost its own specs")
	}
	lf, _ = types.ParseLabelFilter(UpgradeLabel)
	if !lf(upgradeSpec) {
		t.Error("the upgrade tier's filter does not select its planted defect")
	}
}

func TestBadUpgradeVersionNamesThePinnedOnes(t *testing.T) {
	o := Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), Flux: FluxOptions{Skip: true}, Upgrade: UpgradeOptions{Run: true, From: "v1.4.0"}}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "--upgrade-from") || !strings.Contains(err.Error(), "v1.5.0, v1.6.0, v1.6.1") {
		t.Fatalf("--upgrade-from v1.4.0: %v", err)
	}
	o = Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), Flux: FluxOptions{Skip: true}, Offline: true}
	if err := o.Validate(); err != nil {
		t.Fatalf("--skip-flux --offline without --upgrade needs no Flux manifests: %v", err)
	}
	o.Upgrade.Run = true
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--flux-manifests") {
		t.Fatalf("the upgrade tier offline without Flux manifests: %v", err)
	}
}

func TestUpgradeTierIsToldItsVersionsAndImages(t *testing.T) {
	o := Options{Artifacts: "/a", Flux: FluxOptions{Manifests: "/flux"}, Upgrade: UpgradeOptions{Run: true, From: "v1.5.0", To: "v1.6.1"}}
	s := upgradeSettings(suiteSettings(config.Settings{}, o, "kc", airGap{}), o, "dfe2e.local/gitserver:1")
	env := s.ChildEnv()
	for _, want := range []string{"DFE2E_UPGRADE_FROM=v1.5.0", "DFE2E_UPGRADE_TO=v1.6.1", "DFE2E_GITSERVER_IMAGE=dfe2e.local/gitserver:1", "DFE2E_FLUX_MANIFESTS=/flux"} {
		if !slices.Contains(env, want) {
			t.Errorf("the upgrade tier is not told %s", want)
		}
	}
}

func TestBadNodeCountIsBadInputNamingTheLimit(t *testing.T) {
	for _, n := range []int{-1, 5, 9} {
		o := Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), Flux: FluxOptions{Skip: true}, Nodes: n}
		err := o.Validate()
		if err == nil || !strings.Contains(err.Error(), "--nodes") || !strings.Contains(err.Error(), "give 1 to 4") {
			t.Errorf("--nodes %d: %v", n, err)
		}
	}
}

// Without --nodes the host's memory decides, and the run says why; a
// chosen count never adds the node-failure specs to the default filter.
func TestDefaultNodeCountFollowsHostMemory(t *testing.T) {
	for _, c := range []struct {
		avail uint64
		err   error
		want  int
		why   string
	}{
		{20 << 30, nil, 3, "MemAvailable 20.0 GiB ≥ 8.0 GiB"},
		{4 << 30, nil, 1, "MemAvailable 4.0 GiB < 8.0 GiB"},
		{0, errors.New("no /proc/meminfo"), 1, "host memory unknown (no /proc/meminfo)"},
	} {
		o := Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), Flux: FluxOptions{Skip: true},
			LabelFilter: DefaultLabels, HostMemory: func() (uint64, error) { return c.avail, c.err }}
		if err := o.Validate(); err != nil || o.Nodes != c.want || !strings.Contains(o.NodesWhy, c.why) {
			t.Errorf("MemAvailable %d (%v): nodes %d (%s), %v; want %d (%s)", c.avail, c.err, o.Nodes, o.NodesWhy, err, c.want, c.why)
		}
		if o.nodesAsked() != 0 || strings.Contains(nodeFailureFilter(o.LabelFilter, o.nodesAsked()), NodeFailureLabel) {
			t.Errorf("a chosen count of %d nodes selects the node-failure specs", o.Nodes)
		}
	}
	o := Options{Repeat: 1, Suites: "./suites", Artifacts: t.TempDir(), Flux: FluxOptions{Skip: true}, Nodes: 3,
		HostMemory: func() (uint64, error) { return 1 << 30, nil }}
	if err := o.Validate(); err != nil || o.Nodes != 3 || o.NodesWhy != "--nodes 3" || o.nodesAsked() != 3 {
		t.Fatalf("--nodes 3 on a small host: nodes %d (%s), asked %d, %v", o.Nodes, o.NodesWhy, o.nodesAsked(), err)
	}
}

func TestNodeFailureSpecsOnlyWithSeveralNodes(t *testing.T) {
	for _, c := range []struct {
		filter string
		nodes  int
		want   bool
	}{
		{DefaultLabels, 1, false},
		{DefaultLabels, 3, true},
		{"install", 3, false}, // a narrow filter is the user's
		{NodeFailureLabel, 1, true},
	} {
		lf, err := types.ParseLabelFilter(withoutUpgrade(nodeFailureFilter(c.filter, c.nodes)))
		if err != nil {
			t.Fatal(err)
		}
		if got := lf([]string{NodeFailureLabel, "disruptive"}); got != c.want {
			t.Errorf("filter %q, %d nodes: node-failure selected %v, want %v", c.filter, c.nodes, got, c.want)
		}
	}
}
