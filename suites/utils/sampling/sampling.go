// Package sampling watches an instance's pods during a rollout, so the
// rollout can be judged afterwards (internal/data/rollout).
package sampling

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
)

// Interval is how often Pods samples: often enough to see one pod at a time
// go down and come back.
const Interval = 200 * time.Millisecond

// Pods reads the pods of instance ns/name every interval until stop is
// called (or ctx ends); stop returns what it saw, in order. Reads that fail
// are left out. stop may be called more than once.
func Pods(ctx context.Context, c client.Client, ns, name string, interval time.Duration) (stop func() []rollout.Sample) {
	var (
		mu  sync.Mutex
		out []rollout.Sample
	)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			if s, err := rollout.Take(sctx, c, ns, name); err == nil {
				mu.Lock()
				out = append(out, s)
				mu.Unlock()
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() []rollout.Sample {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return append([]rollout.Sample{}, out...)
	}
}
