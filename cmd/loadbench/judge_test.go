package main

import (
	"strings"
	"testing"
	"time"
)

// planted builds reps repetitions of one configuration: loadgen and
// redis-benchmark with the given per-repetition ops/s and ops/CPU-s, and
// redis-benchmark keeping the server busy as given.
func planted(name string, lgThr, lgEff, rbThr, rbEff []float64, rbBusy float64) []sample {
	var all []sample
	for i := range lgThr {
		lg := sample{Bench: name, Tool: "loadgen", Rep: i + 1, OpsPerSec: lgThr[i], OpsPerCPU: lgEff[i], ServerBusy: 0.99}
		rb := sample{Bench: name, Tool: "redis-benchmark", Rep: i + 1, OpsPerSec: rbThr[i], OpsPerCPU: rbEff[i], ServerBusy: rbBusy}
		all = append(all, rb, lg)
	}
	return all
}

func same(v float64, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = v
	}
	return s
}

var (
	p16     = bench{Name: "P=16", Conns: 50, Pipeline: 16}
	ceiling = bench{Name: "ceiling P=32", Conns: 50, Pipeline: 32, Ceiling: true}
)

func judgeOne(t *testing.T, bc bench, all []sample) verdict {
	t.Helper()
	vs := judge(all, []bench{bc}, 7, defaultTargets())
	if len(vs) != 1 {
		t.Fatalf("%d verdicts for one configuration: %+v", len(vs), vs)
	}
	return vs[0]
}

func wantIn(t *testing.T, v verdict, parts ...string) {
	t.Helper()
	line := verdictText([]verdict{v})
	for _, p := range parts {
		if !strings.Contains(line, p) {
			t.Errorf("verdict lacks %q:\n%s", p, line)
		}
	}
}

// A median CPU ratio of 1.499 misses the 1.5x target, and the line says
// so with enough digits to tell the two apart.
func TestCPUTargetMissedByAHairIsAMiss(t *testing.T) {
	// ops/CPU-s ratios 1.3, 1.4, 1.45, 1.499, 1.6, 1.7, 1.8: median 1.499.
	lgEff := []float64{1300, 1400, 1450, 1499, 1600, 1700, 1800}
	v := judgeOne(t, p16, planted("P=16", same(1, 7), lgEff, same(1, 7), same(1000, 7), 0.99))
	if v.Pass {
		t.Fatalf("median 1.499x passed the 1.5x target: %+v", v)
	}
	wantIn(t, v, "FAIL", "ops per client-CPU-second at pipeline 16, 50 connections", ">= 1.5x",
		"median 1.499x [1.30..1.80] over 7 repetitions, below 1.5x")
}

func TestCPUTargetReachedPasses(t *testing.T) {
	v := judgeOne(t, p16, planted("P=16", same(1, 7), same(1500, 7), same(1, 7), same(1000, 7), 0.5))
	if !v.Pass {
		t.Fatalf("median 1.50x missed the 1.5x target: %+v", v)
	}
	wantIn(t, v, "PASS", "median 1.50x [1.50..1.50] over 7 repetitions, reaches 1.5x")
}

// Six repetitions judge nothing: the target is missed, saying why.
func TestTooFewRepetitionsMissTheTarget(t *testing.T) {
	v := judgeOne(t, p16, planted("P=16", same(1, 6), same(3000, 6), same(1, 6), same(1000, 6), 0.99))
	if v.Pass {
		t.Fatalf("6 repetitions passed: %+v", v)
	}
	wantIn(t, v, "FAIL", "6 paired repetitions, at least 7 are needed")
}

func TestCeilingTargetMissedByAHairIsAMiss(t *testing.T) {
	// ops/s ratios 0.9 .. 1.0 with median 0.9699.
	lgThr := []float64{90000, 92000, 95000, 96990, 98000, 99000, 100000}
	v := judgeOne(t, ceiling, planted(ceiling.Name, lgThr, same(1, 7), same(100000, 7), same(1, 7), 0.99))
	if v.Pass {
		t.Fatalf("median 0.9699x passed the 0.97x target: %+v", v)
	}
	wantIn(t, v, "FAIL", "ops/s where the server is the ceiling (pipeline 32, 50 connections): loadgen/best peer (redis-benchmark) >= 0.97x",
		"median 0.9699x [0.90..1.00] over 7 repetitions, below 0.97x", "redis-server 99% busy")
}

