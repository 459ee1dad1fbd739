package reports

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func p99(vals ...float64) []Metric {
	return []Metric{{Name: "p99", Unit: "µs", Better: Lower, Kind: "p99", Values: vals}}
}

func ops(vals ...float64) []Metric {
	return []Metric{{Name: "ops/s", Unit: "ops/s", Better: Higher, Kind: "ops/s", Values: vals}}
}

func mustCompare(t *testing.T, base, run []Metric) Comparison {
	t.Helper()
	c, err := Compare(base, run, DefaultThresholds())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCompareEqualRunsPass(t *testing.T) {
	v := []float64{1200, 1210, 1190, 1205, 1195}
	c := mustCompare(t, p99(v...), p99(v...))
	if c.ExitCode() != 0 || c.Deltas[0].Outcome != Unchanged {
		t.Fatalf("identical runs must pass as unchanged, got %s: %s", c.Deltas[0].Outcome, c.Deltas[0].Reason)
	}
}

func TestCompareClearRegressionFailsWithReason(t *testing.T) {
	base := p99(1200, 1210, 1190, 1205, 1195)
	run := p99(1480, 1490, 1470, 1485, 1475)
	c := mustCompare(t, base, run)
	regs := c.Regressions()
	if c.ExitCode() != 1 || len(regs) != 1 {
		t.Fatalf("a 23%% p99 rise over 5 separated runs must regress; got %+v", c.Deltas)
	}
	want := "p99 rose 23.3% (1.20 ms → 1.48 ms), beyond the 10% threshold and outside noise (Mann-Whitney p=0.008, 5 vs 5 runs)"
	if regs[0].Reason != want {
		t.Fatalf("reason:\n got %s\nwant %s", regs[0].Reason, want)
	}
}

func TestCompareThroughputDropRegresses(t *testing.T) {
	c := mustCompare(t, ops(100e3, 101e3, 99e3, 100.5e3), ops(90e3, 91e3, 89e3, 90.5e3))
	if c.ExitCode() != 1 || !strings.Contains(c.Deltas[0].Reason, "ops/s fell 10.0% (100.2k ops/s → 90.2k ops/s), beyond the 5% threshold") {
		t.Fatalf("a 10%% throughput drop must regress, got %s: %s", c.Deltas[0].Outcome, c.Deltas[0].Reason)
	}
}

func TestCompareWithinNoisePasses(t *testing.T) {
	// Median p99 rises 12% — beyond the 10% threshold — but the repetitions
	// overlap so much that the shift is not distinguishable from noise.
	base := p99(800, 1500, 1000, 1300, 1100, 900, 1400)
	run := p99(950, 1600, 1120, 1450, 1000, 1250, 1350)
	c := mustCompare(t, base, run)
	d := c.Deltas[0]
	if d.WorsePct <= 10 {
		t.Fatalf("fixture broken: the shift should exceed the threshold, is %.1f%%", d.WorsePct)
	}
	if c.ExitCode() != 0 || d.Outcome != WithinNoise || !strings.Contains(d.Reason, "within noise (Mann-Whitney p=") {
		t.Fatalf("noisy small shift must pass as within noise, got %s: %s", d.Outcome, d.Reason)
	}
}

func TestCompareImprovementPasses(t *testing.T) {
	c := mustCompare(t, append(p99(1200, 1210, 1190, 1205, 1195), ops(100e3, 101e3, 99e3, 100.5e3, 100e3)...),
		append(p99(700, 710, 690, 705, 695), ops(150e3, 151e3, 149e3, 150.5e3, 150e3)...))
	if c.ExitCode() != 0 {
		t.Fatalf("improvements must pass: %+v", c.Regressions())
	}
	for _, d := range c.Deltas {
		if d.Outcome != Improved {
			t.Errorf("%s: want improved, got %s (%s)", d.Name, d.Outcome, d.Reason)
		}
	}
}

func TestCompareTooFewRepetitionsFallsBackToThreshold(t *testing.T) {
	c := mustCompare(t, p99(1000), p99(1300))
	d := c.Deltas[0]
	if d.Outcome != Regressed || d.Test != nil || !c.ThresholdOnly {
		t.Fatalf("one run each, 30%% worse: must regress on the threshold alone, got %s test=%v", d.Outcome, d.Test)
	}
	if !strings.Contains(d.Reason, "too few repetitions to measure noise (1 vs 1 runs") || !strings.Contains(d.Reason, "judged on the threshold only") {
		t.Fatalf("reason must say significance could not be judged: %s", d.Reason)
	}
	var b strings.Builder
	c.WriteText(&b)
	if !strings.Contains(b.String(), "judged on the threshold only") || !strings.Contains(b.String(), "gate: FAIL") {
		t.Fatalf("output must state the threshold-only fallback and the gate:\n%s", b.String())
	}
	// Within threshold with one run: passes.
	if c := mustCompare(t, p99(1000), p99(1050)); c.ExitCode() != 0 {
		t.Fatalf("5%% rise within a 10%% threshold must pass: %s", c.Deltas[0].Reason)
	}
}

func TestCompareFreeFormMetricUsesItsThreshold(t *testing.T) {
	base := []Metric{{Name: "failover RTO", Unit: "s", Better: Lower, Values: []float64{4.1, 4.0, 4.2, 4.1, 3.9}}}
	run := []Metric{{Name: "failover RTO", Unit: "s", Better: Lower, Values: []float64{4.6, 4.5, 4.7, 4.6, 4.4}}}
	th := DefaultThresholds()
	th.Percent["failover RTO"] = 20
	c, err := Compare(base, run, th)
	if err != nil {
		t.Fatal(err)
	}
	if c.ExitCode() != 0 || c.Deltas[0].ThresholdKey != "failover RTO" {
		t.Fatalf("12%% RTO rise within its 20%% threshold must pass: %+v", c.Deltas[0])
	}
	c = mustCompare(t, base, run) // default 10%
	if c.ExitCode() != 1 {
		t.Fatalf("12%% RTO rise beyond the default 10%% must regress: %s", c.Deltas[0].Reason)
	}
}

func TestCompareNoCommonMetricIsAnError(t *testing.T) {
	if _, err := Compare(p99(1), ops(1), DefaultThresholds()); err == nil || !strings.Contains(err.Error(), "no metric in common") {
		t.Fatalf("want a no-common-metric error, got %v", err)
	}
}

func TestReadThresholds(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	th, err := ReadThresholds(write("ok.yaml", "alpha: 0.01\nthresholds:\n  p99: 25\n  failover RTO: 20\n"))
	if err != nil {
		t.Fatal(err)
	}
	if th.Alpha != 0.01 || th.Percent["p99"] != 25 || th.Percent["ops/s"] != 5 {
		t.Fatalf("file must override defaults and keep the rest: %+v", th)
	}
	for name, body := range map[string]string{
		"unknown-key.yaml": "treshold:\n  p99: 10\n",
		"negative.yaml":    "thresholds:\n  ops/s: -5\n",
		"not-number.yaml":  "thresholds:\n  p99: ten\n",
		"alpha.yaml":       "alpha: 2\n",
		"not-yaml.yaml":    "thresholds: [\n",
	} {
		_, err := ReadThresholds(write(name, body))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: want an error naming the file, got %v", name, err)
		}
	}
}

