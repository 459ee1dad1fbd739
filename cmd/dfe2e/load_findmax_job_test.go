package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen/barrier"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// jobPlayground is a fake API server whose Indexed load Jobs really run:
// creating a Job creates its pods, Ready at the barrier; a pod's log is
// `dfe2e load` run here with that pod's own container args (its index,
// its barrier file holding the start annotation the harness wrote)
// against a local redis-server, after which the pod is Succeeded.
type jobPlayground struct {
	t    *testing.T
	cs   *fake.Clientset
	addr string
	mu   sync.Mutex
	jobs []*batchv1.Job // every Job created, in order
	// played: each pod's log, the pod played once (a second read, as
	// after the pod ended, returns the same log).
	played map[string]*playedPod
}

type playedPod struct {
	once sync.Once
	log  []byte
	err  error
}

func newJobPlayground(t *testing.T, addr string) *jobPlayground {
	pg := &jobPlayground{t: t, addr: addr, played: map[string]*playedPod{}}
	pg.cs = fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "database"}})
	pg.cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		pg.mu.Lock()
		pg.jobs = append(pg.jobs, j.DeepCopy())
		pg.mu.Unlock()
		for i := range int(*j.Spec.Completions) {
			p := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d-%d", j.Name, i, len(pg.jobs)), Namespace: j.Namespace,
					Labels:      map[string]string{loadtarget.JobNameLabel: j.Name},
					Annotations: map[string]string{loadtarget.CompletionIndex: fmt.Sprint(i)}},
				Spec: j.Spec.Template.Spec,
				Status: corev1.PodStatus{Phase: corev1.PodRunning,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}},
			}
			if err := pg.cs.Tracker().Add(p); err != nil {
				t.Error(err)
			}
		}
		return false, nil, nil
	})
	return pg
}

// logs plays the pod once: it waits for its start annotation, runs the
// pod's command line here, marks the pod Succeeded and returns its log.
func (pg *jobPlayground) logs(ctx context.Context, ns, pod, _ string, _ bool) ([]byte, error) {
	pg.mu.Lock()
	pp := pg.played[pod]
	if pp == nil {
		pp = &playedPod{}
		pg.played[pod] = pp
	}
	pg.mu.Unlock()
	pp.once.Do(func() { pp.log, pp.err = pg.play(ctx, ns, pod) })
	return pp.log, pp.err
}

func (pg *jobPlayground) play(ctx context.Context, ns, pod string) ([]byte, error) {
	var p *corev1.Pod
	for deadline := time.Now().Add(time.Minute); ; {
		obj, err := pg.cs.Tracker().Get(podsGVR, ns, pod)
		if err != nil {
			return nil, err
		}
		p = obj.(*corev1.Pod)
		if _, ok := p.Annotations[barrier.StartAnnotation]; ok {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("pod %s never released", pod)
		}
		time.Sleep(20 * time.Millisecond)
	}
	startFile := filepath.Join(pg.t.TempDir(), "start")
	if err := os.WriteFile(startFile, []byte(p.Annotations[barrier.StartAnnotation]), 0o644); err != nil {
		return nil, err
	}
	args := append([]string(nil), p.Spec.Containers[0].Args[1:]...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$(DFE2E_SHARE_INDEX)", p.Annotations[loadtarget.CompletionIndex])
		switch args[max(i-1, 0)] {
		case "--addr":
			args[i] = pg.addr
		case "--barrier-file":
			args[i] = startFile
		case "--barrier-addr":
			args[i] = "127.0.0.1:0"
		case "--out":
			args[i] = pg.t.TempDir()
		}
	}
	code, stdout, stderr := runLoadCmd(pg.t, ctx, args...)
	done := p.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	if code != exitOK {
		done.Status.Phase = corev1.PodFailed
	}
	done.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "loadgen", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: int32(code)}}}}
	if err := pg.cs.Tracker().Update(podsGVR, done, ns); err != nil {
		return nil, err
	}
	if code != exitOK {
		return []byte(stderr), nil
	}
	return []byte(stdout), nil
}

