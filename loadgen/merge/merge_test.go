package merge

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

// podRun is a synthetic pod measurement: secs seconds of random latencies
// (a long tail), recorded per second and in total, as the loader records.
type podRun struct {
	m       *loadgen.Measurement
	perSec  []*hdr.Histogram
	perSecU []*hdr.Histogram
}

func synthPod(t *testing.T, rng *rand.Rand, total loadgen.Workload, n, i int, start time.Time, secs int) podRun {
	t.Helper()
	open := total.OpenLoop()
	m := &loadgen.Measurement{Latency: loadgen.NewHistogram()}
	if open {
		m.Uncorrected = loadgen.NewHistogram()
	}
	r := loadgen.Result{Tool: loadgen.ToolName, Workload: loadgen.Share(total, n, i), Start: start,
		End: start.Add(time.Duration(secs) * time.Second), ServerInfo: "redis_version:7.0.15"}
	pr := podRun{m: m}
	for s := range secs {
		h := loadgen.NewHistogram()
		hu := loadgen.NewHistogram()
		k := rng.Intn(2000)
		for range k {
			v := int64(rng.ExpFloat64()*300) + 1
			if rng.Intn(100) == 0 {
				v *= 200 // the tail
			}
			_ = h.RecordValue(v)
			_ = hu.RecordValue(max(1, v/2))
		}
		errs := int64(rng.Intn(3))
		r.Requests += int64(k)
		r.Gets += int64(k / 2)
		r.Sets += int64(k - k/2)
		if errs > 0 {
			if r.Errors == nil {
				r.Errors = map[string]int64{}
			}
			r.Errors["timeout"] += errs
		}
		m.Latency.Merge(h)
		enc, _ := h.EncodeV2()
		li := loadgen.LoggedInterval{StartSec: float64(s), LengthSec: 1, MaxMs: float64(h.Max()) / 1000, Latency: string(enc)}
		if open {
			m.Uncorrected.Merge(hu)
			encU, _ := hu.EncodeV2()
			li.Uncorrected = string(encU)
		}
		m.Intervals = append(m.Intervals, li)
		r.Timeline = append(r.Timeline, loadgen.Interval{Second: s, Ops: int64(k), Errors: errs})
		pr.perSec = append(pr.perSec, h)
		pr.perSecU = append(pr.perSecU, hu)
	}
	r.UnmeasuredRequests = int64(rng.Intn(500))
	r.Latency = loadgen.PercentilesOf(m.Latency)
	enc, _ := m.Latency.EncodeV2()
	r.Histogram = string(enc)
	if open {
		p := loadgen.PercentilesOf(m.Uncorrected)
		r.Uncorrected = &p
		encU, _ := m.Uncorrected.EncodeV2()
		r.UncorrectedHistogram = string(encU)
	}
	m.Result = r
	return pr
}

