package main

import (
	"strings"
	"testing"
)

// Both tools' figures come from the same span: requests over the client
// process's wall time and CPU, never the tool's self-reported rate.
func TestSampleUsesTheProcessSpanForBothTools(t *testing.T) {
	for _, tool := range []string{"loadgen", "redis-benchmark"} {
		s := newSample(tool, 1000, 2, 0.5, 9999)
		if s.OpsPerSec != 500 || s.OpsPerCPU != 2000 || s.SelfOpsPerSec != 9999 {
			t.Errorf("%s: ops/s %v, ops/CPU-s %v, self %v; want 500 (requests/wall), 2000 (requests/CPU), 9999 kept apart",
				tool, s.OpsPerSec, s.OpsPerCPU, s.SelfOpsPerSec)
		}
	}
}

func TestSummaryPrintsSpreadAndPairedRatios(t *testing.T) {
	var all []sample
	for rep, v := range []struct{ lgWall, rbWall, lgCPU, rbCPU float64 }{
		{1, 2, 1, 2}, {1, 1, 1, 3}, {2, 1, 1, 1},
	} {
		lg := newSample("loadgen", 100, v.lgWall, v.lgCPU, 0)
		rb := newSample("redis-benchmark", 100, v.rbWall, v.rbCPU, 0)
		lg.Bench, rb.Bench, lg.Pipeline, rb.Pipeline, lg.Rep, rb.Rep = "P=16", "P=16", 16, 16, rep+1, rep+1
		all = append(all, rb, lg)
	}
	out := summary(all, []bench{{Name: "P=16", Conns: 50, Pipeline: 16}}, 3)
	flat := strings.Join(strings.Fields(out), " ") // column padding aside
	for _, want := range []string{
		"span: whole client process",
		"loadgen ops/s 100 [ 50.. 100] ops/CPU-s 100 [ 100.. 100]", // walls 1, 1, 2
		"redis-benchmark ops/s 100 [ 50.. 100] ops/CPU-s 50 [ 33.. 100]",
		"loadgen/redis-benchmark ops/s 1.00x [0.50..2.00] ops/CPU-s 2.00x [1.00..3.00]", // per-repetition ratios
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// With -baseline, a second loader's repetitions are summarised too and
// loadgen is compared with it repetition by repetition.
func TestSummaryComparesWithABaselineLoader(t *testing.T) {
	var all []sample
	for rep, v := range []struct{ lgCPU, baseCPU float64 }{{1, 2}, {1, 1}, {2, 3}} {
		lg := newSample("loadgen", 100, 1, v.lgCPU, 0)
		base := newSample("loadgen", 100, 1, v.baseCPU, 0)
		base.Tool = "loadgen-baseline"
		rb := newSample("redis-benchmark", 100, 1, 1, 0)
		for _, s := range []*sample{&lg, &base, &rb} {
			s.Bench, s.Pipeline, s.Rep = "P=1", 1, rep+1
		}
		all = append(all, rb, base, lg)
	}
	flat := strings.Join(strings.Fields(summary(all, []bench{{Name: "P=1", Conns: 50, Pipeline: 1}}, 3)), " ")
	for _, want := range []string{
		"loadgen-baseline ops/s 100 [ 100.. 100] ops/CPU-s 50 [ 33.. 100]",
		"loadgen/loadgen-baseline ops/s 1.00x [1.00..1.00] ops/CPU-s 1.50x [1.00..2.00]",
		"loadgen/redis-benchmark ops/s 1.00x [1.00..1.00] ops/CPU-s 1.00x [0.50..1.00]",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("summary lacks %q:\n%s", want, flat)
		}
	}
}
