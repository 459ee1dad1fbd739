package loadtarget

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// JobNameLabel is set by the Job controller on the Job's pods.
const JobNameLabel = "batch.kubernetes.io/job-name"

// FailedError is a Job whose pod ran and failed.
type FailedError struct {
	Job, Pod string
	// ExitCode of the loadgen container (-1 when it never ran, e.g. the
	// Job's deadline passed first); 2 is the generator's own bad input
	// (unreachable server, AUTH failure).
	ExitCode int
	Reason   string
	LogTail  string
}

func (e *FailedError) Error() string {
	msg := fmt.Sprintf("load Job %s failed: pod %s %s", e.Job, e.Pod, e.Reason)
	if e.LogTail != "" {
		msg += "; last log lines:\n" + e.LogTail
	}
	return msg
}

// Runner runs one load Job and collects its log.
type Runner struct {
	Client kubernetes.Interface
	// Logs reads a container's log (default: the pod log API); follow
	// streams it until the container ends.
	Logs func(ctx context.Context, ns, pod, container string, follow bool) ([]byte, error)
	Logf func(format string, a ...any)
}

func (r *Runner) logf(format string, a ...any) {
	if r.Logf != nil {
		r.Logf(format, a...)
	}
}

func (r *Runner) logs(ctx context.Context, ns, pod, container string, follow bool) ([]byte, error) {
	if r.Logs != nil {
		return r.Logs(ctx, ns, pod, container, follow)
	}
	s, err := r.Client.CoreV1().Pods(ns).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: follow}).Stream(ctx)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return io.ReadAll(s)
}

// InterruptedError is a Job stopped by the caller (Ctrl-C) while it ran.
// Log holds what the pod wrote until it ended: the generator answers
// SIGTERM with its partial results.
type InterruptedError struct {
	Err error
	Log []byte
}

func (e *InterruptedError) Error() string { return "load Job interrupted: " + e.Err.Error() }
func (e *InterruptedError) Unwrap() error { return e.Err }

// stopAndCollect ends a running pod the way Ctrl-C ends a local run — a
// graceful delete sends SIGTERM — and follows its log until the container
// ends (bounded by ObjectDeleted), so the partial results are not lost.
func (r *Runner) stopAndCollect(ctx context.Context, ns, pod, container string) []byte {
	ctx, cancel := context.WithTimeout(ctx, wait.Timeout(wait.ObjectDeleted))
	defer cancel()
	type res struct {
		b   []byte
		err error
	}
	got := make(chan res, 1)
	go func() {
		b, err := r.logs(ctx, ns, pod, container, true)
		got <- res{b, err}
	}()
	if err := r.Client.CoreV1().Pods(ns).Delete(ctx, pod, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		r.logf("stopping load pod %s/%s: %v", ns, pod, err)
	}
	x := <-got
	if x.err != nil {
		r.logf("reading the log of the interrupted load pod %s/%s: %v", ns, pod, x.err)
	}
	return x.b
}

// JobFromManifest decodes JobManifest's JSON.
func JobFromManifest(raw []byte) (*batchv1.Job, error) {
	var j batchv1.Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("load Job manifest: %w", err)
	}
	if len(j.Spec.Template.Spec.Containers) != 1 {
		return nil, errors.New("load Job manifest: want exactly one container")
	}
	return &j, nil
}