// files is what the pod's bundle carries: the files the loader writes.
func files(t *testing.T, m *loadgen.Measurement) map[string][]byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := m.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// Property: for random pod counts, run lengths and latencies (fixed seeds),
// the merge of the pods' histograms equals the histogram of the union of
// their values — in total and for every second — and the counts add up.
func TestMergeEqualsTheHistogramOfTheUnion(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for seed := int64(1); seed <= 12; seed++ {
		rng := rand.New(rand.NewSource(seed))
		n := 1 + rng.Intn(5)
		secs := 1 + rng.Intn(4)
		total := loadgen.Workload{Pipeline: 1, Connections: 8, Duration: time.Duration(secs) * time.Second}
		if seed%2 == 0 {
			total.Rate = 1000
		}
		t.Run(fmt.Sprintf("seed %d, %d pods, %ds, open %v", seed, n, secs, total.OpenLoop()), func(t *testing.T) {
			union := loadgen.NewHistogram()
			unionU := loadgen.NewHistogram()
			unionSec := make([]*hdr.Histogram, secs)
			for s := range unionSec {
				unionSec[s] = loadgen.NewHistogram()
			}
			var pods []Pod
			var requests, unmeasured int64
			for i := range n {
				pr := synthPod(t, rng, total, n, i, start, secs)
				union.Merge(pr.m.Latency)
				if total.OpenLoop() {
					unionU.Merge(pr.m.Uncorrected)
				}
				for s, h := range pr.perSec {
					unionSec[s].Merge(h)
				}
				requests += pr.m.Result.Requests
				unmeasured += pr.m.Result.UnmeasuredRequests
				pods = append(pods, Pod{Index: i, Name: fmt.Sprintf("load-%d-x", i), Node: fmt.Sprintf("node-%d", i%2), Files: files(t, pr.m)})
			}
			m, err := Merge(total, n, pods)
			if err != nil {
				t.Fatal(err)
			}
			if !m.Latency.Equals(union) {
				t.Errorf("merged histogram (count %d, p99 %d) differs from the union's (count %d, p99 %d)",
					m.Latency.TotalCount(), m.Latency.ValueAtQuantile(99), union.TotalCount(), union.ValueAtQuantile(99))
			}
			if total.OpenLoop() && !m.Uncorrected.Equals(unionU) {
				t.Error("merged uncorrected histogram differs from the union's")
			}
			if len(m.Intervals) != secs {
				t.Fatalf("%d merged intervals, want %d", len(m.Intervals), secs)
			}
			for s, iv := range m.Intervals {
				h, err := hdr.Decode([]byte(iv.Latency))
				if err != nil || !h.Equals(unionSec[s]) {
					t.Errorf("second %d: merged interval differs from the union of the pods' second %d (%v)", s, s, err)
				}
				if m.Result.Timeline[s].Ops != unionSec[s].TotalCount() {
					t.Errorf("second %d: %d ops, want %d", s, m.Result.Timeline[s].Ops, unionSec[s].TotalCount())
				}
			}
			r := m.Result
			if r.Requests != requests || r.Latency.Count != requests || r.UnmeasuredRequests != unmeasured || r.Partial {
				t.Errorf("merged requests %d (histogram %d, unmeasured %d, partial %v), want %d (%d unmeasured)",
					r.Requests, r.Latency.Count, r.UnmeasuredRequests, r.Partial, requests, unmeasured)
			}
			if r.Parallel == nil || len(r.Parallel.Parts) != n {
				t.Fatalf("parallel parts: %+v", r.Parallel)
			}
			for i, part := range r.Parallel.Parts {
				if part.Node != fmt.Sprintf("node-%d", i%2) {
					t.Errorf("pod %d ran on node-%d, its part says %q", i, i%2, part.Node)
				}
			}
			var table strings.Builder
			_ = m.WriteTable(&table)
			if want := fmt.Sprintf("on %d node(s)", min(n, 2)); !strings.Contains(table.String(), want) || !strings.Contains(table.String(), "node-0") {
				t.Errorf("the table does not show where the pods ran (%q):\n%s", want, table.String())
			}
			// The merged result.json round-trips to the same histogram.
			back, err := hdr.Decode([]byte(r.Histogram))
			if err != nil || !back.Equals(union) {
				t.Errorf("result.json histogram does not decode to the union: %v", err)
			}
		})
	}
}

