package reports_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	rt "github.com/dragonfly-e2e/dragonfly-e2e/reports/reportstest"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// fixtureReport builds a report from the synthetic Ginkgo report (every
// verdict kind) and two scenarios of load results.
func fixtureReport(t *testing.T, withFailure bool) *reports.Report {
	t.Helper()
	dir := t.TempDir()
	g, err := rt.GinkgoReport(dir, withFailure)
	if err != nil {
		t.Fatal(err)
	}
	load, err := rt.WriteLoad(filepath.Join(dir, "load"),
		rt.Load(rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 300, StandIn: rt.StandIn}),
		rt.Load(rt.LoadOptions{Seed: 2, OpsPerSec: 98e3, P50Micros: 310, StandIn: rt.StandIn}),
		rt.Load(rt.LoadOptions{Seed: 3, OpsPerSec: 20e3, P50Micros: 150, OpenLoop: true, StandIn: rt.StandIn}))
	if err != nil {
		t.Fatal(err)
	}
	r, err := reports.Build(reports.Inputs{Ginkgo: []string{g}, Load: []string{load},
		Env: []string{"kubernetes=v1.34.4", "cluster=envtest", "operator=v1.6.1", "dragonfly-image=not available offline"}})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildReadsEveryVerdictKind(t *testing.T) {
	r := fixtureReport(t, true)
	// The fixture's only pass is on a stand-in: its own bucket, not Passed.
	want := verdict.Summary{Failed: 1, Blocked: 1, Skipped: 2, StandIn: 1}
	if r.Summary != want {
		t.Fatalf("summary %+v, want %+v", r.Summary, want)
	}
	specs := map[string]reports.Spec{}
	for _, sp := range r.Suites[0].Specs {
		specs[sp.Text] = sp
	}
	if got := specs[rt.PassedSpec]; got.FullName() != rt.Container+" "+rt.PassedSpec || len(got.Steps) != 2 || got.Verdict.StandIn != rt.StandIn {
		t.Errorf("passed spec: want full name, 2 steps and its stand-in: %+v", got)
	}
	if got := specs[rt.FailedSpec].Verdict; got.Status != verdict.Failed || !strings.Contains(got.Reason, rt.FailureMessage) {
		t.Errorf("failed spec must carry the failure message: %+v", got)
	}
	if got := specs[rt.BlockedSpec].Verdict; got.Status != verdict.Blocked || got.Reason != rt.BlockedReason || got.Remedy != rt.BlockedRemedy {
		t.Errorf("blocked spec must keep reason and remedy apart: %+v", got)
	}
	if got := specs[rt.SkippedSpec].Verdict; got.Status != verdict.Skipped || got.Reason == "" {
		t.Errorf("label-filtered spec must be skipped with a reason: %+v", got)
	}
	if len(r.Load) != 2 || len(r.Load[0].Runs) != 2 {
		t.Fatalf("want 2 scenarios (closed loop ×2, open loop ×1), got %d", len(r.Load))
	}
	if len(r.Metrics) != 1 || r.Metrics[0].Name != rt.MetricName || r.Metrics[0].Values[0] != 4.2 {
		t.Errorf("metric from the report entry: %+v", r.Metrics)
	}
	if len(r.Environment.StandIns) != 1 || r.Environment.KubernetesVersion != "v1.34.4" {
		t.Errorf("environment: %+v", r.Environment)
	}
	if code := r.Summary.ExitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if code := fixtureReport(t, false).Summary.ExitCode(); code != 3 {
		t.Errorf("blocked-only run: exit code %d, want 3", code)
	}
}

