package barrier

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock advances only when the wait polls.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
	// onPoll runs at each poll (the harness acting meanwhile).
	onPoll func(now time.Time)
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	c.now = c.now.Add(d)
	now := c.now
	c.mu.Unlock()
	if c.onPoll != nil {
		c.onPoll(now)
	}
	ch := make(chan time.Time, 1)
	ch <- now
	return ch
}

func TestGateWaitsForTheStartTime(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "start")
	start := t0.Add(10 * time.Second)
	clk := &fakeClock{now: t0}
	clk.onPoll = func(now time.Time) {
		if now.Sub(t0) >= 3*time.Second { // the harness releases the pods at +3s for +10s
			_ = os.WriteFile(file, []byte(start.Format(time.RFC3339Nano)), 0o644)
		}
	}
	g := &Gate{File: file, Timeout: time.Minute, Poll: 100 * time.Millisecond, Clock: clk}
	if g.Ready() {
		t.Fatal("ready before Wait")
	}
	at, err := g.Wait(context.Background())
	if err != nil || !at.Equal(start) {
		t.Fatalf("start %s %v; want %s", at, err, start)
	}
	if !g.Ready() {
		t.Error("not ready after Wait")
	}
}

// A pod that learns the start only after it passed fails instead of
// starting behind the others.
func TestGateLateFails(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "start")
	if err := os.WriteFile(file, []byte(t0.Add(-time.Second).Format(time.RFC3339Nano)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := (&Gate{File: file, Timeout: time.Minute, Clock: &fakeClock{now: t0}}).Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "1s after it") || !strings.Contains(err.Error(), "--barrier-lead") {
		t.Fatalf("late start: %v", err)
	}
}

func TestGateTimesOutAndRejectsGarbage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "start")
	_, err := (&Gate{File: file, Timeout: 5 * time.Second, Clock: &fakeClock{now: t0}}).Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no start time") {
		t.Fatalf("no release: %v", err)
	}
	_ = os.WriteFile(file, []byte("soon"), 0o644)
	_, err = (&Gate{File: file, Timeout: 5 * time.Second, Clock: &fakeClock{now: t0}}).Wait(context.Background())
	if err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestReadyEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := &Gate{File: filepath.Join(t.TempDir(), "start"), Timeout: time.Millisecond}
	addr, err := g.ServeReady(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	code := func() int {
		resp, err := http.Get("http://" + addr + ReadyPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := code(); c != http.StatusServiceUnavailable {
		t.Errorf("before ready: %d, want 503", c)
	}
	_, _ = g.Wait(ctx) // marks ready, then times out: no start time
	if c := code(); c != http.StatusOK {
		t.Errorf("after ready: %d, want 200", c)
	}
}
