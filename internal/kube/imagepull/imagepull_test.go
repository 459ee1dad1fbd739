package imagepull

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

const operatorImage = "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"

func pod(reason string) corev1.Pod {
	p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "op-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kube-rbac-proxy", Image: "quay.io/brancz/kube-rbac-proxy:v0.16.0"}, {Name: "manager", Image: operatorImage}}}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: "kube-rbac-proxy", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "manager", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "dial tcp: lookup docker.dragonflydb.io: no such host"}}},
	}
	return p
}

func TestFailingNamesImageAndReason(t *testing.T) {
	for _, r := range []string{"ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull"} {
		f := Failing([]corev1.Pod{pod(r)})
		if f == nil {
			t.Fatalf("%s not detected", r)
		}
		if f.Image != operatorImage || f.Container != "manager" || f.Reason != r {
			t.Fatalf("%s: got %+v", r, f)
		}
		msg := f.BlockedMessage("operator Deployment Available")
		st, reason, remedy := verdict.ParseSkipMessage(msg)
		if st != verdict.Blocked || !strings.Contains(reason, operatorImage) || !strings.Contains(remedy, "--image-archive") {
			t.Fatalf("%s: blocked message %q parsed as %s / %q / %q", r, msg, st, reason, remedy)
		}
	}
}

// A crash loop or a pod still creating is not an image problem: never blocked.
func TestNotBlocked(t *testing.T) {
	for _, r := range []string{"CrashLoopBackOff", "ContainerCreating", "CreateContainerConfigError"} {
		if f := Failing([]corev1.Pod{pod(r)}); f != nil {
			t.Fatalf("%s reported as image failure: %v", r, f)
		}
	}
	if Failing(nil) != nil {
		t.Fatal("no pods reported as failing")
	}
}

func TestOnNode(t *testing.T) {
	n := corev1.Node{Status: corev1.NodeStatus{Images: []corev1.ContainerImage{
		{Names: []string{"docker.io/library/busybox:1.35.0", "ghcr.io/fluxcd/source-controller:v1.9.5"}},
	}}}
	for img, want := range map[string]bool{
		"busybox:1.35.0": true, "ghcr.io/fluxcd/source-controller:v1.9.5": true,
		operatorImage: false, "busybox": false,
	} {
		if got := OnNode(n, img); got != want {
			t.Errorf("OnNode(%s) = %v, want %v", img, got, want)
		}
	}
}

// Every image that cannot be pulled is named, not only the first.
func TestFailingNamesEveryImage(t *testing.T) {
	p := pod("ErrImagePull")
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}
	f := Failing([]corev1.Pod{p})
	if f == nil || f.Image != "quay.io/brancz/kube-rbac-proxy:v0.16.0" || len(f.Others) != 1 || f.Others[0] != operatorImage {
		t.Fatalf("got %+v", f)
	}
	if !strings.Contains(f.String(), operatorImage) {
		t.Fatalf("%q does not name %s", f.String(), operatorImage)
	}
}

// crashLooping is the operator pod of a run that supplied the operator image
// but not the sidecar's: the manager started and crash-loops (missing RBAC),
// while kube-rbac-proxy waits on an image the node cannot pull.
func crashLooping() corev1.Pod {
	p := pod("CrashLoopBackOff")
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: "quay.io: no such host"}}
	p.Status.ContainerStatuses[1].RestartCount = 4
	p.Status.ContainerStatuses[1].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		Reason: "Error", ExitCode: 1, Message: "dragonflies.dragonflydb.io is forbidden"}}
	return p
}

// A container that started and crashed makes its workload failed, never
// blocked, even when another container of it waits on an image.
func TestCrashLoopIsNeverBlocked(t *testing.T) {
	if f := Failing([]corev1.Pod{crashLooping()}); f != nil {
		t.Fatalf("manager crash-loops (restarted 4 times, exit 1) but Failing reports the pods as blocked on an image: %v — a crash loop must be a failure, not blocked", f)
	}
}