func TestJUnitCountsBlockedApart(t *testing.T) {
	r := fixtureReport(t, true)
	b, err := r.JUnit()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Skipped  int `xml:"skipped,attr"`
		Blocked  int `xml:"blocked,attr"`
		Suites   []struct {
			Props []struct {
				Name  string `xml:"name,attr"`
				Value string `xml:"value,attr"`
			} `xml:"properties>property"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Status  string `xml:"status,attr"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit.xml does not parse: %v\n%s", err, b)
	}
	// skipped: one label-filtered, one pending, one blocked, one stand-in pass.
	if doc.Tests != 5 || doc.Failures != 1 || doc.Skipped != 4 || doc.Blocked != 1 {
		t.Fatalf("counts tests=%d failures=%d skipped=%d blocked=%d, want 5/1/4/1", doc.Tests, doc.Failures, doc.Skipped, doc.Blocked)
	}
	props := map[string]string{}
	for _, p := range doc.Suites[0].Props {
		props[p.Name] = p.Value
	}
	if props["blocked"] != "1" || props["skipped-not-blocked"] != "2" || props["stand-in"] != rt.StandIn {
		t.Fatalf("suite properties %v", props)
	}
	for _, c := range doc.Suites[0].Cases {
		if strings.HasSuffix(c.Name, rt.BlockedSpec) {
			if c.Status != "blocked" || c.Skipped == nil || c.Skipped.Message != verdict.BlockedMessage(rt.BlockedReason, rt.BlockedRemedy) {
				t.Fatalf("blocked testcase must be <skipped message=\"blocked: …\"/> with status=blocked: %+v", c)
			}
		}
		if strings.HasSuffix(c.Name, rt.FailedSpec) && (c.Failure == nil || !strings.Contains(c.Failure.Message, rt.FailureMessage)) {
			t.Fatalf("failed testcase must carry a <failure> naming the defect: %+v", c)
		}
	}
}

func TestMarkdownNamesStandInsAndBlockedReasons(t *testing.T) {
	md := fixtureReport(t, false).Markdown()
	for _, want := range []string{
		"**BLOCKED — nothing failed, but 1 spec(s) could not run here**",
		"## Stand-ins used", rt.StandIn,
		"## Blocked — could not run here (not passed)", rt.BlockedReason, rt.BlockedRemedy,
		"| ⛔ blocked | " + rt.Container + " " + rt.BlockedSpec,
		"| Kubernetes | v1.34.4 |", "| Dragonfly version | not recorded |",
		"| ops/s | p50 | p90 | p99 | p99.9 | p99.99 | max | errors |",
		"uncorrected", rt.MetricName,
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}

// Both pages show the same tables: the same titles and, for the run steps,
// the same verdict per step in the same column.
func TestPagesShowTheSameTables(t *testing.T) {
	r := fixtureReport(t, true)
	r.Steps = []reports.Step{{Name: "images", Status: verdict.Failed, Seconds: 3, Detail: "no docker"}}
	md, page := r.Markdown(), r.HTML()
	for _, title := range []string{"Environment", "Run steps", "Blocked — could not run here (not passed)", "Metrics"} {
		if !strings.Contains(md, "## "+title+"\n") || !strings.Contains(page, "<h2>"+title+"</h2>") {
			t.Errorf("table %q is not on both pages", title)
		}
	}
	if !strings.Contains(md, "| ❌ failed | images | 3.0 | no docker |") {
		t.Errorf("markdown run steps lack the failed step:\n%s", md)
	}
	if !strings.Contains(page, `<tr><td><span class="pill s-failed">failed</span></td><td>images</td><td class="num">3.0</td><td>no docker</td></tr>`) {
		t.Errorf("html run steps lack the failed step")
	}
}

func TestHTMLIsSelfContainedWithPlots(t *testing.T) {
	page := fixtureReport(t, true).HTML()
	if n := strings.Count(page, "<svg"); n != 6 {
		t.Errorf("want 3 plots per scenario × 2 scenarios, got %d <svg>", n)
	}
	for _, want := range []string{"Latency by percentile", "Throughput over time", "Latency over time", ">99.9%<", ">99.99%<", "<polyline", "stroke-dasharray", rt.BlockedReason, rt.StandIn} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	if m := regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?\s*(https?:)?//`).FindString(page); m != "" {
		t.Errorf("html references something outside itself: %s", m)
	}
	if m := regexp.MustCompile(`(?i)https?://|<script|<link|@import`).FindString(page); m != "" {
		t.Errorf("html must hold no URL, script or stylesheet link: %s", m)
	}
}

func TestPercentileCurveFollowsTheHistogram(t *testing.T) {
	res := rt.Load(rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 300})
	pts, err := reports.PercentileCurve(res.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].Micros < pts[i-1].Micros || pts[i].Percentile <= pts[i-1].Percentile {
			t.Fatalf("curve not monotonic at %d: %+v %+v", i, pts[i-1], pts[i])
		}
	}
	if last := pts[len(pts)-1]; last.Micros != res.Latency.Max {
		t.Errorf("curve must end at max %g, ends at %g", res.Latency.Max, last.Micros)
	}
	if _, err := reports.PercentileCurve("not base64!"); err == nil {
		t.Error("a corrupt histogram must be an error")
	}
}

