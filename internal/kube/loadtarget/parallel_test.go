package loadtarget

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/barrier"
)

func TestParallelManifest(t *testing.T) {
	raw, err := JobManifest(JobSpec{Namespace: "database", Instance: "cache", Image: "img", Parallel: 3,
		Workload: loadgen.Workload{Pipeline: 1, Connections: 6, Duration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := JobFromManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	s := job.Spec
	if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 3 || *s.Parallelism != 3 || *s.BackoffLimit != 0 {
		t.Errorf("want an Indexed Job of 3 pods at once, no retries: %+v", s)
	}
	ps := s.Template.Spec
	if len(ps.TopologySpreadConstraints) != 1 || ps.TopologySpreadConstraints[0].TopologyKey != "kubernetes.io/hostname" ||
		ps.TopologySpreadConstraints[0].WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("topology spread: %+v", ps.TopologySpreadConstraints)
	}
	c := ps.Containers[0]
	args := strings.Join(c.Args, " ")
	for _, want := range []string{"--share-of 3", "--share-index $(" + shareIndexEnv + ")", "--barrier-file /etc/dfe2e-start/start"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != barrier.ReadyPath {
		t.Errorf("readiness probe: %+v", c.ReadinessProbe)
	}
	var dapi bool
	for _, v := range ps.Volumes {
		if v.DownwardAPI != nil && strings.Contains(v.DownwardAPI.Items[0].FieldRef.FieldPath, barrier.StartAnnotation) {
			dapi = true
		}
	}
	if !dapi {
		t.Error("no downward-API volume showing the start annotation")
	}
	if _, err := JobManifest(JobSpec{Namespace: "database", Instance: "cache", Image: "img", Parallel: 7,
		Workload: loadgen.Workload{Pipeline: 1, Connections: 6, Duration: time.Second}}); err == nil || !strings.Contains(err.Error(), "more than the 6 connections") {
		t.Errorf("7 pods for 6 connections: %v", err)
	}
}

// parallelCluster is a fake API where creating the Job creates its n
// pods, Running; ready says which are Ready at first. onPatch plays the
// pods once released (the barrier annotation written).
type parallelCluster struct {
	cs      *fake.Clientset
	job     *batchv1.Job
	mu      sync.Mutex
	patched map[string]time.Time // pod → when released
	readyAt map[string]time.Time // pod → when it became Ready
}

func newParallelCluster(t *testing.T, n int, ready func(i int) bool, onRelease func(p *corev1.Pod)) *parallelCluster {
	t.Helper()
	raw, err := JobManifest(JobSpec{Namespace: "database", Instance: "cache", Image: "img", PullPolicy: "Never", Parallel: n,
		Workload: loadgen.Workload{Pipeline: 1, Connections: n, Duration: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := JobFromManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	pc := &parallelCluster{job: job, patched: map[string]time.Time{}, readyAt: map[string]time.Time{}}
	cs := fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "database"}})
	pc.cs = cs
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		for i := range n {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-x", j.Name, i), Namespace: j.Namespace,
					Labels:      map[string]string{JobNameLabel: j.Name},
					Annotations: map[string]string{CompletionIndex: fmt.Sprint(i)}},
				Spec:   j.Spec.Template.Spec,
				Status: corev1.PodStatus{Phase: corev1.PodRunning},
			}
			p.Spec.NodeName = fmt.Sprintf("node-%d", i%2)
			if ready(i) {
				pc.setReady(p)
			}
			if err := cs.Tracker().Add(p); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	cs.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		pa := a.(k8stesting.PatchAction)
		if strings.Contains(string(pa.GetPatch()), barrier.StartAnnotation) {
			pc.mu.Lock()
			pc.patched[pa.GetName()] = time.Now()
			pc.mu.Unlock()
			if onRelease != nil {
				obj, err := cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "database", pa.GetName())
				if err == nil {
					p := obj.(*corev1.Pod).DeepCopy()
					onRelease(p)
					_ = cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "database")
					return true, p, nil
				}
			}
		}
		return false, nil, nil
	})
	return pc
}

func (pc *parallelCluster) setReady(p *corev1.Pod) {
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	pc.mu.Lock()
	pc.readyAt[p.Name] = time.Now()
	pc.mu.Unlock()
}

func succeed(p *corev1.Pod) {
	p.Status.Phase = corev1.PodSucceeded
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "loadgen", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}}}
}

