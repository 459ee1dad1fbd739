package reports_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	rt "github.com/dragonfly-e2e/dragonfly-e2e/reports/reportstest"
)

func named(name string, o rt.LoadOptions) loadgen.Result {
	r := rt.Load(o)
	r.Scenario = name
	return r
}

// writeScenarioDir lays results out as dfe2e load --scenario does: dir/<name>/result.json.
func writeScenarioDir(t *testing.T, results ...loadgen.Result) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range results {
		d := filepath.Join(dir, r.Scenario)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		if err := os.WriteFile(filepath.Join(d, "result.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNamedScenariosGroupAndCompareByName(t *testing.T) {
	// The same workload under two names is two scenarios; the name, not the workload, matches.
	a := named("cache", rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 300})
	b := named("write-heavy", rt.LoadOptions{Seed: 2, OpsPerSec: 100e3, P50Micros: 300})
	var names []string
	for _, g := range reports.GroupScenarios([]loadgen.Result{a, b}) {
		names = append(names, g.Name)
	}
	if strings.Join(names, " | ") != "cache | write-heavy" {
		t.Fatalf("groups %q, want cache | write-heavy", names)
	}
	base := writeScenarioDir(t, a, b)
	slowCache := named("cache", rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 600})
	run := writeScenarioDir(t, slowCache, b)
	bm, err := reports.LoadSide(base)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := reports.LoadSide(run)
	if err != nil {
		t.Fatal(err)
	}
	c, err := reports.Compare(bm, rm, reports.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	regs := c.Regressions()
	if len(regs) == 0 {
		t.Fatalf("cache's doubled latency must regress: %+v", c.Deltas)
	}
	for _, d := range regs {
		if d.Scenario != "cache" || !strings.Contains(d.Reason, "[cache]") {
			t.Errorf("regression must be judged in scenario cache and say so: %s %q", d.Scenario, d.Reason)
		}
	}
	for _, d := range c.Deltas {
		if d.Scenario == "write-heavy" && d.Outcome == reports.Regressed {
			t.Errorf("write-heavy is unchanged: %s", d.Reason)
		}
	}
}

func kneeResult(name string, maxRate float64) loadgen.Result {
	r := named(name, rt.LoadOptions{Seed: 4, OpsPerSec: maxRate, P50Micros: 200, OpenLoop: true})
	slo := loadgen.SLO{Percentile: "p99", Bound: 2000}
	st := loadgen.Staircase{StartRate: 1000, Factor: 2, MinAchieved: 0.95}
	steps := []loadgen.KneeStep{
		{Step: 1, TargetRate: 1000, AchievedRate: 1000, Latency: loadgen.Percentiles{P50: 100, P99: 500, P999: 900}},
		{Step: 2, TargetRate: 2000, AchievedRate: 1998, Latency: loadgen.Percentiles{P50: 120, P99: 800, P999: 1500}},
		{Step: 3, TargetRate: 4000, AchievedRate: 3990, Latency: loadgen.Percentiles{P50: 300, P99: 4200, P999: 9000}},
	}
	if maxRate < 2000 {
		steps[1].Latency.P99 = 2500
		steps = steps[:2]
	}
	k := loadgen.JudgeKnee(slo, st, steps)
	r.Knee = &k
	return r
}

func TestFindMaxComparesOnTheKnee(t *testing.T) {
	base := []loadgen.Result{kneeResult("cache", 2000)}
	ms := reports.LoadMetrics(reports.GroupScenarios(base))
	if len(ms) != 1 || ms[0].Name != "find-max p99<=2ms: cache: knee rate" || ms[0].Values[0] != 2000 || ms[0].Better != reports.Higher {
		t.Fatalf("a find-max result is one knee metric: %+v", ms)
	}
	run := reports.LoadMetrics(reports.GroupScenarios([]loadgen.Result{kneeResult("cache", 1000)}))
	c, err := reports.Compare(ms, run, reports.DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 1 || !strings.Contains(c.Deltas[0].Reason, "knee rate fell 50.0%") {
		t.Fatalf("a halved knee must regress: %+v", c.Deltas)
	}
	// Without a scenario name the search is named by its workload minus the rate.
	anon := kneeResult("", 2000)
	if n := reports.ResultScenario(anon); !strings.HasPrefix(n, "find-max p99<=2ms: ") || !strings.Contains(n, "open-loop staircase") || strings.Contains(n, "req/s") {
		t.Errorf("anonymous find-max scenario name: %q", n)
	}
}

func TestHTMLDrawsTheKneeCurve(t *testing.T) {
	r := &reports.Report{}
	r.AddLoad(kneeResult("open-loop", 2000))
	page := r.HTML()
	for _, want := range []string{"Latency vs throughput (find-max p99&lt;=2ms)", "SLO p99&lt;=2ms", "knee: 2000 req/s (step 2) is the highest rate that met p99&lt;=2ms",
		"broke: p99 4.200ms &gt; 2.000ms", "achieved req/s", "knee 2000 req/s</text>"} {
		if !strings.Contains(page, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// The curve: one point per step for p50, p99 and p99.9, and the SLO's two-point line.
	svg := page[strings.Index(page, "Latency vs throughput"):]
	svg = svg[:strings.Index(svg, "</svg>")]
	lines := regexp.MustCompile(`points="([^"]*)"><title>([^<]*)</title>`).FindAllStringSubmatch(svg, -1)
	got := map[string]int{}
	for _, l := range lines {
		got[l[2]] = len(strings.Fields(l[1]))
	}
	if got["p50"] != 3 || got["p99"] != 3 || got["p99.9"] != 3 || got["SLO p99&lt;=2ms"] != 2 {
		t.Errorf("curve points by series: %v", got)
	}
	// A plain run has no knee section.
	plain := &reports.Report{}
	plain.AddLoad(rt.Load(rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 300}))
	if strings.Contains(plain.HTML(), "Latency vs throughput") {
		t.Error("a run without --find-max must not draw a knee curve")
	}
}

// The Markdown report carries the staircase the HTML report draws: one row
// per step with its verdict, the knee marked, and the search's verdict.
func TestMarkdownTabulatesTheKnee(t *testing.T) {
	r := &reports.Report{}
	r.AddLoad(kneeResult("open-loop", 2000))
	md := r.Markdown()
	for _, want := range []string{"### Find-max: ", "**knee: 2000 req/s (step 2) is the highest rate that met p99<=2ms.**",
		"| Step | Target req/s | Achieved req/s | p50 | p99 | p99.9 | Errors | Verdict |",
		"| 2 **(knee)** | 2000 | 1998 |", "| 3 | 4000 | 3990 |", "broke: p99 4.200ms > 2.000ms"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	broken := kneeResult("open-loop", 1000)
	steps := broken.Knee.Steps[:1]
	steps[0].Latency.P99 = 3000
	k := loadgen.JudgeKnee(broken.Knee.SLO, broken.Knee.Staircase, steps)
	broken.Knee = &k
	none := &reports.Report{}
	none.AddLoad(broken)
	if md := none.Markdown(); !strings.Contains(md, "**no rate met p99<=2ms.**") || strings.Contains(md, "(knee)") {
		t.Errorf("a search that found no rate: %s", md)
	}
	plain := &reports.Report{}
	plain.AddLoad(rt.Load(rt.LoadOptions{Seed: 1, OpsPerSec: 100e3, P50Micros: 300}))
	if strings.Contains(plain.Markdown(), "Find-max") {
		t.Error("a run without --find-max must not show a staircase")
	}
}
