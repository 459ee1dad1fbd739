// Package podwait is the one way dragonfly-e2e waits for the pods of a
// workload to start: it polls them until the caller's ready says done, and
// ends early when they never will — failed when a container started and
// crashed (*imagepull.CrashError, with its log tail when logs can be read),
// blocked when an image cannot be pulled and nothing else failed
// (*imagepull.BlockedError). Only the workload's own pods are read: an
// unrelated pod of the namespace must not decide another's verdict.
package podwait

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// logLines is how much of a crashed container's log a CrashError carries.
const logLines = 20

// Pods lists pods and, when it can, reads a crashed container's log.
type Pods struct {
	list func(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error)
	logs func(ctx context.Context, ns, pod, container string, previous bool) ([]byte, error)
}

// FromReader lists pods through a controller-runtime client; it reads no
// logs unless WithLogs is added.
func FromReader(c client.Reader) Pods {
	return Pods{list: func(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
		var pods corev1.PodList
		err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: sel})
		return pods.Items, err
	}}
}

// FromClientset lists pods and reads logs through cs.
func FromClientset(cs kubernetes.Interface) Pods {
	p := Pods{list: func(ctx context.Context, ns string, sel labels.Selector) ([]corev1.Pod, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if err != nil {
			return nil, err
		}
		return pods.Items, nil
	}}
	return p.WithLogs(cs)
}

// WithLogs reads crashed containers' logs through cs (nil: no logs).
func (p Pods) WithLogs(cs kubernetes.Interface) Pods {
	if cs == nil {
		p.logs = nil
		return p
	}
	p.logs = func(ctx context.Context, ns, pod, container string, previous bool) ([]byte, error) {
		tail := int64(logLines)
		return cs.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Previous: previous, TailLines: &tail}).DoRaw(ctx)
	}
	return p
}

// Ready reports whether the wait is over given the workload's current pods,
// and a short state for the timeout message; an error ends the wait.
type Ready func(ctx context.Context, pods []corev1.Pod) (done bool, state string, err error)

// WaitPods polls the pods of ns that sel matches, within the named timeout,
// until ready says done. Ready is asked first, so a pod that restarted once
// but now serves does not fail the wait; while not done, a crashed container
// ends the wait as *imagepull.CrashError and, only when nothing crashed, an
// image that cannot be pulled as *imagepull.BlockedError (both wrapped).
// what is a phrase like "Deployment database/x to be Available".
func WaitPods(ctx context.Context, p Pods, what string, timeout wait.Name, ns string, sel labels.Selector, ready Ready) error {
	if sel == nil || sel.Empty() {
		// An empty selector would read every pod of the namespace.
		return fmt.Errorf("waiting for %s: no pod selector", what)
	}
	_, err := wait.For(ctx, what, timeout, func(ctx context.Context) (bool, string, error) {
		pods, err := p.list(ctx, ns, sel)
		if err != nil {
			return false, err.Error(), nil
		}
		done, state, err := ready(ctx, pods)
		if done || err != nil {
			return done, state, err
		}
		return false, state, p.Diagnose(ctx, pods)
	})
	return err
}

// Diagnose is imagepull.Check on pods, with the crashed container's log
// tail added when p reads logs.
func (p Pods) Diagnose(ctx context.Context, pods []corev1.Pod) error {
	err := imagepull.Check(pods)
	var ce *imagepull.CrashError
	if errors.As(err, &ce) && p.logs != nil {
		ns, name, _ := strings.Cut(ce.Pod, "/")
		b, lerr := p.logs(ctx, ns, name, ce.Container, ce.Previous)
		if lerr != nil {
			ce.LogTail = "(log not readable: " + lerr.Error() + ")"
		} else {
			ce.LogTail = tail.Lines(string(b), logLines)
		}
	}
	return err
}

// CheckWorkloads diagnoses, once, the pods of each workload: the first
// crash, else the first image that cannot be pulled, else nil. A workload
// whose pods cannot be listed counts as nothing seen (the caller's wait retries).
func (p Pods) CheckWorkloads(ctx context.Context, ws []Workload) error {
	var blocked error
	for _, w := range ws {
		pods, err := p.list(ctx, w.Namespace, w.Selector)
		if err != nil {
			continue
		}
		err = p.Diagnose(ctx, pods)
		switch {
		case errors.Is(err, imagepull.ErrCrashed):
			return fmt.Errorf("%s: %w", w.Ref, err)
		case err != nil && blocked == nil:
			blocked = fmt.Errorf("%s: %w", w.Ref, err)
		}
	}
	return blocked
}