func podLogs(_ context.Context, _, pod, _ string, _ bool) ([]byte, error) {
	return []byte("log of " + pod), nil
}

// The barrier cannot release early: with one pod not Ready the pods are
// never released, and the wait times out naming the state.
func TestBarrierDoesNotReleaseBeforeEveryPodIsReady(t *testing.T) {
	t.Setenv("DFE2E_TIMEOUTS", `{"ImagePullVerdict":"1500ms"}`)
	pc := newParallelCluster(t, 3, func(i int) bool { return i != 1 }, succeed)
	_, err := (&Runner{Client: pc.cs, Logs: podLogs}).RunParallel(context.Background(), pc.job, 3, time.Second, time.Second)
	if err == nil || !strings.Contains(err.Error(), "2/3 pods Ready") {
		t.Fatalf("%v; want a timeout saying 2/3 pods were Ready", err)
	}
	if len(pc.patched) != 0 {
		t.Errorf("released %v with a pod not Ready", pc.patched)
	}
	assertCleanedUp(t, pc.cs, pc.job)
}

// Release happens only after the last pod turns Ready, for every pod, with
// a start time lead ahead; the pods' logs come back by index.
func TestBarrierReleasesAllOnceTheLastIsReady(t *testing.T) {
	pc := newParallelCluster(t, 3, func(i int) bool { return i != 2 }, succeed)
	late := pc.job.Name + "-2-x"
	go func() {
		time.Sleep(700 * time.Millisecond)
		obj, err := pc.cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "database", late)
		if err != nil {
			t.Error(err)
			return
		}
		p := obj.(*corev1.Pod).DeepCopy()
		pc.setReady(p)
		_ = pc.cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "database")
	}()
	out, err := (&Runner{Client: pc.cs, Logs: podLogs}).RunParallel(context.Background(), pc.job, 3, time.Second, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if len(pc.patched) != 3 {
		t.Fatalf("released %d pods, want 3", len(pc.patched))
	}
	for pod, at := range pc.patched {
		if at.Before(pc.readyAt[late]) {
			t.Errorf("pod %s released at %s, before the last pod was Ready at %s", pod, at.Format("15:04:05.000"), pc.readyAt[late].Format("15:04:05.000"))
		}
	}
	for i, o := range out {
		if o.Index != i || o.Failed != "" || string(o.Log) != "log of "+o.Pod || o.Node != fmt.Sprintf("node-%d", i%2) {
			t.Errorf("outcome %d: %+v", i, o)
		}
	}
	assertCleanedUp(t, pc.cs, pc.job)
}

// A pod evicted during the run fails the run, naming it; the others'
// logs are still returned.
func TestAFailedPodFailsTheRunNamingIt(t *testing.T) {
	pc := newParallelCluster(t, 3, func(int) bool { return true }, func(p *corev1.Pod) {
		if strings.Contains(p.Name, "-1-") {
			p.Status.Phase = corev1.PodFailed
			p.Status.Reason, p.Status.Message = "Evicted", "The node was low on resource: memory."
			return
		}
		succeed(p)
	})
	out, err := (&Runner{Client: pc.cs, Logs: podLogs}).RunParallel(context.Background(), pc.job, 3, time.Second, time.Second)
	var pf *PodsFailedError
	if !errors.As(err, &pf) || len(pf.Failed) != 1 || !strings.Contains(err.Error(), pc.job.Name+"-1-x") || !strings.Contains(err.Error(), "Evicted") {
		t.Fatalf("%v; want the run failed naming the evicted pod", err)
	}
	if len(out) != 3 || out[0].Failed != "" || out[2].Failed != "" || out[1].Failed == "" {
		t.Errorf("outcomes: %+v", out)
	}
	assertCleanedUp(t, pc.cs, pc.job)
}

