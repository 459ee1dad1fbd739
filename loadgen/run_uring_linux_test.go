//go:build linux

package loadgen

import (
	"context"
	"fmt"
	"testing"
)

// ioPaths runs f once on io_uring (skipped where the kernel refuses a ring)
// and once on epoll, and checks that the io_uring run really used a ring.
func ioPaths(t *testing.T, f func(t *testing.T)) {
	t.Run("io_uring", func(t *testing.T) {
		probe, err := newURing(16, 1, 4096)
		if err != nil {
			t.Skipf("this kernel gives no io_uring ring (%v): the loops run on epoll", err)
		}
		probe.close()
		before := uringStats.loops.Load()
		f(t)
		if uringStats.loops.Load() == before {
			t.Errorf("no event loop ran on io_uring although a ring could be set up")
		}
	})
	t.Run("epoll", func(t *testing.T) {
		uringEnabled = false
		t.Cleanup(func() { uringEnabled = true })
		before := uringStats.loops.Load()
		f(t)
		if uringStats.loops.Load() != before {
			t.Errorf("a loop ran on io_uring although it was disabled")
		}
	})
}

// runExact runs w and checks every request was answered, counted once by the
// server, recorded once in the histogram, and none failed.
func runExact(t *testing.T, addr string, w Workload) {
	t.Helper()
	c := client(t, addr, "")
	if err := c.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	m, err := Run(context.Background(), Target{Addr: addr}, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := m.Result
	if r.Requests != w.Requests || len(r.Errors) != 0 || r.Latency.Count != w.Requests {
		t.Fatalf("answered %d of %d requests, histogram holds %d, errors %v; want all answered and recorded, no errors",
			r.Requests, w.Requests, r.Latency.Count, r.Errors)
	}
	gets, sets := commandCalls(t, c, "get"), commandCalls(t, c, "set")
	wantSets := w.Requests / 2
	if w.Prefill {
		wantSets += w.Keyspace
	}
	if gets != w.Requests/2 || sets != wantSets {
		t.Errorf("server counted %d GETs and %d SETs, want %d and %d", gets, sets, w.Requests/2, wantSets)
	}
}

func TestEventLoopManyRepliesPerReceive(t *testing.T) {
	s := startRedis(t, "")
	ioPaths(t, func(t *testing.T) {
		// 64 small replies per batch arrive together: one receive holds many.
		runExact(t, s.Addr, Workload{Connections: 3, Pipeline: 64, GetRatio: 1, SetRatio: 1,
			Keyspace: 1000, ValueSize: 16, Requests: 19200, Seed: 3})
	})
}

func TestEventLoopRepliesSplitAcrossReceives(t *testing.T) {
	s := startRedis(t, "")
	ioPaths(t, func(t *testing.T) {
		// 200 KB GET replies exceed a receive buffer (64 KiB at most): each
		// reply spans several receives and parsing resumes mid-reply.
		before := uringStats.splitReplies.Load()
		runExact(t, s.Addr, Workload{Connections: 2, Pipeline: 3, GetRatio: 1, SetRatio: 1,
			Keyspace: 10, ValueSize: 200_000, Prefill: true, Requests: 240, Seed: 5})
		if uringEnabled && uringStats.splitReplies.Load() == before {
			t.Errorf("no receive ended inside a reply: the test did not exercise split replies")
		}
	})
}

func TestEventLoopPartialSends(t *testing.T) {
	s := startRedis(t, "")
	ioPaths(t, func(t *testing.T) {
		// A batch of 8 × 1 MiB SETs is larger than a socket's send buffer:
		// the socket takes it in parts.
		before := uringStats.shortSends.Load()
		runExact(t, s.Addr, Workload{Connections: 2, Pipeline: 8, GetRatio: 1, SetRatio: 1,
			Keyspace: 8, ValueSize: 1 << 20, Requests: 64, Seed: 9})
		if uringEnabled && uringStats.shortSends.Load() == before {
			t.Errorf("every send was taken whole: the test did not exercise partial sends")
		}
	})
}

func TestEventLoopManyConnectionsPipelineOne(t *testing.T) {
	s := startRedis(t, "")
	ioPaths(t, func(t *testing.T) {
		for _, conns := range []int{1, 50} {
			t.Run(fmt.Sprint(conns), func(t *testing.T) {
				runExact(t, s.Addr, Workload{Connections: conns, Pipeline: 1, GetRatio: 1, SetRatio: 1,
					Keyspace: 1000, ValueSize: 64, Requests: 4000, Seed: 11})
			})
		}
	})
}