func readRunDirUnit(t *testing.T, dir string) loadgen.Result {
	t.Helper()
	r, err := reports.ReadLoadResult(filepath.Join(dir, loadgen.FileResult))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// serverCount is the local redis-server's own GET+SET count.
func serverCount(addr string) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true})
		defer c.Close()
		info, err := c.Info(ctx, "commandstats").Result()
		if err != nil {
			return 0, err
		}
		return loadtarget.ParseCommandStats(info, loadtarget.WorkloadCommands)
	}
}

// findMaxJobEnv is the jobEnv of `dfe2e load --job --parallel n --find-max`
// against the playground (stdout and stderr in the buffers returned).
func findMaxJobEnv(t *testing.T, pg *jobPlayground, n int, st loadgen.Staircase, counter func(context.Context) (int64, error)) (jobEnv, *bytes.Buffer, *bytes.Buffer) {
	cmd, _ := newLoadCmdFlags()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	f := loadFlags{namespace: "database", instance: "cache", parallel: n, findMax: true, stair: st,
		barrierLead: time.Second, stdout: "table"}
	logf := func(format string, a ...any) { fmt.Fprintf(&errOut, "dfe2e: "+format+"\n", a...) }
	return jobEnv{cmd: cmd, f: f, cs: pg.cs, logf: logf, stderr: &errOut, counter: counter, podLogs: pg.logs,
		spec: loadtarget.JobSpec{Namespace: "database", Instance: "cache", Image: "img", PullPolicy: "Never", Parallel: n}}, &out, &errOut
}

// --find-max --job: every step is one run of the Indexed Job (its pods
// playing their share of the step's rate, really, against redis-server),
// the merged histogram of each is judged as a local step, each step's count
// equals the server's, and --out holds the knee step's merge, its pods'
// own files and the staircase.
func TestFindMaxJobRunsEachStepAsAJob(t *testing.T) {
	if testing.Short() {
		t.Skip("plays 3 steps of 2 pods against redis-server")
	}
	addr := startLoadRedis(t, "")
	pg := newJobPlayground(t, addr)
	st := loadgen.Staircase{StartRate: 200, Factor: 2, StepDuration: time.Second, MaxSteps: 3, MinAchieved: 0.5}
	e, stdout, stderr := findMaxJobEnv(t, pg, 2, st, serverCount(addr))
	base := loadgen.Workload{Connections: 4, Pipeline: 1, Keyspace: 300, KeyDist: loadgen.DistUniform, Prefill: true, Seed: 11}.WithDefaults()
	play := loadPlay{Scenario: loadgen.Scenario{Workload: base}, SLO: loadgen.SLO{Percentile: "p99", Bound: 1e6}}
	dir := t.TempDir()
	r, err := e.findMax(context.Background(), play, dir)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	k := r.Knee
	if k == nil || len(k.Steps) != 3 || k.MaxStep != 3 || k.MaxRate != 800 {
		t.Fatalf("knee %+v; want 3 steps met, the knee at 800 req/s\n%s", k, stderr)
	}
	// One Job per step, each of 2 pods at the step's rate; only step 1 prefills.
	if len(pg.jobs) != 3 {
		t.Fatalf("%d Jobs created, want one per step (3)", len(pg.jobs))
	}
	for i, j := range pg.jobs {
		var w loadgen.Workload
		args := j.Spec.Template.Spec.Containers[0].Args
		for a := range args {
			if args[a] == "--"+loadtarget.WorkloadFlag {
				_ = json.Unmarshal([]byte(args[a+1]), &w)
			}
		}
		if *j.Spec.Completions != 2 || w != loadgen.StepWorkload(base, st, i).WithDefaults() {
			t.Errorf("Job %d: %d pods playing %+v; want 2 pods playing step %d's workload", i+1, *j.Spec.Completions, w, i+1)
		}
	}
	// The result is the knee step's merge, checked against the server.
	if r.Workload.Rate != 800 || r.Parallel == nil || r.Parallel.Pods != 2 || r.Parallel.Server == nil || r.Partial {
		t.Fatalf("result: rate %g parallel %+v partial %v; want step 3's merge of 2 pods with the server's count", r.Workload.Rate, r.Parallel, r.Partial)
	}
	if r.Parallel.Server.Delta() != r.Requests+r.UnmeasuredRequests || r.Latency.Count != r.Requests {
		t.Errorf("server %d, merged %d (histogram %d) + %d unmeasured", r.Parallel.Server.Delta(), r.Requests, r.Latency.Count, r.UnmeasuredRequests)
	}
	for s := 1; s <= 3; s++ {
		if !strings.Contains(stderr.String(), fmt.Sprintf("step %d: 2 pods measured", s)) {
			t.Errorf("no cross-checked count logged for step %d:\n%s", s, stderr)
		}
	}
	written := readRunDirUnit(t, dir)
	if written.Knee == nil || len(written.Knee.Steps) != 3 || written.Workload.Rate != 800 {
		t.Errorf("result.json: knee %+v at %g req/s", written.Knee, written.Workload.Rate)
	}
	for _, i := range []string{"0", "1"} {
		if _, err := os.Stat(filepath.Join(dir, "pods", i, reports.PodResultFile)); err != nil {
			t.Errorf("pod %s's own files: %v", i, err)
		}
	}
	if !strings.Contains(stdout.String(), "find-max p99<=1s") || !strings.Contains(stdout.String(), "knee     800 req/s (step 3)") {
		t.Errorf("the knee table on stdout:\n%s", stdout)
	}
	t.Logf("%s\n%s", stdout, stderr)
}