func TestMannWhitneyU(t *testing.T) {
	// Complete separation, 5 vs 5: exact two-sided p = 2/C(10,5) = 2/252.
	mw := MannWhitneyU([]float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10})
	if !mw.Exact || mw.U != 0 || math.Abs(mw.P-2.0/252) > 1e-12 {
		t.Fatalf("separated 5v5: %+v", mw)
	}
	// Textbook example: U=3 for a=(1,2,4,9) vs... compare with a direct count.
	a, b := []float64{1.1, 3.3, 5.5, 7.7}, []float64{2.2, 4.4, 6.6, 8.8, 9.9}
	mw = MannWhitneyU(a, b)
	var u float64
	for _, x := range a {
		for _, y := range b {
			if x > y {
				u++
			}
		}
	}
	if mw.U != u {
		t.Fatalf("U = %g, direct count %g", mw.U, u)
	}
	// Exact P(U<=4) for 4v5 is 0.0952*... check symmetry instead: swapping samples keeps p.
	if p2 := MannWhitneyU(b, a).P; math.Abs(p2-mw.P) > 1e-12 {
		t.Fatalf("p not symmetric: %g vs %g", mw.P, p2)
	}
	// Ties use the normal approximation and all-equal samples give p=1.
	if mw := MannWhitneyU([]float64{1, 1, 1}, []float64{1, 1, 1}); mw.P != 1 || mw.Exact {
		t.Fatalf("all equal: %+v", mw)
	}
	mw = MannWhitneyU([]float64{1, 2, 2, 3, 4, 5, 6, 7}, []float64{8, 9, 9, 10, 11, 12, 13, 14})
	if mw.Exact || mw.P > 0.002 || mw.P < 0.0005 {
		t.Fatalf("separated 8v8 with ties, normal approx p should be ~0.001: %+v", mw)
	}
	if got := MinExactP(3, 3); math.Abs(got-0.1) > 1e-12 {
		t.Fatalf("MinExactP(3,3) = %g, want 0.1", got)
	}
}
