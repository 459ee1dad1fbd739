package loadgen

import (
	"context"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

func TestRequestCountAndGetSetRatioAreExact(t *testing.T) {
	s := startRedis(t, "")
	m, err := Run(context.Background(), Target{Addr: s.Addr}, Workload{
		Connections: 4, Pipeline: 8, GetRatio: 3, SetRatio: 1, Keyspace: 1000, Requests: 10000, Seed: 7,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Result
	if r.Requests != 10000 || r.Gets != 7500 || r.Sets != 2500 || len(r.Errors) != 0 {
		t.Fatalf("result says requests=%d gets=%d sets=%d errors=%v; want 10000/7500/2500/none", r.Requests, r.Gets, r.Sets, r.Errors)
	}
	c := client(t, s.Addr, "")
	if got := commandCalls(t, c, "get"); got != 7500 {
		t.Errorf("server counted %d GET calls, want 7500", got)
	}
	if got := commandCalls(t, c, "set"); got != 2500 {
		t.Errorf("server counted %d SET calls, want 2500", got)
	}
	if r.Latency.Count != 10000 {
		t.Errorf("histogram holds %d latencies, want one per request (10000)", r.Latency.Count)
	}
	h, err := hdr.Decode([]byte(r.Histogram))
	if err != nil || h.TotalCount() != 10000 {
		t.Errorf("encoded histogram decodes to %v values (err %v), want 10000", h.TotalCount(), err)
	}
	var ops int64
	for _, iv := range r.Timeline {
		ops += iv.Ops
	}
	if ops != 10000 {
		t.Errorf("timeline sums to %d ops, want 10000", ops)
	}
	if r.Partial || r.OpsPerSec <= 0 || r.StandIn == "" {
		t.Errorf("partial=%v opsPerSec=%v standIn=%q; want a complete run with throughput, labelled as a stand-in", r.Partial, r.OpsPerSec, r.StandIn)
	}
}