func TestCheckReportsTheCrashNotTheImage(t *testing.T) {
	err := Check([]corev1.Pod{crashLooping()})
	var ce *CrashError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCrashed) || errors.Is(err, ErrBlocked) {
		t.Fatalf("Check = %v (%T); want a CrashError, not blocked: the manager crash-loops", err, err)
	}
	msg := err.Error()
	for _, want := range []string{"database/op-1", "manager", "restarted 4 times", "CrashLoopBackOff", "Error with exit code 1", "forbidden",
		"quay.io/brancz/kube-rbac-proxy:v0.16.0", "not blocked"} {
		if !strings.Contains(msg, want) {
			t.Errorf("crash message %q does not name %q", msg, want)
		}
	}
}

// Each kind of evidence that a container started and failed wins over an
// image that cannot be pulled; evidence that is not the container's fault
// (a node restart, a finished init container, a pod being deleted) does not.
func TestCheckEvidence(t *testing.T) {
	pull := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}}
	cases := []struct {
		name    string
		st      corev1.ContainerStatus
		init    bool
		deleted bool
		crashed bool
	}{
		{name: "terminated non-zero", st: corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 2}}}, crashed: true},
		{name: "running after a restart", st: corev1.ContainerStatus{RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}, crashed: true},
		{name: "last run OOMKilled", st: corev1.ContainerStatus{State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}}, crashed: true},
		{name: "init container crash-looping", init: true, st: corev1.ContainerStatus{RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}, crashed: true},
		{name: "init container completed", init: true, st: corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}},
		{name: "restarted by a node restart", st: corev1.ContainerStatus{RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Unknown", ExitCode: 255}}}},
		{name: "stopped by a pod deletion", deleted: true, st: corev1.ContainerStatus{State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 143}}}},
		{name: "still creating", st: corev1.ContainerStatus{State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}},
	}
	for _, tc := range cases {
		other := pod("ErrImagePull")
		other.Name = "op-2"
		p := pod("ErrImagePull")
		tc.st.Name = "setup"
		if tc.init {
			p.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "busybox"}}
			p.Status.InitContainerStatuses = []corev1.ContainerStatus{tc.st}
		} else {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "setup", Image: "busybox"})
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, tc.st)
		}
		if tc.deleted {
			p.DeletionTimestamp = &metav1.Time{}
			other.Status.ContainerStatuses[1].State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
		}
		p.Status.ContainerStatuses[1].State = pull
		err := Check([]corev1.Pod{p, other})
		switch {
		case tc.crashed && !errors.Is(err, ErrCrashed):
			t.Errorf("%s: Check = %v; want a crash (failed), not blocked", tc.name, err)
		case tc.crashed && !strings.Contains(err.Error(), "setup"):
			t.Errorf("%s: %q does not name the container", tc.name, err)
		case !tc.crashed && !errors.Is(err, ErrBlocked):
			t.Errorf("%s: Check = %v; want blocked on %s", tc.name, err, operatorImage)
		}
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	err := Check([]corev1.Pod{pod("ErrImageNeverPull")})
	var be *BlockedError
	if !errors.As(err, &be) || !errors.Is(err, ErrBlocked) || errors.Is(err, ErrCrashed) {
		t.Fatalf("Check = %v; want blocked", err)
	}
	if !strings.Contains(err.Error(), operatorImage) || !strings.Contains(err.Error(), "--image-archive") {
		t.Fatalf("%q names neither the image nor the remedy", err)
	}
	be.Remedy = "build it with dfe2e e2e"
	st, reason, remedy := verdict.ParseSkipMessage(be.BlockedMessage("the operator cannot start"))
	if st != verdict.Blocked || !strings.Contains(reason, operatorImage) || remedy != "build it with dfe2e e2e" {
		t.Fatalf("blocked message parsed as %s / %q / %q", st, reason, remedy)
	}
}