// Pods whose measured phases started a second apart are merged by
// wall-clock second, not by their own second numbers.
func TestMergeAlignsIntervalsByWallClockSecond(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	total := loadgen.Workload{Pipeline: 1, Connections: 2, Duration: 2 * time.Second}
	a := synthPod(t, rng, total, 2, 0, start, 2)
	b := synthPod(t, rng, total, 2, 1, start.Add(time.Second), 2)
	m, err := Merge(total, 2, []Pod{{Index: 0, Name: "a", Files: files(t, a.m)}, {Index: 1, Name: "b", Files: files(t, b.m)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Intervals) != 3 {
		t.Fatalf("%d intervals, want 3 (seconds 0, 1, 2 of the first pod's clock)", len(m.Intervals))
	}
	want := []int64{a.perSec[0].TotalCount(), a.perSec[1].TotalCount() + b.perSec[0].TotalCount(), b.perSec[1].TotalCount()}
	for s, w := range want {
		if got := m.Result.Timeline[s].Ops; got != w {
			t.Errorf("wall-clock second %d: %d ops, want %d", s, got, w)
		}
	}
}

// A pod that failed makes the merge partial and names the pod; the pods
// that finished are kept.
func TestMergeWithAFailedPodIsPartialAndNamesIt(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	start := time.Now().UTC()
	total := loadgen.Workload{Pipeline: 1, Connections: 3, Duration: time.Second}
	a := synthPod(t, rng, total, 3, 0, start, 1)
	c := synthPod(t, rng, total, 3, 2, start, 1)
	m, err := Merge(total, 3, []Pod{
		{Index: 0, Name: "load-0-a", Files: files(t, a.m)},
		{Index: 1, Name: "load-1-b", Failed: "Evicted: the node was low on memory"},
		{Index: 2, Name: "load-2-c", Files: files(t, c.m)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Result
	if !r.Partial || r.Requests != a.m.Result.Requests+c.m.Result.Requests {
		t.Errorf("partial %v, requests %d; want partial with the two finished pods' %d", r.Partial, r.Requests, a.m.Result.Requests+c.m.Result.Requests)
	}
	if p := r.Parallel.Parts[1]; p.Pod != "load-1-b" || !strings.Contains(p.Failed, "Evicted") {
		t.Errorf("part 1: %+v; want the evicted pod named", p)
	}
	if _, err := Merge(total, 3, []Pod{{Index: 0, Name: "load-0-a", Failed: "exited 1"}}); err == nil || !strings.Contains(err.Error(), "load-0-a") {
		t.Errorf("no results at all: %v; want an error naming the pod", err)
	}
}

func mergedRun(t *testing.T) (*loadgen.Measurement, []podRun) {
	rng := rand.New(rand.NewSource(11))
	start := time.Now().UTC()
	total := loadgen.Workload{Pipeline: 1, Connections: 3, Duration: 2 * time.Second}
	var pods []Pod
	var runs []podRun
	for i := range 3 {
		pr := synthPod(t, rng, total, 3, i, start, 2)
		pr.m.Result.Errors = nil // no requests lost in flight: the count must be exact
		runs = append(runs, pr)
		pods = append(pods, Pod{Index: i, Name: fmt.Sprintf("p%d", i), Files: files(t, pr.m)})
	}
	m, err := Merge(total, 3, pods)
	if err != nil {
		t.Fatal(err)
	}
	return m, runs
}

func TestCrossCheckAgainstTheServersCount(t *testing.T) {
	m, _ := mergedRun(t)
	sent := m.Result.Requests + m.Result.UnmeasuredRequests
	ok := loadgen.ServerCount{Commands: []string{"get", "set"}, Before: 1000, After: 1000 + sent}
	if err := CrossCheck(m, ok); err != nil {
		t.Fatalf("matching counts: %v", err)
	}
	off := ok
	off.After--
	err := CrossCheck(m, off)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(sent-1)) || !strings.Contains(err.Error(), fmt.Sprint(sent)) {
		t.Fatalf("server one short: %v; want both counts (%d and %d) named", err, sent-1, sent)
	}
	// Requests lost in flight may or may not have reached the server.
	m.Result.Errors = map[string]int64{"conn_reset": 2}
	for _, d := range []int64{0, 1, 2} {
		c := ok
		c.After += d
		if err := CrossCheck(m, c); err != nil {
			t.Errorf("%d of 2 failed requests reached the server: %v", d, err)
		}
	}
	c := ok
	c.After += 3
	if err := CrossCheck(m, c); err == nil {
		t.Error("3 more than answered with 2 failed: passed")
	}
}

// Planted defect: a merge that drops one pod's histogram. The cross-check
// must fail and name the numbers that disagree.
func TestCrossCheckCatchesAMergeThatDropsAPod(t *testing.T) {
	m, runs := mergedRun(t)
	sent := m.Result.Requests + m.Result.UnmeasuredRequests
	server := loadgen.ServerCount{Commands: []string{"get", "set"}, Before: 0, After: sent}
	defective := loadgen.NewHistogram()
	for _, pr := range runs[1:] { // pod 0 dropped
		defective.Merge(pr.m.Latency)
	}
	m.Latency = defective
	err := CrossCheck(m, server)
	if err == nil {
		t.Fatal("a merge without pod 0's histogram passed the cross-check")
	}
	for _, want := range []string{fmt.Sprint(defective.TotalCount()), fmt.Sprint(m.Result.Requests), fmt.Sprint(sent)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %s: %v", want, err)
		}
	}
}