// TestBlockedNeverShowsAsPassed looks at every writer's output for the
// blocked spec and demands it be called blocked, never passed.
func TestBlockedNeverShowsAsPassed(t *testing.T) {
	dir := t.TempDir()
	r := fixtureReport(t, false)
	if err := r.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// JSON: the spec's verdict, the summary and the round trip.
	back, err := reports.ReadJSON(filepath.Join(dir, reports.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if back.Summary.Passed != 1 || back.Summary.StandIn != 1 || back.Summary.Blocked != 1 || back.Summary.ExitCode() != 3 {
		t.Errorf("report.json summary %+v", back.Summary)
	}
	var raw map[string]any
	_ = json.Unmarshal([]byte(read(reports.JSONFile)), &raw)
	for _, sp := range back.Suites[0].Specs {
		if sp.Text == rt.BlockedSpec && sp.Verdict.Status != verdict.Blocked {
			t.Errorf("report.json: blocked spec has status %s", sp.Verdict.Status)
		}
	}
	// Every line that names the blocked spec must say blocked and not passed.
	for _, name := range []string{reports.MarkdownFile, reports.JUnitFile, reports.HTMLFile} {
		content := read(name)
		lines := 0
		for _, line := range strings.Split(content, "\n") {
			if name == reports.HTMLFile {
				// one row per <tr> in the page
				for _, row := range strings.Split(line, "<tr>") {
					lines += checkRow(t, name, row)
				}
				continue
			}
			lines += checkRow(t, name, line)
		}
		if lines == 0 {
			t.Errorf("%s never mentions the blocked spec", name)
		}
	}
	if h := r.Headline(); strings.Contains(strings.ToLower(h), "passed") {
		t.Errorf("headline of a blocked run says passed: %s", h)
	}
}

func checkRow(t *testing.T, file, row string) int {
	if !strings.Contains(row, rt.BlockedSpec) {
		return 0
	}
	if strings.Contains(row, "passed") && !strings.Contains(row, "not passed") {
		t.Errorf("%s: the blocked spec appears as passed: %s", file, row)
	}
	if !strings.Contains(row, "blocked") && !strings.Contains(row, rt.BlockedReason) {
		t.Errorf("%s: a row naming the blocked spec does not say blocked: %s", file, row)
	}
	return 1
}

// A run holding one scenario compares against a baseline report holding
// several: metrics match scenario by scenario.
func TestCompareMatchesScenariosAcrossReports(t *testing.T) {
	base := fixtureReport(t, false) // closed loop ×2 and open loop ×1
	slowOpen := rt.Load(rt.LoadOptions{Seed: 3, OpsPerSec: 20e3, P50Micros: 400, OpenLoop: true})
	run := reports.LoadMetrics(reports.GroupScenarios([]loadgen.Result{slowOpen}))
	c, err := reports.Compare(base.AllMetrics(), run, reports.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	var regressed, missing int
	for _, d := range c.Deltas {
		switch d.Outcome {
		case reports.Regressed:
			regressed++
			if !strings.Contains(d.Reason, "open loop") {
				t.Errorf("reason must name the scenario: %s", d.Reason)
			}
		case reports.OnlyInBase:
			missing++
		}
	}
	if regressed == 0 || missing != 5 { // 4 closed-loop metrics + the free-form RTO
		t.Fatalf("want the open-loop p50 regression judged and the closed-loop scenario noted missing; got %d regressed, %d missing", regressed, missing)
	}
}

// A parallel run's directory holds the merged result.json and each pod's
// part under pods/<i>/; the parts are not repetitions of their own.
func TestReadLoadResultsCountsAParallelRunOnce(t *testing.T) {
	dir, err := rt.WriteLoad(filepath.Join(t.TempDir(), "parallel"), rt.Load(rt.LoadOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	merged := filepath.Join(dir, "rep-a", "result.json")
	b, err := os.ReadFile(merged)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []string{"0", "1"} {
		pd := filepath.Join(dir, "rep-a", "pods", i)
		if err := os.MkdirAll(pd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pd, reports.PodResultFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := reports.ReadLoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("a 2-pod parallel run read as %d repetitions, want 1 (the pods' parts counted as runs)", len(got))
	}
}
