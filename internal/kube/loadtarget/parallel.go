package loadtarget

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/barrier"
)

// PodOutcome is one pod of a parallel load Job: its log and, when it did
// not succeed, why.
type PodOutcome struct {
	Index    int
	Pod      string
	Node     string // where it was scheduled ("" when never)
	Log      []byte
	ExitCode int    // -1: never ended on its own
	Failed   string // "" when the pod succeeded
}

// PodsFailedError is a parallel run in which pods failed; it names each.
type PodsFailedError struct {
	Job    string
	Failed []PodOutcome
}

func (e *PodsFailedError) Error() string {
	var b []string
	for _, p := range e.Failed {
		s := fmt.Sprintf("pod %s (index %d) %s", p.Pod, p.Index, p.Failed)
		if t := logTail(p.Log, 8); t != "" {
			s += "; last log lines:\n" + t
		}
		b = append(b, s)
	}
	return fmt.Sprintf("load Job %s failed: %s", e.Job, strings.Join(b, "\n"))
}

// BadInput reports whether every failed pod ended with the generator's own
// bad-input exit code (unreachable server, AUTH failure): the caller's to fix.
func (e *PodsFailedError) BadInput() bool {
	for _, p := range e.Failed {
		if p.ExitCode != 2 {
			return false
		}
	}
	return len(e.Failed) > 0
}

// PodIndex is a Job pod's completion index (-1 when it has none).
func PodIndex(p *corev1.Pod) int {
	v, ok := p.Annotations[CompletionIndex]
	if !ok {
		v, ok = p.Labels[CompletionIndex]
	}
	if !ok {
		return -1
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return i
}

// byIndex keeps the newest pod of each completion index.
func byIndex(pods []corev1.Pod) map[int]*corev1.Pod {
	out := map[int]*corev1.Pod{}
	for i := range pods {
		p := &pods[i]
		k := PodIndex(p)
		if k < 0 {
			continue
		}
		if prev, ok := out[k]; !ok || prev.CreationTimestamp.Before(&p.CreationTimestamp) {
			out[k] = p
		}
	}
	return out
}

func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func ended(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// AllAtBarrier is the start barrier's condition: every one of the n
// indices has a Ready pod (connected, waiting for the start time). A pod
// that ended before the start fails the wait naming it.
func AllAtBarrier(pods []corev1.Pod, n int) (done bool, state string, failed *corev1.Pod) {
	idx := byIndex(pods)
	ready := 0
	var waiting []string
	for i := range n {
		p, ok := idx[i]
		switch {
		case !ok:
			waiting = append(waiting, fmt.Sprintf("index %d: no pod yet", i))
		case ended(p):
			return false, "", p
		case podReady(p):
			ready++
		default:
			waiting = append(waiting, podState(p))
		}
	}
	return ready == n, fmt.Sprintf("%d/%d pods Ready at the start barrier; %s", ready, n, strings.Join(waiting, "; ")), nil
}

// Release writes the start time into every pod's StartAnnotation; the pods
// read it through their downward-API file and start at that instant.
func Release(ctx context.Context, cs kubernetes.Interface, ns string, pods []*corev1.Pod, at time.Time) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, barrier.StartAnnotation, at.UTC().Format(time.RFC3339Nano))
	for _, p := range pods {
		if _, err := cs.CoreV1().Pods(ns).Patch(ctx, p.Name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("releasing load pod %s/%s: %w", ns, p.Name, err)
		}
	}
	return nil
}

// follower streams one pod's log from its start, so the results survive
// the pod being deleted (the Job controller stops the others when one fails).
type follower struct {
	done chan struct{}
	log  []byte
	err  error
}

