// Package barrier is the pod side of a distributed load run's start: a pod
// reports ready (an HTTP readiness endpoint the kubelet probes) once its
// connections are open, then waits for the start time the harness writes,
// after every pod is Ready, into an annotation that a downward-API file
// shows it. The harness side is loadtarget.Release.
//
// Why this shape: the pods hold no API credentials (no service account
// token), so the harness cannot be asked; the kubelet's readiness probe and
// the downward-API volume are the two channels the pod already has. The
// start is a wall-clock instant rather than "now", so pods that learn it a
// little apart still start together; a pod that learns it only after it
// has passed fails instead of starting late.
package barrier

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// StartAnnotation is the pod annotation holding the start time (RFC 3339, ns).
const StartAnnotation = "dfe2e.io/load-start"

// ReadyPath is the readiness endpoint.
const ReadyPath = "/ready"

// Clock is the time the wait reads (a fake in tests).
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Gate is one pod's barrier.
type Gate struct {
	// File is the downward-API file with the StartAnnotation's value
	// (empty until the harness writes it).
	File string
	// Timeout bounds the wait for the start time (the harness waits this
	// long for every pod to become Ready).
	Timeout time.Duration
	// Poll is how often File is read (default 20ms).
	Poll  time.Duration
	Clock Clock

	ready atomic.Bool
}

// ServeReady serves ReadyPath on addr (503 until the gate is ready) until
// ctx ends, and returns the address it listens on.
func (g *Gate) ServeReady(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("readiness endpoint %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(ReadyPath, func(w http.ResponseWriter, _ *http.Request) {
		if g.ready.Load() {
			_, _ = w.Write([]byte("ready\n"))
			return
		}
		http.Error(w, "connecting", http.StatusServiceUnavailable)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Ready reports whether the pod has said it is ready.
func (g *Gate) Ready() bool { return g.ready.Load() }

// Wait marks the pod ready and waits for the start time. It fails when the
// time is unreadable, when it is learnt only after it passed, or when none
// comes within Timeout.
func (g *Gate) Wait(ctx context.Context) (time.Time, error) {
	clk := g.Clock
	if clk == nil {
		clk = realClock{}
	}
	poll := g.Poll
	if poll <= 0 {
		poll = 20 * time.Millisecond
	}
	g.ready.Store(true)
	deadline := clk.Now().Add(g.Timeout)
	for {
		raw, err := os.ReadFile(g.File)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return time.Time{}, fmt.Errorf("reading the start time from %s: %w", g.File, err)
		}
		if v := strings.TrimSpace(string(raw)); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return time.Time{}, fmt.Errorf("start time %q in %s is not RFC 3339: %w", v, g.File, err)
			}
			if now := clk.Now(); now.After(at) {
				return time.Time{}, fmt.Errorf("learnt the start time %s only at %s, %s after it: the other pods started without this one; raise --barrier-lead",
					at.Format(time.RFC3339Nano), now.Format(time.RFC3339Nano), now.Sub(at))
			}
			return at, nil
		}
		if !clk.Now().Before(deadline) {
			return time.Time{}, fmt.Errorf("no start time in %s after %s (annotation %s): the harness releases the pods once all are Ready", g.File, g.Timeout, StartAnnotation)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-clk.After(poll):
		}
	}
}