// A step whose merged count differs from the server's fails the search
// naming the step (planted: a server count off by one), and a step that
// breaks the SLO ends it with no knee, as a local search would.
func TestFindMaxJobStepsAreCrossCheckedAndJudged(t *testing.T) {
	if testing.Short() {
		t.Skip("plays Job steps against redis-server")
	}
	addr := startLoadRedis(t, "")
	st := loadgen.Staircase{StartRate: 300, Factor: 2, StepDuration: time.Second, MaxSteps: 3, MinAchieved: 0.5}
	base := loadgen.Workload{Connections: 2, Pipeline: 1, Keyspace: 100, KeyDist: loadgen.DistUniform, Seed: 3}.WithDefaults()

	t.Run("server count off by one", func(t *testing.T) {
		pg := newJobPlayground(t, addr)
		real := serverCount(addr)
		calls := 0
		offByOne := func(ctx context.Context) (int64, error) {
			n, err := real(ctx)
			calls++
			if calls == 2 { // after step 1
				n++
			}
			return n, err
		}
		e, _, stderr := findMaxJobEnv(t, pg, 2, st, offByOne)
		play := loadPlay{Scenario: loadgen.Scenario{Workload: base}, SLO: loadgen.SLO{Percentile: "p99", Bound: 1e6}}
		_, err := e.findMax(context.Background(), play, t.TempDir())
		var xe *exitError
		if err == nil || !strings.Contains(err.Error(), "find-max step 1 at 300 req/s") || !strings.Contains(err.Error(), "cross-check failed") ||
			!errors.As(err, &xe) || xe.code != exitFailed {
			t.Fatalf("%v; want exit 1 naming step 1's failed cross-check\n%s", err, stderr)
		}
		if len(pg.jobs) != 1 {
			t.Errorf("%d Jobs ran; the search must stop at the step that failed its check", len(pg.jobs))
		}
	})

	t.Run("SLO broken at step 1", func(t *testing.T) {
		pg := newJobPlayground(t, addr)
		e, stdout, _ := findMaxJobEnv(t, pg, 1, st, serverCount(addr))
		play := loadPlay{Scenario: loadgen.Scenario{Workload: base}, SLO: loadgen.SLO{Percentile: "p50", Bound: 1}}
		r, err := e.findMax(context.Background(), play, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if k := r.Knee; k.MaxStep != 0 || len(k.Steps) != 1 || k.Steps[0].Broke != loadgen.BrokeSLO || len(pg.jobs) != 1 {
			t.Fatalf("knee %+v after %d Jobs; want step 1 broken on the SLO and no more Jobs", k, len(pg.jobs))
		}
		if !strings.Contains(stdout.String(), "knee     none: no step met p50<=1µs") {
			t.Errorf("table:\n%s", stdout)
		}
	})
}