// Run creates job, waits until its pod has ended (bounded by
// ImagePullVerdict for the start and by length + LoadJobFinished for the
// end), and returns the container's log. The Job and its pods are deleted
// before Run returns, also when ctx is cancelled.
func (r *Runner) Run(ctx context.Context, job *batchv1.Job, length time.Duration) (log []byte, err error) {
	ns, name := job.Namespace, job.Name
	jobs := r.Client.BatchV1().Jobs(ns)
	if err := r.create(ctx, job); err != nil {
		return nil, err
	}
	defer func() {
		// Cleanup outlives a cancelled ctx (Ctrl-C): bounded by ObjectDeleted.
		if derr := r.Delete(context.WithoutCancel(ctx), ns, name); derr != nil {
			err = errors.Join(err, derr)
		}
	}()
	container := job.Spec.Template.Spec.Containers[0].Name

	var pod *corev1.Pod
	// The start: the pod runs, has ended, or shows its image cannot be had.
	// Ready is asked first, so a pod that ran and failed is reported below
	// as FailedError with its exit code and log.
	sel := labels.SelectorFromSet(labels.Set{JobNameLabel: name})
	err = podwait.WaitPods(ctx, podwait.FromClientset(r.Client), "load Job "+ns+"/"+name+" to start its pod (or show its image cannot be pulled)",
		wait.ImagePullVerdict, ns, sel, func(_ context.Context, pods []corev1.Pod) (bool, string, error) {
			p := newest(pods)
			if p == nil {
				return false, "no pod yet", nil
			}
			pod = p
			return p.Status.Phase != corev1.PodPending, podState(p), nil
		})
	var be *imagepull.BlockedError
	if errors.As(err, &be) {
		return nil, fmt.Errorf("load Job %s/%s blocked: %w", ns, name, be)
	}
	if err != nil {
		return nil, err
	}
	bound := length + wait.Timeout(wait.LoadJobFinished)
	r.logf("load Job %s/%s: pod %s running; waiting up to %s (workload %s + %s=%s)", ns, name, pod.Name, bound, length, wait.LoadJobFinished, wait.Timeout(wait.LoadJobFinished))
	var jobFailed string
	_, err = wait.ForDuration(ctx, "load Job "+ns+"/"+name+" to finish", bound, func(ctx context.Context) (bool, string, error) {
		p, state, err := r.jobPod(ctx, ns, name)
		if err != nil {
			return false, state, err
		}
		if p != nil {
			pod = p
			if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				return true, "", nil
			}
		}
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				jobFailed = c.Reason + ": " + c.Message
				return true, "", nil
			}
		}
		return false, state, nil
	})
	if err != nil {
		if ctx.Err() != nil && pod.Status.Phase == corev1.PodRunning {
			r.logf("interrupted: stopping load pod %s/%s and collecting what it measured", ns, pod.Name)
			return nil, &InterruptedError{Err: err, Log: r.stopAndCollect(context.WithoutCancel(ctx), ns, pod.Name, container)}
		}
		return nil, err
	}
	log, lerr := r.logs(ctx, ns, pod.Name, container, false)
	code, reason := exitOf(pod, container)
	if code == 0 && pod.Status.Phase == corev1.PodSucceeded {
		if lerr != nil {
			return nil, fmt.Errorf("reading the log of load Job pod %s/%s: %w", ns, pod.Name, lerr)
		}
		return log, nil
	}
	if jobFailed != "" && code == -1 {
		reason = "did not finish: Job " + jobFailed
	}
	return log, &FailedError{Job: ns + "/" + name, Pod: pod.Name, ExitCode: code, Reason: reason, LogTail: logTail(log, 15)}
}

// create checks the namespace, removes a Job of the same name an aborted
// run left, and creates job.
func (r *Runner) create(ctx context.Context, job *batchv1.Job) error {
	ns, name := job.Namespace, job.Name
	jobs := r.Client.BatchV1().Jobs(ns)
	if _, err := r.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return inputf("namespace %s does not exist: give the instance's namespace with --namespace", ns)
	} else if err != nil {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	// A Job left by an aborted run would block the name: remove it first.
	if _, err := jobs.Get(ctx, name, metav1.GetOptions{}); err == nil {
		r.logf("removing load Job %s/%s left by an earlier run", ns, name)
		if err := r.Delete(ctx, ns, name); err != nil {
			return err
		}
	}
	if _, err := jobs.Create(ctx, job, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating load Job %s/%s: %w", ns, name, err)
	}
	r.logf("created load Job %s/%s (image %s)", ns, name, job.Spec.Template.Spec.Containers[0].Image)
	return nil
}

