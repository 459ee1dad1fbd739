package loadtarget

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

func TestParseForward(t *testing.T) {
	good := map[string]ForwardSpec{
		"database/test-cache":      {Namespace: "database", Name: "test-cache"},
		"database/test-cache:6380": {Namespace: "database", Name: "test-cache", Port: 6380},
	}
	for in, want := range good {
		if got, err := ParseForward(in); err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, in := range []string{"test-cache", "database/", "/x", "db/x:0", "db/x:http", "DB/x", "db/x:70000"} {
		if _, err := ParseForward(in); err == nil || !strings.Contains(err.Error(), "<namespace>/<service-or-pod>") {
			t.Errorf("%s: %v; want an error showing the form", in, err)
		}
	}
}

func readyPod(name string, lbl map[string]string, ready bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "database", Labels: lbl},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "df", Ports: []corev1.ContainerPort{{Name: "resp", ContainerPort: 6380}}}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}},
	}
}

func TestResolvePodFollowsTheServiceSelector(t *testing.T) {
	sel := map[string]string{"app": "cache", "role": "master"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "cache", Namespace: "database"},
		Spec: corev1.ServiceSpec{Selector: sel, Ports: []corev1.ServicePort{
			{Name: "redis", Port: 6379, TargetPort: intstr.FromString("resp")},
			{Name: "admin", Port: 9999, TargetPort: intstr.FromInt32(9998)},
		}},
	}
	replica := readyPod("cache-0", map[string]string{"app": "cache", "role": "replica"}, true)
	notReady := readyPod("cache-1", sel, false)
	master := readyPod("cache-2", sel, true)
	cs := fake.NewSimpleClientset(svc, replica, notReady, master)
	ctx := context.Background()

	pod, port, err := ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache"})
	if err != nil || pod != "cache-2" || port != 6380 {
		t.Errorf("service: pod %s port %d %v; want the Ready master cache-2 on its named port 6380", pod, port, err)
	}
	if _, port, _ = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache", Port: 9999}); port != 9998 {
		t.Errorf("service port 9999 → container port %d; want 9998", port)
	}
	_, _, err = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache", Port: 1234})
	if !isInput(err) || !strings.Contains(err.Error(), "no port 1234") {
		t.Errorf("unknown service port: %v", err)
	}
	if pod, port, err = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache-0"}); err != nil || pod != "cache-0" || port != DefaultPort {
		t.Errorf("pod by name: %s %d %v", pod, port, err)
	}
	if _, _, err = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "nothing"}); !isInput(err) || !strings.Contains(err.Error(), "neither a Service nor a Pod") {
		t.Errorf("missing: %v", err)
	}
	if _, _, err = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache-1"}); !isInput(err) || !strings.Contains(err.Error(), "not Ready") {
		t.Errorf("pod not ready: %v", err)
	}
	// Planted defect: the master is not Ready; the error names what it saw.
	cs = fake.NewSimpleClientset(svc, notReady)
	if _, _, err = ResolvePod(ctx, cs, ForwardSpec{Namespace: "database", Name: "cache"}); !isInput(err) || !strings.Contains(err.Error(), "no Ready pod") || !strings.Contains(err.Error(), "cache-1") {
		t.Errorf("no ready pod: %v", err)
	}
}

func isInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

// jobCluster is a fake API with namespace database where creating the Job
// creates its pod in the state given (the Job controller's part).
func jobCluster(t *testing.T, pod func(*corev1.Pod)) (*fake.Clientset, *batchv1.Job) {
	t.Helper()
	raw, err := JobManifest(JobSpec{Namespace: "database", Instance: "cache", Image: "dfe2e.local/dfe2e-loadgen:abc",
		PullPolicy: "Never", Workload: loadgen.Workload{Pipeline: 1, Requests: 100}})
	if err != nil {
		t.Fatal(err)
	}
	job, err := JobFromManifest(raw)
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewSimpleClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "database"}})
	cs.PrependReactor("create", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		j := a.(k8stesting.CreateAction).GetObject().(*batchv1.Job)
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: j.Name + "-x1", Namespace: j.Namespace, Labels: map[string]string{JobNameLabel: j.Name}},
			Spec:       j.Spec.Template.Spec,
		}
		pod(p)
		if err := cs.Tracker().Add(p); err != nil {
			t.Error(err)
		}
		return false, nil, nil
	})
	return cs, job
}

