package loadgen

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestPrefillWritesEveryKeyAndGetsHit(t *testing.T) {
	s := startRedis(t, "")
	m, err := Run(context.Background(), Target{Addr: s.Addr}, Workload{
		Connections: 2, Pipeline: 4, GetRatio: 1, SetRatio: 0, Keyspace: 500, Requests: 300, Prefill: true,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s.Addr, "")
	if n := c.DBSize(context.Background()).Val(); n != 500 {
		t.Errorf("prefill left %d keys, want the whole keyspace (500)", n)
	}
	if got := commandCalls(t, c, "set"); got != 500 {
		t.Errorf("server counted %d SETs, want 500 (prefill only: ratio 1:0)", got)
	}
	info := c.Info(context.Background(), "stats").Val()
	if !strings.Contains(info, "keyspace_hits:300\r") || !strings.Contains(info, "keyspace_misses:0\r") {
		t.Errorf("want 300 GET hits and no misses after prefill; INFO stats:\n%s", info)
	}
	if m.Result.Gets != 300 || m.Result.Sets != 0 {
		t.Errorf("result gets=%d sets=%d, want 300/0", m.Result.Gets, m.Result.Sets)
	}
}

func TestTTLIsSetOnEveryWrite(t *testing.T) {
	s := startRedis(t, "")
	if _, err := Run(context.Background(), Target{Addr: s.Addr}, Workload{
		Connections: 1, Pipeline: 1, GetRatio: 0, SetRatio: 1, Keyspace: 20, KeyDist: DistSequential,
		Requests: 20, TTL: 30 * time.Second,
	}, Options{}); err != nil {
		t.Fatal(err)
	}
	c := client(t, s.Addr, "")
	for k := uint64(0); k < 20; k++ {
		ttl := c.PTTL(context.Background(), keyName(k)).Val()
		if ttl <= 0 || ttl > 30*time.Second {
			t.Fatalf("key %s has TTL %s, want (0, 30s]", keyName(k), ttl)
		}
	}
}

func TestLatencyReflectsInjectedDelay(t *testing.T) {
	s := startRedis(t, "")
	const delay = 30 * time.Millisecond
	proxy := startDelayProxy(t, s.Addr, delay)
	m, err := Run(context.Background(), Target{Addr: proxy}, Workload{
		Connections: 2, Pipeline: 1, Keyspace: 100, Duration: time.Second,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := m.Result.Latency
	// Every reply waits at least the delay; on a shared 2-core machine allow 25 ms on top.
	if minV := m.Latency.Min(); minV < delay.Microseconds() {
		t.Errorf("fastest reply took %d µs, less than the injected %s", minV, delay)
	}
	if l.P50 < float64(delay.Microseconds()) || l.P50 > float64((delay+25*time.Millisecond).Microseconds()) {
		t.Errorf("p50 = %.0f µs, want within [%s, %s]", l.P50, delay, delay+25*time.Millisecond)
	}
	// Closed loop, 2 connections, one request each per ~30 ms: about 66 requests.
	if r := m.Result.Requests; r < 30 || r > 70 {
		t.Errorf("%d requests in 1s through a %s proxy with 2 connections, want 30..70", r, delay)
	}
}

// An open-loop run at a fixed rate meets a 300 ms server stall (CLIENT PAUSE).
// Requests scheduled during the stall wait for it: the corrected p99 shows
// that, while the uncorrected p99 (from the late actual send) hides it.
func TestServerStallRaisesCorrectedP99Only(t *testing.T) {
	s := startRedis(t, "")
	c := client(t, s.Addr, "")
	const stall = 300 * time.Millisecond
	ctx := context.Background()
	go func() {
		tm := time.NewTimer(1200 * time.Millisecond) // mid-run: after setup and about 1s of load
		defer tm.Stop()
		<-tm.C
		c.Do(ctx, "CLIENT", "PAUSE", stall.Milliseconds(), "ALL")
	}()
	m, err := Run(ctx, Target{Addr: s.Addr}, Workload{
		Connections: 4, Pipeline: 1, Keyspace: 1000, Duration: 2500 * time.Millisecond, Rate: 1000,
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Result
	if r.Uncorrected == nil {
		t.Fatal("open-loop result has no uncorrected latency")
	}
	t.Logf("corrected p99 %.1f ms, uncorrected p99 %.1f ms, uncorrected max %.1f ms",
		r.Latency.P99/1000, r.Uncorrected.P99/1000, r.Uncorrected.Max/1000)
	if r.Latency.P99 < 150_000 {
		t.Errorf("corrected p99 = %.1f ms; a %s stall in a 2.5s run at 1000 req/s must push it above 150 ms", r.Latency.P99/1000, stall)
	}
	if r.Uncorrected.P99 > r.Latency.P99/3 {
		t.Errorf("uncorrected p99 = %.1f ms is not far below corrected %.1f ms: coordinated omission is not being shown",
			r.Uncorrected.P99/1000, r.Latency.P99/1000)
	}
	if r.Uncorrected.Max < 150_000 {
		t.Errorf("uncorrected max = %.1f ms; the requests in flight during the stall must still show it", r.Uncorrected.Max/1000)
	}
	if r.Requests < 2000 || r.Requests > 2600 {
		t.Errorf("%d requests at 1000/s for 2.5s, want about 2500", r.Requests)
	}
}

func TestInterruptedRunIsPartialAndKeepsMeasurements(t *testing.T) {
	s := startRedis(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		tm := time.NewTimer(700 * time.Millisecond)
		defer tm.Stop()
		<-tm.C
		cancel()
	}()
	start := time.Now()
	m, err := Run(ctx, Target{Addr: s.Addr}, Workload{Connections: 4, Pipeline: 4, Keyspace: 100, Duration: time.Minute}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("interrupted run took %s to return", el)
	}
	r := m.Result
	if !r.Partial || r.Requests == 0 || r.Latency.Count == 0 {
		t.Errorf("partial=%v requests=%d; want a partial run that kept what it measured", r.Partial, r.Requests)
	}
	dir := t.TempDir()
	if _, err := m.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, FileResult))
	if !strings.Contains(string(raw), `"partial": true`) {
		t.Errorf("result.json does not say partial: %s", raw[:min(len(raw), 300)])
	}
}
