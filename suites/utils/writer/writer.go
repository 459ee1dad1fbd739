// Package writer runs the failover writer through an instance's Service, as
// a client would: it follows the Service to the pod behind it.
package writer

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Forwards resolves the Service to the pod behind it (its EndpointSlices,
// i.e. what the Service would route to) and keeps one port-forward per pod.
type Forwards struct {
	c       client.Client
	cfg     *rest.Config
	cs      kubernetes.Interface
	ns, svc string
	mu      sync.Mutex
	fwd     map[string]*instance.Forward
}

// NewForwards follows Service ns/svc; cfg and cs open the port-forwards.
func NewForwards(c client.Client, cfg *rest.Config, cs kubernetes.Interface, ns, svc string) *Forwards {
	return &Forwards{c: c, cfg: cfg, cs: cs, ns: ns, svc: svc, fwd: map[string]*instance.Forward{}}
}

// Start starts the failover writer through Service ns/svc and waits for n
// acknowledged writes. stop ends the writer and waits for it (before an RPO
// count). The caller runs stop, then f.Close, when it is done — also when
// err is set (the writer runs then too).
func Start(ctx context.Context, c client.Client, cfg *rest.Config, cs kubernetes.Interface, ns, svc string, n int) (f *Forwards, log *failover.Log, stop func(), err error) {
	f = NewForwards(c, cfg, cs, ns, svc)
	wctx, stopWriter := context.WithCancel(ctx)
	log, done := (&failover.Writer{Resolve: f.Resolve}).Start(wctx)
	stop = func() { stopWriter(); <-done }
	_, err = wait.For(ctx, fmt.Sprintf("the writer to log %d acknowledged writes through Service %s/%s", n, ns, svc), wait.ServerReachable,
		func(context.Context) (bool, string, error) {
			got := len(log.Acked())
			return got >= n, fmt.Sprintf("%d acked", got), nil
		})
	return f, log, stop, err
}

// Pod is the one pod the Service routes to; more or fewer is an error
// naming them.
func (s *Forwards) Pod(ctx context.Context) (string, error) {
	pods, err := instance.ServiceTargets(ctx, s.c, s.ns, s.svc)
	if err != nil {
		return "", err
	}
	if len(pods) != 1 {
		return "", fmt.Errorf("Service %s/%s routes to %d pods %v, want exactly the master", s.ns, s.svc, len(pods), pods)
	}
	return pods[0], nil
}

// Resolve is the local address of a port-forward to the pod the Service
// routes to now, opened on first use.
func (s *Forwards) Resolve(ctx context.Context) (string, error) {
	p, err := s.Pod(ctx)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fwd[p]; ok {
		return f.Addr, nil
	}
	f, err := instance.PortForward(ctx, s.cfg, s.cs, s.ns, p, 6379)
	if err != nil {
		return "", err
	}
	s.fwd[p] = f
	return f.Addr, nil
}

// AddrOf is the local address of the forward to pod ("" when none was opened).
func (s *Forwards) AddrOf(pod string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fwd[pod]; ok {
		return f.Addr
	}
	return ""
}

// Close closes every port-forward.
func (s *Forwards) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fwd {
		f.Close()
	}
}