func terminated(code int32) func(*corev1.Pod) {
	return func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodSucceeded
		if code != 0 {
			p.Status.Phase = corev1.PodFailed
		}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "loadgen", State: corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: "Completed"}}}}
	}
}

func assertCleanedUp(t *testing.T, cs *fake.Clientset, job *batchv1.Job) {
	t.Helper()
	if _, err := cs.BatchV1().Jobs("database").Get(context.Background(), job.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Job %s not deleted: %v", job.Name, err)
	}
	pods, _ := cs.CoreV1().Pods("database").List(context.Background(), metav1.ListOptions{})
	if len(pods.Items) != 0 {
		t.Errorf("%d Job pods left", len(pods.Items))
	}
}

func TestRunReturnsTheLogOfASucceededJobAndDeletesIt(t *testing.T) {
	cs, job := jobCluster(t, terminated(0))
	r := &Runner{Client: cs, Logs: func(_ context.Context, ns, pod, c string, _ bool) ([]byte, error) {
		if ns != "database" || pod != job.Name+"-x1" || c != "loadgen" {
			t.Errorf("log of %s/%s/%s", ns, pod, c)
		}
		return []byte("the log"), nil
	}}
	log, err := r.Run(context.Background(), job, time.Second)
	if err != nil || string(log) != "the log" {
		t.Fatalf("%q %v", log, err)
	}
	assertCleanedUp(t, cs, job)
}

func TestRunReportsAFailedJobWithExitCodeAndLog(t *testing.T) {
	cs, job := jobCluster(t, terminated(2))
	r := &Runner{Client: cs, Logs: func(context.Context, string, string, string, bool) ([]byte, error) {
		return []byte("dfe2e: cache.database.svc:6379: unreachable: dial tcp: lookup cache.database.svc: no such host\n"), nil
	}}
	_, err := r.Run(context.Background(), job, time.Second)
	var fe *FailedError
	if !errors.As(err, &fe) || fe.ExitCode != 2 || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), job.Name+"-x1") {
		t.Fatalf("%v; want a FailedError with exit 2, the pod name and the log tail", err)
	}
	assertCleanedUp(t, cs, job)
}

func TestRunIsBlockedWhenTheImageCannotBePulled(t *testing.T) {
	cs, job := jobCluster(t, func(p *corev1.Pod) {
		p.Status.Phase = corev1.PodPending
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "loadgen", State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImageNeverPull", Message: "image is not present with pull policy of Never"}}}}
	})
	r := &Runner{Client: cs}
	_, err := r.Run(context.Background(), job, time.Second)
	var be *imagepull.BlockedError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "dfe2e.local/dfe2e-loadgen:abc") || !strings.Contains(err.Error(), "ErrImageNeverPull") {
		t.Fatalf("%v; want blocked naming the image and the reason", err)
	}
	assertCleanedUp(t, cs, job)
}

func TestRunRejectsAMissingNamespace(t *testing.T) {
	_, job := jobCluster(t, terminated(0))
	cs := fake.NewSimpleClientset()
	_, err := (&Runner{Client: cs}).Run(context.Background(), job, time.Second)
	if !isInput(err) || !strings.Contains(err.Error(), "namespace database does not exist") {
		t.Fatalf("%v", err)
	}
}

func TestRunDeletesTheJobWhenInterrupted(t *testing.T) {
	cs, job := jobCluster(t, func(p *corev1.Pod) { p.Status.Phase = corev1.PodRunning })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(500*time.Millisecond, cancel) // as Ctrl-C would
	followed := false
	r := &Runner{Client: cs, Logs: func(_ context.Context, _, _, _ string, follow bool) ([]byte, error) {
		followed = follow
		return []byte("partial bundle"), nil
	}}
	_, err := r.Run(ctx, job, time.Minute)
	var ie *InterruptedError
	if !errors.As(err, &ie) || !errors.Is(err, context.Canceled) || string(ie.Log) != "partial bundle" || !followed {
		t.Fatalf("%v (followed %v); want the cancellation carrying the followed log", err, followed)
	}
	assertCleanedUp(t, cs, job)
}