// A pod that ends before the barrier (e.g. the server is unreachable)
// fails the run at once, naming it, and the waiting pods are stopped.
func TestAPodEndingBeforeTheStartFailsTheRun(t *testing.T) {
	pc := newParallelCluster(t, 2, func(int) bool { return false }, nil)
	pc.cs.PrependReactor("list", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		name := pc.job.Name + "-0-x"
		obj, err := pc.cs.Tracker().Get(corev1.SchemeGroupVersion.WithResource("pods"), "database", name)
		if err == nil {
			p := obj.(*corev1.Pod).DeepCopy()
			if p.Status.Phase == corev1.PodRunning {
				p.Status.Phase = corev1.PodFailed
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "loadgen", State: corev1.ContainerState{
					Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}
				_ = pc.cs.Tracker().Update(corev1.SchemeGroupVersion.WithResource("pods"), p, "database")
			}
		}
		return false, nil, nil
	})
	_, err := (&Runner{Client: pc.cs, Logs: podLogs}).RunParallel(context.Background(), pc.job, 2, time.Second, time.Second)
	var pf *PodsFailedError
	if !errors.As(err, &pf) || !pf.BadInput() || !strings.Contains(err.Error(), pc.job.Name+"-0-x") {
		t.Fatalf("%v; want the run failed (bad input) naming pod 0", err)
	}
	if len(pc.patched) != 0 {
		t.Errorf("released %v although a pod had ended", pc.patched)
	}
	assertCleanedUp(t, pc.cs, pc.job)
}

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\ncmdstat_get:calls=1500,usec=900,usec_per_call=0.60,rejected_calls=2,failed_calls=0\r\n" +
		"cmdstat_set:calls=700,usec=800,usec_per_call=1.14,rejected_calls=0,failed_calls=0\r\ncmdstat_info:calls=9,usec=1\r\ncmdstat_getset:calls=5\r\n"
	if n, err := ParseCommandStats(info, WorkloadCommands); err != nil || n != 2202 {
		t.Errorf("%d %v; want 1500+2+700", n, err)
	}
	if n, err := ParseCommandStats("# Commandstats\r\n", WorkloadCommands); err != nil || n != 0 {
		t.Errorf("none called: %d %v", n, err)
	}
	if _, err := ParseCommandStats("cmdstat_get:usec=1", WorkloadCommands); err == nil {
		t.Error("a line without calls= passed")
	}
}

// Ctrl-C while the pods run: they are stopped (SIGTERM through a graceful
// delete), their logs — the partial results — still come back, and the Job
// is deleted.
func TestParallelInterruptedStopsThePodsAndKeepsTheirLogs(t *testing.T) {
	pc := newParallelCluster(t, 2, func(int) bool { return true }, func(*corev1.Pod) {}) // released, never end
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for {
			pc.mu.Lock()
			n := len(pc.patched)
			pc.mu.Unlock()
			if n == 2 {
				cancel() // as Ctrl-C would, once the run started
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	out, err := (&Runner{Client: pc.cs, Logs: podLogs}).RunParallel(ctx, pc.job, 2, time.Minute, time.Second)
	var ie *InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("%v; want InterruptedError", err)
	}
	if len(out) != 2 || string(out[0].Log) != "log of "+out[0].Pod || string(out[1].Log) != "log of "+out[1].Pod {
		t.Errorf("outcomes %+v; want both pods' logs", out)
	}
	assertCleanedUp(t, pc.cs, pc.job)
}

// A followed log that ends before the container's last lines (as seen on
// kind: the result bundle missing) is replaced by the ended pod's log
// read whole; the shortfall is logged.
func TestAFollowedLogCutShortIsReadAgainWhole(t *testing.T) {
	pc := newParallelCluster(t, 2, func(int) bool { return true }, succeed)
	logs := func(_ context.Context, _, pod, _ string, follow bool) ([]byte, error) {
		if follow {
			return []byte("first lines of " + pod), nil
		}
		return []byte("first lines of " + pod + "\nDFE2E-BUNDLE-END 1 x"), nil
	}
	var said []string
	var mu sync.Mutex
	logf := func(format string, a ...any) { mu.Lock(); said = append(said, fmt.Sprintf(format, a...)); mu.Unlock() }
	out, err := (&Runner{Client: pc.cs, Logs: logs, Logf: logf}).RunParallel(context.Background(), pc.job, 2, time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out {
		if !strings.HasSuffix(string(o.Log), "DFE2E-BUNDLE-END 1 x") {
			t.Errorf("pod %s: log %q; want the whole log, not the followed copy cut short", o.Pod, o.Log)
		}
	}
	if s := strings.Join(said, "\n"); !strings.Contains(s, "ended early") {
		t.Errorf("the cut-short log is not reported:\n%s", s)
	}
	assertCleanedUp(t, pc.cs, pc.job)
}