// RunParallel runs an Indexed load Job of n pods (JobSpec.Parallel): it
// waits until every pod is Ready at the start barrier (bounded by
// ImagePullVerdict), releases them all to start lead from then, waits until
// all have ended (lead + length + LoadJobFinished) and returns each pod's
// log. A pod that failed or was evicted makes the error a *PodsFailedError
// naming it; the outcomes are returned beside it. The Job and its pods are
// deleted before RunParallel returns, also when ctx is cancelled.
func (r *Runner) RunParallel(ctx context.Context, job *batchv1.Job, n int, length, lead time.Duration) (outcomes []PodOutcome, err error) {
	ns, name := job.Namespace, job.Name
	if err := r.create(ctx, job); err != nil {
		return nil, err
	}
	defer func() {
		if derr := r.Delete(context.WithoutCancel(ctx), ns, name); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	container := job.Spec.Template.Spec.Containers[0].Name
	fctx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFollowing()
	var mu sync.Mutex
	followers := map[string]*follower{}
	seen := map[int]*corev1.Pod{}
	track := func(pods []corev1.Pod) {
		mu.Lock()
		defer mu.Unlock()
		for k, p := range byIndex(pods) {
			seen[k] = p.DeepCopy()
			if _, ok := followers[p.Name]; ok || p.Status.Phase == corev1.PodPending {
				continue
			}
			f := &follower{done: make(chan struct{})}
			followers[p.Name] = f
			go func(pod string) {
				defer close(f.done)
				f.log, f.err = r.logs(fctx, ns, pod, container, true)
			}(p.Name)
		}
	}
	sel := labels.SelectorFromSet(labels.Set{JobNameLabel: name})
	var early *corev1.Pod
	var ready []*corev1.Pod
	err = podwait.WaitPods(ctx, podwait.FromClientset(r.Client),
		fmt.Sprintf("load Job %s/%s: all %d pods Ready at the start barrier (or showing their image cannot be pulled)", ns, name, n),
		wait.ImagePullVerdict, ns, sel, func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			track(pods)
			done, state, failed := AllAtBarrier(pods, n)
			if failed != nil {
				early = failed
				return false, "", fmt.Errorf("pod %s ended before the start", failed.Name)
			}
			if done {
				ready = ready[:0]
				for _, p := range byIndex(pods) {
					ready = append(ready, p.DeepCopy())
				}
			}
			return done, state, nil
		})
	var be *imagepull.BlockedError
	switch {
	case errors.As(err, &be):
		return nil, fmt.Errorf("load Job %s/%s blocked: %w", ns, name, be)
	case early != nil:
		// The others wait at the barrier for a start that will not come: stop them.
		return r.outcomes(context.WithoutCancel(ctx), ns, name, container, n, seen, followers, &mu, true)
	case err != nil && ctx.Err() != nil:
		return nil, &InterruptedError{Err: err}
	case err != nil:
		return nil, err
	}
	at := time.Now().Add(lead)
	if err := Release(ctx, r.Client, ns, ready, at); err != nil {
		return nil, err
	}
	bound := lead + length + wait.Timeout(wait.LoadJobFinished)
	r.logf("load Job %s/%s: %d pods Ready; released to start at %s; waiting up to %s", ns, name, n, at.Format("15:04:05.000"), bound)
	_, err = wait.ForDuration(ctx, fmt.Sprintf("load Job %s/%s: its %d pods to finish", ns, name, n), bound, func(ctx context.Context) (bool, string, error) {
		pods, lerr := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
		if lerr != nil {
			return false, lerr.Error(), nil
		}
		track(pods.Items)
		idx := byIndex(pods.Items)
		running := 0
		var states []string
		for i := range n {
			p, ok := idx[i]
			if ok && !ended(p) {
				running++
				states = append(states, podState(p))
			}
		}
		if running == 0 {
			return true, "", nil
		}
		return false, strings.Join(states, "; "), nil
	})
	if err != nil && ctx.Err() != nil {
		r.logf("interrupted: stopping the load pods of %s/%s and collecting what they measured", ns, name)
		out, _ := r.outcomes(context.WithoutCancel(ctx), ns, name, container, n, seen, followers, &mu, true)
		return out, &InterruptedError{Err: err}
	}
	if err != nil {
		out, _ := r.outcomes(context.WithoutCancel(ctx), ns, name, container, n, seen, followers, &mu, true)
		return out, err
	}
	return r.outcomes(ctx, ns, name, container, n, seen, followers, &mu, false)
}

// outcomes collects every index's log and verdict; stop first ends the pods
// still running (SIGTERM: the generator writes its partial results).
func (r *Runner) outcomes(ctx context.Context, ns, job, container string, n int, seen map[int]*corev1.Pod,
	followers map[string]*follower, mu *sync.Mutex, stop bool) ([]PodOutcome, error) {
	if stop {
		mu.Lock()
		for _, p := range seen {
			if !ended(p) {
				if err := r.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					r.logf("stopping load pod %s/%s: %v", ns, p.Name, err)
				}
			}
		}
		mu.Unlock()
	}
	// Refresh the pods' final states (a pod may have ended since).
	if pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: JobNameLabel + "=" + job}); err == nil {
		mu.Lock()
		for k, p := range byIndex(pods.Items) {
			seen[k] = p.DeepCopy()
		}
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	// One bound for all the followers' ends together.
	deadline := time.Now().Add(wait.Timeout(wait.ObjectDeleted))
	var out []PodOutcome
	var failed []PodOutcome
	for i := range n {
		p, ok := seen[i]
		if !ok {
			o := PodOutcome{Index: i, ExitCode: -1, Failed: "never started: the Job created no pod for this index"}
			out, failed = append(out, o), append(failed, o)
			continue
		}
		o := PodOutcome{Index: i, Pod: p.Name, Node: p.Spec.NodeName}
		if f, ok := followers[p.Name]; ok {
			select {
			case <-f.done:
			case <-time.After(time.Until(deadline)):
				r.logf("the log of load pod %s/%s did not end within %s", ns, p.Name, wait.Timeout(wait.ObjectDeleted))
			}
			select {
			case <-f.done:
				if f.err == nil {
					o.Log = f.log
				}
			default:
			}
		}
		// A followed log can end before the container's last lines (seen on
		// kind: the result bundle missing): the log of an ended pod that is
		// still there, read whole, is the complete one. Logs only grow, so
		// the longer copy wins.
		if o.Log == nil || ended(p) {
			if b, err := r.logs(ctx, ns, p.Name, container, false); err == nil && len(b) > len(o.Log) {
				if o.Log != nil {
					r.logf("the followed log of load pod %s/%s ended early (%d of %d bytes): using the log read after the pod ended", ns, p.Name, len(o.Log), len(b))
				}
				o.Log = b
			}
		}
		code, reason := exitOf(p, container)
		o.ExitCode = code
		switch {
		case p.Status.Phase == corev1.PodSucceeded && code == 0:
		case p.Status.Reason != "":
			o.Failed = strings.TrimSpace(p.Status.Reason + ": " + p.Status.Message) // Evicted, DeadlineExceeded …
		case stop && !ended(p):
			o.Failed = "stopped before it finished"
		default:
			o.Failed = reason
		}
		out = append(out, o)
		if o.Failed != "" && !(stop && o.Failed == "stopped before it finished") {
			failed = append(failed, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Index < out[j].Index })
	if len(failed) > 0 {
		return out, &PodsFailedError{Job: ns + "/" + job, Failed: failed}
	}
	return out, nil
}
