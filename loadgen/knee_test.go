package loadgen

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseSLO(t *testing.T) {
	good := map[string]SLO{
		"p99<=2ms":      {"p99", 2000},
		"p99.9 <= 10ms": {"p99.9", 10000},
		"p50<=500us":    {"p50", 500},
	}
	for in, want := range good {
		got, err := ParseSLO(in)
		if err != nil || got != want {
			t.Errorf("ParseSLO(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"p99<2ms":   "not PERCENTILE<=DURATION",
		"p98<=2ms":  `percentile "p98" is unknown`,
		"p99<=2":    `bound "2" is not a duration`,
		"p99<=-1ms": `bound "-1ms"`,
		"":          "not PERCENTILE<=DURATION",
		"latency":   "not PERCENTILE<=DURATION",
	}
	for in, want := range bad {
		if _, err := ParseSLO(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSLO(%q) = %v; want an error containing %q", in, err, want)
		}
	}
}

func step(n int, target, achieved, p99 float64) KneeStep {
	return KneeStep{Step: n, TargetRate: target, AchievedRate: achieved, Latency: Percentiles{P50: p99 / 4, P99: p99, P999: p99 * 2}}
}

// checkKnee verifies a judge's outcome against independently stated facts:
// which steps broke and what the knee is. It names the first step it finds
// judged wrongly, so a planted defect shows where it bites.
func checkKnee(k Knee, brokeSteps map[int]string, wantMax float64) error {
	for _, s := range k.Steps {
		want, broke := brokeSteps[s.Step]
		if broke && s.Met {
			return fmt.Errorf("step %d at %.0f req/s broke the SLO (%s) but was counted as met", s.Step, s.TargetRate, want)
		}
		if !broke && !s.Met {
			return fmt.Errorf("step %d at %.0f req/s met the SLO but was counted as broken: %s", s.Step, s.TargetRate, s.Reason)
		}
		if broke && s.Broke != want {
			return fmt.Errorf("step %d: broke %q, judged %q", s.Step, want, s.Broke)
		}
	}
	if k.MaxRate != wantMax {
		return fmt.Errorf("knee at %.0f req/s, want %.0f", k.MaxRate, wantMax)
	}
	return nil
}

func TestJudgeKneeFindsHighestRateBeforeFirstBreak(t *testing.T) {
	slo := SLO{Percentile: "p99", Bound: 2000}
	st := DefaultStaircase()
	steps := []KneeStep{
		step(1, 1000, 1000, 800),
		step(2, 1500, 1499, 2000), // at the bound: met
		step(3, 2250, 2240, 2500), // p99 above the bound
		step(4, 3375, 3375, 900),  // lucky step after the break: must not raise the knee
	}
	k := JudgeKnee(slo, st, steps)
	if err := checkKnee(k, map[int]string{3: BrokeSLO}, 1500); err != nil {
		t.Fatal(err)
	}
	if k.MaxStep != 2 || !strings.Contains(k.Stop, "step 3 at 2250 req/s broke: p99 2.500ms > 2.000ms") {
		t.Errorf("max step %d, stop %q", k.MaxStep, k.Stop)
	}

	// Rate shortfall and errors are their own reasons, named.
	k = JudgeKnee(slo, st, []KneeStep{step(1, 1000, 1000, 100), step(2, 1500, 1300, 100)})
	if err := checkKnee(k, map[int]string{2: BrokeRate}, 1000); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(k.Steps[1].Reason, "achieved 1300 req/s < 95% of target 1500") {
		t.Errorf("rate reason: %q", k.Steps[1].Reason)
	}
	e := step(1, 1000, 1000, 100)
	e.Errors = 3
	k = JudgeKnee(slo, st, []KneeStep{e})
	if err := checkKnee(k, map[int]string{1: BrokeErrors}, 0); err != nil {
		t.Fatal(err)
	}
	if k.MaxStep != 0 {
		t.Errorf("no step met, max step %d", k.MaxStep)
	}

	// A step cut short (Ctrl-C) never counts as sustained, however good its numbers.
	cut := step(2, 1500, 1500, 100)
	cut.Partial = true
	k = JudgeKnee(slo, st, []KneeStep{step(1, 1000, 1000, 100), cut})
	if err := checkKnee(k, map[int]string{2: BrokeInterrupted}, 1000); err != nil {
		t.Fatal(err)
	}

	// The SLO's percentile is the one judged: p99.9 breaks where p99 does not.
	k = JudgeKnee(SLO{Percentile: "p99.9", Bound: 3000}, st, []KneeStep{step(1, 1000, 1000, 1000), step(2, 1500, 1500, 1600)})
	if err := checkKnee(k, map[int]string{2: BrokeSLO}, 1000); err != nil {
		t.Fatal(err)
	}
	k = JudgeKnee(slo, st, []KneeStep{step(1, 1000, 1000, 100), step(2, 1500, 1500, 100)})
	if !strings.Contains(k.Stop, "the knee is above 1500") {
		t.Errorf("unbroken staircase: %q", k.Stop)
	}
}

// The checker must catch a judge that counts a broken step as met, and name the step.
func TestCheckKneeCatchesPlantedDefects(t *testing.T) {
	slo := SLO{Percentile: "p99", Bound: 2000}
	steps := []KneeStep{step(1, 1000, 1000, 800), step(2, 1500, 1500, 900), step(3, 2250, 2250, 4000)}
	k := JudgeKnee(slo, DefaultStaircase(), steps)
	if err := checkKnee(k, map[int]string{3: BrokeSLO}, 1500); err != nil {
		t.Fatalf("the real judge: %v", err)
	}
	// Defect 1: step 3 counted as met (as a judge comparing the wrong percentile would).
	bad := k
	bad.Steps = append([]KneeStep(nil), k.Steps...)
	bad.Steps[2].Met, bad.Steps[2].Broke = true, ""
	bad.MaxRate = 2250
	err := checkKnee(bad, map[int]string{3: BrokeSLO}, 1500)
	if err == nil || !strings.Contains(err.Error(), "step 3 at 2250 req/s broke the SLO (slo) but was counted as met") {
		t.Errorf("planted defect (broken step counted as met) not caught by name: %v", err)
	}
	// Defect 2: a judge that ignores the rate shortfall.
	short := []KneeStep{step(1, 1000, 500, 100)}
	ignoreRate := JudgeKnee(slo, Staircase{MinAchieved: 0.0001}, short)
	err = checkKnee(ignoreRate, map[int]string{1: BrokeRate}, 0)
	if err == nil || !strings.Contains(err.Error(), "step 1 at 1000 req/s broke the SLO (rate) but was counted as met") {
		t.Errorf("planted defect (rate shortfall ignored) not caught by name: %v", err)
	}
}

func TestStaircaseValidateAndRates(t *testing.T) {
	st := Staircase{StartRate: 1000, Factor: 2, StepDuration: time.Second, MaxSteps: 3, MinAchieved: 0.9}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if st.Rate(0) != 1000 || st.Rate(2) != 4000 {
		t.Errorf("rates %g %g", st.Rate(0), st.Rate(2))
	}
	bad := Staircase{StartRate: 0, Factor: 1, StepDuration: 0, MaxSteps: 0, MinAchieved: 2}
	err := bad.Validate()
	for _, w := range []string{"start rate", "step factor", "step duration", "max steps", "minimum achieved"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("invalid staircase: error %v does not name %q", err, w)
		}
	}
}

// FindMax against a real redis-server: a generous SLO never breaks within
// the steps; a rate the 1-connection generator cannot deliver breaks on rate.
func TestFindMaxAgainstRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("runs redis-server for several seconds")
	}
	s := startRedis(t, "")
	base := Workload{Connections: 2, Pipeline: 1, KeyDist: DistUniform, Seed: 7}
	slo := SLO{Percentile: "p99", Bound: 1e6}
	// A low MinAchieved: 1 s steps on a shared machine lose a few percent of
	// their rate to a single stall; rate judgement has its own unit tests.
	st := Staircase{StartRate: 200, Factor: 2, StepDuration: time.Second, MaxSteps: 3, MinAchieved: 0.5}
	var seen []KneeStep
	m, err := FindMax(context.Background(), Target{Addr: s.Addr}, base, st, slo, Options{}, func(k KneeStep) { seen = append(seen, k) })
	if err != nil {
		t.Fatal(err)
	}
	k := m.Result.Knee
	if k == nil || len(k.Steps) != 3 || len(seen) != 3 || k.MaxRate != 800 || k.MaxStep != 3 {
		t.Fatalf("knee %+v (seen %d steps)", k, len(seen))
	}
	if m.Result.Workload.Rate != 800 || m.Result.Workload.Seed != 7 {
		t.Errorf("the result is the knee step's: rate %g seed %d", m.Result.Workload.Rate, m.Result.Workload.Seed)
	}
	for _, s := range k.Steps {
		if s.Latency.Count == 0 || s.AchievedRate < 0.5*s.TargetRate {
			t.Errorf("step %d: %+v", s.Step, s)
		}
	}

	// A 1 µs SLO breaks at the first step: no knee, the first measurement returned.
	m, err = FindMax(context.Background(), Target{Addr: s.Addr}, base, st, SLO{Percentile: "p50", Bound: 1}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := m.Result.Knee; k.MaxStep != 0 || len(k.Steps) != 1 || k.Steps[0].Met || !strings.Contains(k.Steps[0].Reason, "p50 ") {
		t.Errorf("1µs SLO: %+v", k)
	}
}