func TestCeilingTargetReachedPasses(t *testing.T) {
	v := judgeOne(t, ceiling, planted(ceiling.Name, same(97000, 7), same(1, 7), same(100000, 7), same(1, 7), 0.95))
	if !v.Pass {
		t.Fatalf("median 0.97x missed the 0.97x target: %+v", v)
	}
	wantIn(t, v, "PASS", "median 0.97x", "reaches 0.97x")
}

// Where the peer left the server idle half the time, the server was not the
// ceiling: however loadgen compares, the target is missed and the line says
// the configuration did not saturate the server.
func TestCeilingNeedsASaturatedServer(t *testing.T) {
	v := judgeOne(t, ceiling, planted(ceiling.Name, same(200000, 7), same(1, 7), same(100000, 7), same(1, 7), 0.6))
	if v.Pass {
		t.Fatalf("a comparison with the server 60%% busy passed as server-bound: %+v", v)
	}
	wantIn(t, v, "FAIL", "not a server ceiling: the best peer kept redis-server 60% busy (median of 7 repetitions), below 90%")
}

// Each repetition's loadgen is compared with the faster peer of that
// repetition.
func TestCeilingComparesWithTheBestPeer(t *testing.T) {
	saved := peers
	peers = []string{"redis-benchmark", "other"}
	defer func() { peers = saved }()
	all := planted(ceiling.Name, same(100000, 7), same(1, 7), same(100000, 7), same(1, 7), 0.99)
	for i := 0; i < 7; i++ {
		all = append(all, sample{Bench: ceiling.Name, Tool: "other", Rep: i + 1, OpsPerSec: 200000, ServerBusy: 0.99})
	}
	v := judgeOne(t, ceiling, all)
	if v.Pass {
		t.Fatalf("loadgen at half the best peer's ops/s passed: %+v", v)
	}
	wantIn(t, v, "median 0.50x", "(redis-benchmark, other)")
}

func TestJudgeExitsOneOnlyWhenJudgingAMiss(t *testing.T) {
	pass, miss := verdict{Pass: true}, verdict{}
	for _, c := range []struct {
		vs      []verdict
		judging bool
		want    int
	}{
		{[]verdict{pass, miss}, false, 0},
		{[]verdict{pass, miss}, true, 1},
		{[]verdict{pass, pass}, true, 0},
	} {
		if got := exitCode(c.vs, c.judging); got != c.want {
			t.Errorf("exitCode(%+v, judging %v) = %d, want %d", c.vs, c.judging, got, c.want)
		}
	}
}

func TestParseStatCPUCountsFromTheLastParenthesis(t *testing.T) {
	// The command name holds ") 1 2": fields must be counted after the last ')'.
	line := "4242 (redis) 1 2) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 5 0 1000 0 0"
	got, err := parseStatCPU(line)
	if err != nil || got != 3250*time.Millisecond {
		t.Fatalf("parseStatCPU = %v, %v; want 3.25s (utime 250 + stime 75 ticks of 10 ms)", got, err)
	}
	if _, err := parseStatCPU("4242 (redis) S 1"); err == nil || !strings.Contains(err.Error(), "fields") {
		t.Errorf("a truncated stat line parsed: %v", err)
	}
}

func TestBenchListAddsTheCeilingAndRejectsBadFlags(t *testing.T) {
	bs, err := benchList(50, "1,16", 400, 2000, 32, 3000)
	if err != nil || len(bs) != 3 || bs[0].Requests != 400 || bs[1].Requests != 2000 || !bs[2].Ceiling || bs[2].Pipeline != 32 || bs[2].Requests != 3000 {
		t.Fatalf("benchList = %+v, %v", bs, err)
	}
	if bs, _ := benchList(50, "16", 400, 2000, 0, 3000); len(bs) != 1 {
		t.Errorf("-ceiling-pipeline 0 still ran a ceiling: %+v", bs)
	}
	for _, bad := range []struct {
		pipelines string
		ceil      int
	}{{"1,x", 32}, {"0", 32}, {"16", -1}} {
		if _, err := benchList(50, bad.pipelines, 400, 2000, bad.ceil, 3000); err == nil {
			t.Errorf("benchList(%q, ceiling %d) accepted", bad.pipelines, bad.ceil)
		}
	}
}

func TestServerBusyNearTheThresholdShowsTheDifference(t *testing.T) {
	v := judgeOne(t, ceiling, planted(ceiling.Name, same(1, 7), same(1, 7), same(1, 7), same(1, 7), 0.8996))
	wantIn(t, v, "FAIL", "redis-server 89.96% busy", "below 90%")
}
