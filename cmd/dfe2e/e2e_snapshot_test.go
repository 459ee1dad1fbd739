package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/types"
)

func TestSnapshotTargetFlag(t *testing.T) {
	for _, ok := range []string{"", "dragonfly", "redis-standin", "dragonfly,redis-standin"} {
		if err := checkSnapshotTarget(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	if err := checkSnapshotTarget("redis"); err == nil || !strings.Contains(err.Error(), "redis-standin") {
		t.Errorf("unknown target: got %v, want the valid ones listed", err)
	}
}

// A pass on the stand-in is listed with the stand-in named and counted
// apart in the summary: never a silent Dragonfly pass.
func TestStandInPassesAreCountedApart(t *testing.T) {
	standin := "redis-server, unmanaged — not Dragonfly"
	rep := []types.Report{{SuiteDescription: "s", SuiteSucceeded: true, SpecReports: types.SpecReports{
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "keeps every key", State: types.SpecStatePassed,
			ReportEntries: types.ReportEntries{{Name: "dfe2e.stand-in", Value: types.WrapEntryValue(standin)}}},
		{LeafNodeType: types.NodeTypeIt, LeafNodeText: "installs", State: types.SpecStatePassed},
	}}}
	p := filepath.Join(t.TempDir(), "r.json")
	b, _ := json.Marshal(rep)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &runRecord{}
	sum, err := summarizeSpecs(rec, p)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Passed != 2 || !strings.Contains(rec.Summary, "1 passed on a stand-in ("+standin+"), not Dragonfly verdicts") {
		t.Fatalf("summary %q", rec.Summary)
	}
	if len(rec.Specs) != 1 || !strings.Contains(rec.Specs[0].Reason, standin) {
		t.Fatalf("specs %+v", rec.Specs)
	}
}
