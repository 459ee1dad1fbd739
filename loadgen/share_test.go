package loadgen

import (
	"strings"
	"testing"
	"time"
)

// The pods' parts add up to the whole: connections, requests and rate
// (remainders to the lowest indices), every seed its own, one prefill.
func TestShareSumsToTheTarget(t *testing.T) {
	for _, c := range []struct {
		w Workload
		n int
	}{
		{Workload{Pipeline: 1, Connections: 50, Rate: 20000, Duration: time.Second, Seed: 7, Prefill: true}, 3},
		{Workload{Pipeline: 1, Connections: 7, Rate: 1000.001, Duration: time.Second}, 7},
		{Workload{Pipeline: 1, Connections: 10, Rate: 3.333, Duration: time.Second}, 4},
		{Workload{Pipeline: 4, Connections: 5, Requests: 100003}, 5},
		{Workload{Pipeline: 1, Connections: 5, Requests: 5}, 1},
	} {
		if err := CheckShare(c.w, c.n); err != nil {
			t.Fatalf("%+v / %d: %v", c.w, c.n, err)
		}
		var conns int
		var reqs, milli int64
		seeds := map[int64]int{}
		prefills := 0
		for i := range c.n {
			p := Share(c.w, c.n, i)
			if err := p.Validate(); err != nil {
				t.Fatalf("part %d invalid: %v", i, err)
			}
			conns += p.Connections
			reqs += p.Requests
			milli += rateMilli(p.Rate)
			if j, dup := seeds[p.Seed]; dup {
				t.Errorf("pods %d and %d share seed %d", j, i, p.Seed)
			}
			seeds[p.Seed] = i
			if p.Seed != c.w.WithDefaults().Seed+int64(i) {
				t.Errorf("pod %d seed %d, want base+index", i, p.Seed)
			}
			if p.Prefill {
				prefills++
			}
			if c.w.OpenLoop() != p.OpenLoop() {
				t.Errorf("pod %d open loop %v, the whole %v", i, p.OpenLoop(), c.w.OpenLoop())
			}
			if p.Pipeline != c.w.Pipeline || p.Duration != c.w.Duration {
				t.Errorf("pod %d changed pipeline or duration: %+v", i, p)
			}
		}
		if conns != c.w.Connections || reqs != c.w.Requests || milli != rateMilli(c.w.Rate) {
			t.Errorf("%+v over %d: parts sum to %d conns, %d requests, %d m-req/s", c.w, c.n, conns, reqs, milli)
		}
		if want := map[bool]int{true: 1, false: 0}[c.w.Prefill]; prefills != want {
			t.Errorf("%d pods prefill, want %d", prefills, want)
		}
		// Deterministic: the same split every time.
		if Share(c.w, c.n, 0) != Share(c.w, c.n, 0) {
			t.Error("Share is not deterministic")
		}
	}
}

func TestCheckShareRefusesWhatCannotBeSplit(t *testing.T) {
	base := Workload{Pipeline: 1, Connections: 4, Duration: time.Second}
	for name, c := range map[string]struct {
		w    Workload
		n    int
		want string
	}{
		"zero pods":           {base, 0, "--parallel 0"},
		"more pods than conn": {base, 5, "more than the 4 connections"},
		"fewer requests":      {Workload{Pipeline: 1, Connections: 4, Requests: 3}, 4, "--requests 3 is fewer than the 4 pods"},
		"rate too fine":       {Workload{Pipeline: 1, Connections: 4, Rate: 10.0005, Duration: time.Second}, 2, "more than 3 decimals"},
		"rate below pods":     {Workload{Pipeline: 1, Connections: 4, Rate: 0.002, Duration: time.Second}, 3, "leaves a pod without rate"},
	} {
		if err := CheckShare(c.w, c.n); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", name, err, c.want)
		}
	}
}
