package main

import (
	"fmt"
	"strconv"
	"strings"
)

// targets are what loadgen is judged against.
type targets struct {
	// MinCPURatio: loadgen/redis-benchmark ops per client-CPU-second, median
	// of the repetitions, at each pipeline depth compared on client CPU.
	MinCPURatio float64
	// MinCeilingRatio: loadgen/best peer ops/s, median of the repetitions,
	// where the server is the ceiling.
	MinCeilingRatio float64
	// MinServerBusy: the server is the ceiling when the best peer kept it at
	// least this busy (CPU fraction, median); else the comparison measures
	// the clients, and the target is missed for want of a ceiling.
	MinServerBusy float64
	// MinReps: fewer paired repetitions judge nothing (the target is missed).
	MinReps int
}

func defaultTargets() targets {
	return targets{MinCPURatio: 1.5, MinCeilingRatio: 0.97, MinServerBusy: 0.9, MinReps: 7}
}

// verdict is one target's outcome: Target names it, Detail gives the numbers.
type verdict struct {
	Target string
	Pass   bool
	Detail string
}

// peers are the other load generators loadgen is measured against (the
// baseline is loadgen itself, not a peer). memtier_benchmark would be one,
// but Debian ships no package of it.
var peers = []string{"redis-benchmark"}

// judge decides every target from the repetitions' samples.
func judge(all []sample, benches []bench, reps int, tg targets) []verdict {
	var vs []verdict
	for _, bc := range benches {
		by := byTool(all, bc.Name)
		if bc.Ceiling {
			vs = append(vs, judgeCeiling(bc, by, tg))
			continue
		}
		v := verdict{Target: fmt.Sprintf("ops per client-CPU-second at pipeline %d, %d connections: loadgen/redis-benchmark >= %sx",
			bc.Pipeline, bc.Conns, num(tg.MinCPURatio))}
		_, eff := pairedRatios(by["loadgen"], by["redis-benchmark"])
		v.Pass, v.Detail = judgeRatios(eff, tg.MinCPURatio, tg.MinReps)
		vs = append(vs, v)
	}
	return vs
}

// judgeCeiling compares loadgen's ops/s with the best peer's of each
// repetition, once the best peer is shown to have saturated the server.
func judgeCeiling(bc bench, by map[string][]sample, tg targets) verdict {
	v := verdict{Target: fmt.Sprintf("ops/s where the server is the ceiling (pipeline %d, %d connections): loadgen/best peer (%s) >= %sx",
		bc.Pipeline, bc.Conns, strings.Join(peers, ", "), num(tg.MinCeilingRatio))}
	best := map[int]sample{} // by repetition
	for _, p := range peers {
		for _, s := range by[p] {
			if b, ok := best[s.Rep]; !ok || s.OpsPerSec > b.OpsPerSec {
				best[s.Rep] = s
			}
		}
	}
	var ratios, busy []float64
	for _, s := range by["loadgen"] {
		if b, ok := best[s.Rep]; ok {
			ratios = append(ratios, s.OpsPerSec/b.OpsPerSec)
			busy = append(busy, b.ServerBusy)
		}
	}
	if len(busy) > 0 && median(busy) < tg.MinServerBusy {
		v.Detail = fmt.Sprintf("not a server ceiling: the best peer kept redis-server %s%% busy (median of %d repetitions), below %s%%; deepen -ceiling-pipeline or add connections",
			pct(median(busy), tg.MinServerBusy), len(busy), num(100*tg.MinServerBusy))
		return v
	}
	v.Pass, v.Detail = judgeRatios(ratios, tg.MinCeilingRatio, tg.MinReps)
	if len(busy) > 0 {
		v.Detail += fmt.Sprintf("; redis-server %s%% busy under the best peer (median)", pct(median(busy), tg.MinServerBusy))
	}
	return v
}

// judgeRatios passes when the median of at least minReps ratios reaches goal.
func judgeRatios(ratios []float64, goal float64, minReps int) (bool, string) {
	if len(ratios) < minReps {
		return false, fmt.Sprintf("%d paired repetitions, at least %d are needed to judge", len(ratios), minReps)
	}
	m := median(ratios)
	cmp, pass := "below", false
	if m >= goal {
		cmp, pass = "reaches", true
	}
	return pass, fmt.Sprintf("median %sx [%s..%s] over %d repetitions, %s %sx",
		ratio(m, goal), ratio(minOf(ratios), goal), ratio(maxOf(ratios), goal), len(ratios), cmp, num(goal))
}

// ratio formats v with two decimals, or more where two would print a value
// that differs from goal as goal itself: a miss by a hair reads as a miss.
func ratio(v, goal float64) string {
	for d := 2; d <= 6; d++ {
		a := strconv.FormatFloat(v, 'f', d, 64)
		if v == goal || a != strconv.FormatFloat(goal, 'f', d, 64) {
			return a
		}
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// pct is the fraction v in whole percent, or with decimals where whole
// percent would print a value that differs from goal as goal itself.
func pct(v, goal float64) string {
	for d := 0; d <= 4; d++ {
		a := strconv.FormatFloat(100*v, 'f', d, 64)
		if v == goal || a != strconv.FormatFloat(100*goal, 'f', d, 64) {
			return a
		}
	}
	return strconv.FormatFloat(100*v, 'f', -1, 64)
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// verdictText prints one PASS or FAIL line per target.
func verdictText(vs []verdict) string {
	var b strings.Builder
	b.WriteString("\n== targets ==\n")
	for _, v := range vs {
		word := "FAIL"
		if v.Pass {
			word = "PASS"
		}
		fmt.Fprintf(&b, "  %s  %s: %s\n", word, v.Target, v.Detail)
	}
	return b.String()
}

// exitCode is 1 when judging and a target was missed, else 0.
func exitCode(vs []verdict, judging bool) int {
	if !judging {
		return 0
	}
	for _, v := range vs {
		if !v.Pass {
			return 1
		}
	}
	return 0
}