// fakeStep is a StepRunner measuring, without a server, what its table
// says for each step; it records the workloads it was given.
type fakeStep struct {
	p99   map[int]float64 // step → p99 µs (achieved rate = target)
	fail  map[int]error
	cut   int // this step cancels the context and returns cutErr (or a partial result)
	cutFn func()
	seen  []Workload
	// partialCut makes the cut step return a partial measurement instead of an error.
	partialCut bool
}

func (f *fakeStep) run(_ context.Context, step int, w Workload) (*Measurement, error) {
	f.seen = append(f.seen, w)
	if step == f.cut {
		f.cutFn()
		if !f.partialCut {
			return nil, fmt.Errorf("step %d: interrupted during warmup", step)
		}
	}
	if err := f.fail[step]; err != nil {
		return nil, err
	}
	r := Result{Workload: w, OpsPerSec: w.Rate, Latency: Percentiles{P50: f.p99[step] / 4, P99: f.p99[step], Count: 10}}
	r.Partial = step == f.cut
	return &Measurement{Result: r}, nil
}

// Search plays each step's workload through the runner it is given (the
// Job's, in cluster runs) and judges them as FindMax does; an interruption
// between steps is named and marks the result partial instead of passing
// for a staircase that ended by itself.
func TestSearchWithStepRunner(t *testing.T) {
	slo := SLO{Percentile: "p99", Bound: 2000}
	st := Staircase{StartRate: 1000, Factor: 2, StepDuration: 3 * time.Second, StepWarmup: time.Second, MaxSteps: 5, MinAchieved: 0.95}
	base := Workload{Connections: 6, Pipeline: 1, Prefill: true, Keyspace: 100, Seed: 9, Duration: time.Minute, Warmup: time.Hour}

	f := &fakeStep{p99: map[int]float64{1: 500, 2: 900, 3: 2500}}
	m, err := Search(context.Background(), base, st, slo, f.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := m.Result.Knee
	if err := checkKnee(*k, map[int]string{3: BrokeSLO}, 2000); err != nil {
		t.Fatal(err)
	}
	if len(f.seen) != 3 || m.Result.Workload.Rate != 2000 || m.Result.Partial {
		t.Fatalf("ran %d steps, result at %g req/s partial %v; want 3 steps, the knee step's (2000) result", len(f.seen), m.Result.Workload.Rate, m.Result.Partial)
	}
	for i, w := range f.seen {
		want := base
		want.Rate, want.Duration, want.Warmup, want.Prefill = st.Rate(i), st.StepDuration, st.StepWarmup, i == 0
		if w != want || w != StepWorkload(base, st, i) {
			t.Errorf("step %d played %+v, want %+v", i+1, w, want)
		}
	}

	// A step that fails (not interrupted) ends the search with its error.
	f = &fakeStep{p99: map[int]float64{1: 500}, fail: map[int]error{2: fmt.Errorf("pod 1 evicted")}}
	if _, err := Search(context.Background(), base, st, slo, f.run, nil); err == nil || !strings.Contains(err.Error(), "pod 1 evicted") {
		t.Fatalf("failed step: %v", err)
	}

	// Interrupted before step 3 measured: steps 1-2 stand, the result is
	// partial and the stop names the interruption.
	ctx, cancel := context.WithCancel(context.Background())
	f = &fakeStep{p99: map[int]float64{1: 500, 2: 900}, cut: 3, cutFn: cancel}
	m, err = Search(ctx, base, st, slo, f.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	k = m.Result.Knee
	if !m.Result.Partial || len(k.Steps) != 2 || k.MaxRate != 2000 || !strings.Contains(k.Stop, "interrupted at step 3 (4000 req/s) before it measured") {
		t.Fatalf("interrupted search: partial %v, knee %+v", m.Result.Partial, k)
	}

	// Interrupted during step 2's measurement: step 2 is judged interrupted.
	ctx, cancel = context.WithCancel(context.Background())
	f = &fakeStep{p99: map[int]float64{1: 500, 2: 900}, cut: 2, cutFn: cancel, partialCut: true}
	m, err = Search(ctx, base, st, slo, f.run, nil)
	if err != nil {
		t.Fatal(err)
	}
	k = m.Result.Knee
	if err := checkKnee(*k, map[int]string{2: BrokeInterrupted}, 1000); err != nil || !m.Result.Partial || !strings.HasPrefix(k.Stop, "interrupted at step 2; ") {
		t.Fatalf("cut step: %v, partial %v, stop %q", err, m.Result.Partial, k.Stop)
	}
	cancel()

	// Interrupted during the first step, before anything was measured: an error.
	ctx, cancel = context.WithCancel(context.Background())
	f = &fakeStep{cut: 1, cutFn: cancel}
	if _, err := Search(ctx, base, st, slo, f.run, nil); err == nil {
		t.Fatal("a search interrupted before any step measured returned no error")
	}
}
