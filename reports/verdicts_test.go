package reports_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// ginkgoFile writes one suite run of "suite" holding specs.
func ginkgoFile(t *testing.T, name string, specs ...types.SpecReport) string {
	t.Helper()
	rep := []types.Report{{SuitePath: "/repo/suites", SuiteDescription: "dragonfly-e2e suites", SuiteSucceeded: true, SpecReports: specs}}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func it(text string, line int, state types.SpecState, msg string, entries ...types.ReportEntry) types.SpecReport {
	loc := types.CodeLocation{FileName: "suites/x_test.go", LineNumber: line}
	sr := types.SpecReport{LeafNodeType: types.NodeTypeIt, LeafNodeText: text, LeafNodeLocation: loc, State: state, RunTime: time.Second, ReportEntries: entries}
	if msg != "" {
		sr.Failure = types.Failure{Message: msg, Location: loc}
	}
	return sr
}

func standInEntry(t *testing.T, name string) types.ReportEntry {
	b, _ := json.Marshal(types.WrapEntryValue(name))
	var v types.ReportEntryValue
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return types.ReportEntry{Name: reports.StandInEntry, Value: v}
}

// Two tiers run the same suite binary with different label filters: each
// report lists the other tier's specs as not selected. The run report lists
// every spec once, with the verdict of the tier that ran it.
func TestTiersCountEachSpecOnce(t *testing.T) {
	install := ginkgoFile(t, "install.json",
		it("installs the bundle", 1, types.SpecStatePassed, ""),
		it("has the chain Ready", 2, types.SpecStateSkipped, ""))
	health := ginkgoFile(t, "health.json",
		it("installs the bundle", 1, types.SpecStateSkipped, ""),
		it("has the chain Ready", 2, types.SpecStateFailed, "Kustomization flux-system/test-cache not Ready"))
	r, err := reports.Build(reports.Inputs{Ginkgo: []string{install, health}})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Suites) != 1 || len(r.Suites[0].Specs) != 2 {
		t.Fatalf("want one suite with two specs, got %d suites %+v", len(r.Suites), r.Suites)
	}
	if want := (verdict.Summary{Passed: 1, Failed: 1}); r.Summary != want {
		t.Fatalf("summary %+v, want %+v (each spec once, skips of the other tier dropped)", r.Summary, want)
	}
}

// A run whose only passes are on a stand-in never says PASSED anywhere.
func TestStandInOnlyRunIsNotHeadlinedPassed(t *testing.T) {
	g := ginkgoFile(t, "g.json", it("survives pod deletion", 1, types.SpecStatePassed, "", standInEntry(t, "redis-server, unmanaged — not Dragonfly")))
	r, err := reports.Build(reports.Inputs{Ginkgo: []string{g}})
	if err != nil {
		t.Fatal(err)
	}
	h := r.Headline()
	if strings.Contains(h, "PASSED") || !strings.Contains(h, "NOTHING VERIFIED ON DRAGONFLY") || !strings.Contains(h, "1 spec(s) passed on a stand-in") {
		t.Fatalf("headline %q", h)
	}
	if !strings.Contains(r.Markdown(), "🧪 stand-in (not counted as passed)") || strings.Contains(r.Markdown(), "✅ passed") {
		t.Fatalf("markdown shows the stand-in pass as passed:\n%s", r.Markdown())
	}
	html := r.HTML()
	if !strings.Contains(html, `class="banner b-none"`) || strings.Contains(html, `pill s-passed`) {
		t.Fatalf("html banner or pill shows the stand-in pass as passed")
	}
	j, _ := r.JUnit()
	if !strings.Contains(string(j), `status="stand-in"`) || !strings.Contains(string(j), "not a Dragonfly verdict") || !strings.Contains(string(j), `standIn="1"`) {
		t.Fatalf("junit counts the stand-in pass as a pass:\n%s", j)
	}
	var back map[string]any
	if err := json.Unmarshal(mustJSON(t, r), &back); err != nil {
		t.Fatal(err)
	}
	sum := back["summary"].(map[string]any)
	if sum["Passed"].(float64) != 0 || sum["StandIn"].(float64) != 1 || back["outcome"] != "skipped" {
		t.Fatalf("report.json summary %v outcome %v", sum, back["outcome"])
	}
}

// A failed step (an image build, a suite binary that died) fails the run
// whatever the specs say, in the headline, the outcome and JUnit.
func TestFailedStepFailsTheReport(t *testing.T) {
	g := ginkgoFile(t, "g.json", it("installs the bundle", 1, types.SpecStatePassed, ""))
	r, err := reports.Build(reports.Inputs{Ginkgo: []string{g}})
	if err != nil {
		t.Fatal(err)
	}
	r.Steps = []reports.Step{{Name: "flux: load images into the node", Status: verdict.Failed, Detail: "ctr import: no space left"}}
	if h := r.Headline(); !strings.HasPrefix(h, "FAILED") || !strings.Contains(h, "flux: load images into the node") {
		t.Fatalf("headline %q", h)
	}
	if r.Outcome != verdict.Failed {
		t.Fatalf("outcome %s", r.Outcome)
	}
	j, _ := r.JUnit()
	if !strings.Contains(string(j), `<failure message="ctr import: no space left"`) {
		t.Fatalf("junit hides the failed step:\n%s", j)
	}
	if !strings.Contains(r.Markdown(), "| ❌ failed | flux: load images into the node |") {
		t.Fatalf("markdown has no failed step row:\n%s", r.Markdown())
	}
}

func mustJSON(t *testing.T, r *reports.Report) []byte {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(p); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	return b
}

// The same spec run three times (dfe2e e2e --repeat): passed twice, failed
// once. It is a flake, listed first, and counted as failed — a retry never
// turns the failure into a pass.
func TestRepeatedRunsExposeFlakes(t *testing.T) {
	var files []string
	for i, st := range []types.SpecState{types.SpecStatePassed, types.SpecStateFailed, types.SpecStatePassed} {
		msg := ""
		if st == types.SpecStateFailed {
			msg = "source-controller got 404 from the git server"
		}
		files = append(files, ginkgoFile(t, "rep"+string(rune('1'+i))+".json",
			it("fetches the served revision", 1, st, msg), it("installs the bundle", 2, types.SpecStatePassed, "")))
	}
	r, err := reports.Build(reports.Inputs{Ginkgo: files})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Flakes) != 1 || r.Flakes[0].Spec != "fetches the served revision" || r.Flakes[0].Runs.Passed != 2 || r.Flakes[0].Runs.Failed != 1 {
		t.Fatalf("flakes %+v", r.Flakes)
	}
	if r.Summary.Failed != 1 || r.Summary.Passed != 1 || r.Outcome != verdict.Failed {
		t.Fatalf("summary %s outcome %s: the flake must count as failed", r.Summary.Line(), r.Outcome)
	}
	md := r.Markdown()
	if i := strings.Index(md, "## Flaky"); i < 0 || i > strings.Index(md, "## Environment") {
		t.Fatalf("the flaky section is not first:\n%s", md)
	}
	if !strings.Contains(md, "| fetches the served revision | 2 | 1 | 33% | failed: source-controller got 404 from the git server") {
		t.Fatalf("flake row missing:\n%s", md)
	}
}