// jobPod is the newest pod of the Job (nil while there is none).
func (r *Runner) jobPod(ctx context.Context, ns, job string) (*corev1.Pod, string, error) {
	pods, err := r.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: JobNameLabel + "=" + job})
	if err != nil {
		return nil, err.Error(), nil
	}
	p := newest(pods.Items)
	if p == nil {
		return nil, "no pod yet", nil
	}
	return p, podState(p), nil
}

// newest is the most recently created of pods (nil when there is none).
func newest(pods []corev1.Pod) *corev1.Pod {
	if len(pods) == 0 {
		return nil
	}
	pods = slices.Clone(pods)
	sort.Slice(pods, func(i, j int) bool {
		return pods[j].CreationTimestamp.Before(&pods[i].CreationTimestamp)
	})
	return &pods[0]
}

func podState(p *corev1.Pod) string {
	s := "pod " + p.Name + " " + string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue && c.Message != "" {
			s += " (" + c.Reason + ": " + c.Message + ")"
		}
	}
	for _, st := range p.Status.ContainerStatuses {
		if w := st.State.Waiting; w != nil {
			s += " (" + st.Name + " waiting: " + w.Reason + ")"
		}
	}
	return s
}

// exitOf is the container's exit code and a phrase for it (-1: never ended).
func exitOf(p *corev1.Pod, container string) (int, string) {
	for _, st := range p.Status.ContainerStatuses {
		if st.Name != container {
			continue
		}
		if t := st.State.Terminated; t != nil {
			msg := fmt.Sprintf("exited %d (%s)", t.ExitCode, t.Reason)
			if t.Message != "" {
				msg += ": " + t.Message
			}
			return int(t.ExitCode), msg
		}
		if w := st.State.Waiting; w != nil {
			return -1, "never ran: " + w.Reason + " " + w.Message
		}
	}
	return -1, "ended in phase " + string(p.Status.Phase) + " " + p.Status.Reason + " " + p.Status.Message
}

// logTail is the last n lines of a loadgen log, without the result bundle
// (data, not a message).
func logTail(b []byte, n int) string {
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.Contains(l, "DFE2E-BUNDLE") {
			keep = append(keep, l)
		}
	}
	return tail.Lines(strings.Join(keep, "\n"), n)
}

// Delete deletes the Job and its pods and waits until they are gone
// (ObjectDeleted).
func (r *Runner) Delete(ctx context.Context, ns, name string) error {
	bg := metav1.DeletePropagationBackground
	zero := int64(0)
	err := r.Client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting load Job %s/%s: %w; remove it with: kubectl -n %s delete job %s", ns, name, err, ns, name)
	}
	// Background propagation leaves the pods to the garbage collector:
	// delete them now so nothing outlives the run.
	sel := metav1.ListOptions{LabelSelector: JobNameLabel + "=" + name}
	pods, err := r.Client.CoreV1().Pods(ns).List(ctx, sel)
	if err != nil {
		return fmt.Errorf("listing the pods of load Job %s/%s: %w", ns, name, err)
	}
	for _, p := range pods.Items {
		if err := r.Client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s of load Job %s/%s: %w; remove it with: kubectl -n %s delete pod %s", p.Name, ns, name, err, ns, p.Name)
		}
	}
	_, err = wait.For(ctx, "load Job "+ns+"/"+name+" and its pods to be deleted", wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
		if _, err := r.Client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return false, "Job still there", nil
		}
		pods, err := r.Client.CoreV1().Pods(ns).List(ctx, sel)
		if err != nil {
			return false, err.Error(), nil
		}
		if n := len(pods.Items); n > 0 {
			return false, fmt.Sprintf("%d pods left", n), nil
		}
		return true, "", nil
	})
	if err == nil {
		r.logf("deleted load Job %s/%s and its pods", ns, name)
	}
	return err
}
