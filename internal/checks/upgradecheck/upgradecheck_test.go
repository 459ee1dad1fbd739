package upgradecheck

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
)

func TestChainDefaultIsEveryPinnedRelease(t *testing.T) {
	got, err := Chain("", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"v1.5.0", "v1.6.0", "v1.6.1"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("default chain %v, want %v", got, want)
	}
	got, err = Chain("v1.6.0", "v1.6.1")
	if err != nil || !reflect.DeepEqual(got, []string{"v1.6.0", "v1.6.1"}) {
		t.Fatalf("v1.6.0 → v1.6.1: %v %v", got, err)
	}
}

func TestChainBadVersionNamesThePinnedOnes(t *testing.T) {
	for _, c := range []struct{ from, to, flag string }{
		{"v1.4.0", "v1.6.1", "--upgrade-from"},
		{"v1.5.0", "latest", "--upgrade-to"},
		{"v1.6.1", "v1.5.0", "older pinned version"},
		{"v1.6.0", "v1.6.0", "older pinned version"},
	} {
		_, err := Chain(c.from, c.to)
		if err == nil || !strings.Contains(err.Error(), c.flag) || !strings.Contains(err.Error(), "v1.5.0, v1.6.0, v1.6.1") {
			t.Errorf("Chain(%q, %q) = %v: want an error naming %s and the pinned versions", c.from, c.to, err, c.flag)
		}
	}
}

func TestCrossesConfigmapsRBAC(t *testing.T) {
	if !CrossesConfigmapsRBAC("v1.5.0", "v1.6.0") || !CrossesConfigmapsRBAC("v1.5.0", "v1.6.1") {
		t.Fatal("v1.5.0 → v1.6.x crosses the configmaps RBAC change")
	}
	if CrossesConfigmapsRBAC("v1.6.0", "v1.6.1") {
		t.Fatal("v1.6.0 → v1.6.1 does not")
	}
}

func TestVersionOfImage(t *testing.T) {
	for img, want := range map[string]string{
		"docker.dragonflydb.io/dragonflydb/operator:v1.6.1": "v1.6.1",
		"example.test:5000/operator:1.6.0":                  "v1.6.0",
		"example.test:5000/operator":                        "",
	} {
		if got := VersionOfImage(img); got != want {
			t.Errorf("VersionOfImage(%q) = %q, want %q", img, got, want)
		}
	}
}

// A manager log as controller-runtime writes it (JSON, quotes escaped) and
// as klog writes it (plain; the line the v1.6.0 manager logged on kind under
// the v1.5.0 ClusterRole), when the ClusterRole lacks configmaps.
const (
	jsonForbidden  = `{"level":"error","ts":"2026-12-02T08:00:01Z","logger":"controller-runtime.source.EventHandler","msg":"Failed to watch","error":"failed to list *v1.ConfigMap: configmaps is forbidden: User \"system:serviceaccount:database:dragonfly-operator-controller-manager\" cannot list resource \"configmaps\" in API group \"\" at the cluster scope"}`
	klogForbidden  = `W1202 08:37:06.157229       1 reflector.go:569] pkg/mod/k8s.io/client-go@v0.32.3/tools/cache/reflector.go:251: failed to list *v1.ConfigMap: configmaps is forbidden: User "system:serviceaccount:database:dragonfly-operator-controller-manager" cannot list resource "configmaps" in API group "" at the cluster scope`
	healthyLog     = `{"level":"info","msg":"successfully acquired lease database/e84b7bb5.dragonflydb.io"}` + "\n" + `{"level":"info","msg":"Starting workers","controller":"dragonfly","worker count":1}`
	managerV161Img = "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"
)

func run(p OperatorPod) OperatorRun {
	return OperatorRun{Version: "v1.6.1", Available: true, Pods: []OperatorPod{p}}
}

func TestHealthyOperatorIsDone(t *testing.T) {
	done, state, err := run(OperatorPod{Name: "m-1", Image: managerV161Img, Ready: true, Log: healthyLog,
		Containers: []Container{{Name: "manager"}, {Name: "kube-rbac-proxy"}}}).Judge()
	if err != nil || !done {
		t.Fatalf("healthy operator: done %v, %q, %v", done, state, err)
	}
}

func TestOperatorStillRollingIsPending(t *testing.T) {
	r := OperatorRun{Version: "v1.6.1", Available: true, Pods: []OperatorPod{
		{Name: "old", Image: "docker.dragonflydb.io/dragonflydb/operator:v1.6.0", Ready: true, Log: healthyLog},
		{Name: "new", Image: managerV161Img, Ready: true, Log: healthyLog},
	}}
	if done, state, err := r.Judge(); done || err != nil || !strings.Contains(state, "old operator pods") {
		t.Fatalf("two pods: done %v, %q, %v", done, state, err)
	}
	r.Pods = r.Pods[1:]
	r.Pods[0].Log = `{"msg":"successfully acquired lease"}`
	if done, state, err := r.Judge(); done || err != nil || !strings.Contains(state, "has not started its controllers") {
		t.Fatalf("controllers not started: done %v, %q, %v", done, state, err)
	}
}

// Planted defect: the v1.6.1 manager with the v1.5.0 ClusterRole. Before it
// crashes (its cache sync times out after minutes) its log is full of
// denials; after, it restarts. Both fail, naming configmaps.
func TestTagOnlyBumpFailsNamingConfigmaps(t *testing.T) {
	for name, p := range map[string]OperatorPod{
		"running, json log": {Name: "m-1", Image: managerV161Img, Ready: true, Log: healthyLog[:60] + "\n" + jsonForbidden},
		"running, klog":     {Name: "m-1", Image: managerV161Img, Ready: true, Log: klogForbidden},
		"crash-looping": {Name: "m-1", Image: managerV161Img, PreviousLog: jsonForbidden + "\n" + `{"level":"error","msg":"Could not wait for Cache to sync","error":"failed to wait for dragonfly caches to sync: timed out waiting for cache to be synced for Kind *v1.ConfigMap"}`,
			Containers: []Container{{Name: "manager", Restarts: 2, Waiting: "CrashLoopBackOff", LastReason: "Error", LastExit: 1}}},
	} {
		_, _, err := run(p).Judge()
		if err == nil {
			t.Errorf("%s: the tag-only bump passed", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "forbidden to list configmaps at the cluster scope") || !strings.Contains(msg, "v1.6.1") {
			t.Errorf("%s: verdict does not name configmaps at the cluster scope: %v", name, err)
		}
		if p.Containers != nil && !strings.Contains(msg, "restarted 2 times, now CrashLoopBackOff") {
			t.Errorf("%s: verdict does not name the crash loop: %v", name, err)
		}
	}
}

func TestRestartWithoutDenialFailsWithLogTail(t *testing.T) {
	_, _, err := run(OperatorPod{Name: "m-1", Image: managerV161Img, Ready: true, Log: healthyLog, PreviousLog: "panic: boom",
		Containers: []Container{{Name: "manager", Restarts: 1, LastReason: "Error", LastExit: 2}}}).Judge()
	if err == nil || !strings.Contains(err.Error(), "container manager restarted 1 times") || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("restart not reported with its log: %v", err)
	}
}

func TestForbiddenListsEachDenialOnce(t *testing.T) {
	got := Forbidden(jsonForbidden + "\n" + klogForbidden + "\n" + `cannot watch resource "leases" in API group "coordination.k8s.io" in the namespace "database"`)
	want := []string{"list configmaps at the cluster scope", `watch leases.coordination.k8s.io in the namespace "database"`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Forbidden = %q, want %q", got, want)
	}
}

var t0 = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)

func sample(sec int, pods ...rollout.Pod) rollout.Sample {
	return rollout.Sample{At: t0.Add(time.Duration(sec) * time.Second), Pods: pods}
}

func pod(name, uid, role string, ready, deleting bool) rollout.Pod {
	return rollout.Pod{Name: name, UID: uid, Role: role, Ready: ready, Deleting: deleting}
}

// One pod at a time with the others serving: deletions, none of the last Ready pod.
func TestOneAtATimeReplacementPasses(t *testing.T) {
	s := []rollout.Sample{
		sample(0, pod("r-0", "a", "master", true, false), pod("r-1", "b", "replica", true, false), pod("r-2", "c", "replica", true, false)),
		sample(1, pod("r-0", "a", "master", true, false), pod("r-1", "b", "replica", true, false), pod("r-2", "c", "replica", true, true)),
		sample(2, pod("r-0", "a", "master", true, false), pod("r-1", "b", "replica", true, false), pod("r-2", "c2", "", false, false)),
		sample(3, pod("r-0", "a", "master", true, false), pod("r-1", "b", "replica", true, false), pod("r-2", "c2", "replica", true, false)),
	}
	d := JudgeDeletions(s)
	if err := d.Err("upgrade-replicated", 3); err != nil {
		t.Fatal(err)
	}
	if len(d.Deleted) != 1 || !strings.HasPrefix(d.Deleted[0], "r-2 at") {
		t.Fatalf("deletions %v", d.Deleted)
	}
}

// Planted defect: the replicas are down and the master, the only Ready pod, is deleted.
func TestDeletingTheOnlyReadyPodFails(t *testing.T) {
	s := []rollout.Sample{
		sample(0, pod("r-0", "a", "master", true, false), pod("r-1", "b", "replica", false, false), pod("r-2", "c", "replica", false, true)),
		sample(1, pod("r-0", "a", "master", true, true), pod("r-1", "b", "replica", false, false), pod("r-2", "c", "replica", false, true)),
	}
	err := JudgeDeletions(s).Err("upgrade-replicated", 3)
	if err == nil || !strings.Contains(err.Error(), "r-0 (role master) at 08:00:01.000") || !strings.Contains(err.Error(), "only Ready one") {
		t.Fatalf("deleting the last Ready pod not named: %v", err)
	}
	// A pod that vanished between samples counts as deleted too.
	s[1] = sample(1, pod("r-1", "b", "replica", false, false))
	if err := JudgeDeletions(s).Err("upgrade-replicated", 3); err == nil || !strings.Contains(err.Error(), "r-0") {
		t.Fatalf("vanished last Ready pod not named: %v", err)
	}
}

// One replica: its replacement is unavoidable downtime, noted, not failed.
func TestSingleReplicaReplacementIsNoted(t *testing.T) {
	s := []rollout.Sample{
		sample(0, pod("s-0", "a", "master", true, false)),
		sample(1, pod("s-0", "a", "master", true, true)),
		sample(5, pod("s-0", "b", "master", true, false)),
	}
	d := JudgeDeletions(s)
	if err := d.Err("upgrade-snapshot", 1); err != nil {
		t.Fatal(err)
	}
	if n := d.Note("upgrade-snapshot", 1); !strings.Contains(n, "one replica") {
		t.Fatalf("note %q", n)
	}
}

func crd(withPhase bool) *unstructured.Unstructured {
	status := map[string]any{"properties": map[string]any{"isRollingUpdate": map[string]any{"type": "boolean"}}}
	if withPhase {
		status["properties"].(map[string]any)["phase"] = map[string]any{"type": "string"}
	}
	u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"versions": []any{map[string]any{
		"name": "v1alpha1", "subresources": map[string]any{"status": map[string]any{}},
		"schema": map[string]any{"openAPIV3Schema": map[string]any{"properties": map[string]any{"status": status}}},
	}}}}}
	u.SetName("dragonflies.dragonflydb.io")
	return u
}

func df(name, phase string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetNamespace("database")
	u.SetName(name)
	if phase != "" {
		_ = unstructured.SetNestedField(u.Object, phase, "status", "phase")
	}
	return u
}

func TestStatusProperties(t *testing.T) {
	if got := StatusProperties(crd(true)); !reflect.DeepEqual(got, []string{"isRollingUpdate", "phase"}) {
		t.Fatalf("StatusProperties = %v", got)
	}
}

func TestStatusFieldsPresentPass(t *testing.T) {
	if err := CheckStatusFields("v1.6.0", crd(true), []*unstructured.Unstructured{df("a", "Ready"), df("b", "ready")}); err != nil {
		t.Fatal(err)
	}
}

// Planted defects: the CRD drops status.phase; an instance carries none.
func TestMissingStatusFieldFailsNamingIt(t *testing.T) {
	err := CheckStatusFields("v1.6.0", crd(false), []*unstructured.Unstructured{df("a", "Ready")})
	if err == nil || !strings.Contains(err.Error(), "no longer declares status.phase") {
		t.Fatalf("CRD without status.phase: %v", err)
	}
	err = CheckStatusFields("v1.6.0", crd(true), []*unstructured.Unstructured{df("a", "")})
	if err == nil || !strings.Contains(err.Error(), "Dragonfly database/a has no status.phase") {
		t.Fatalf("instance without status.phase: %v", err)
	}
	err = CheckStatusFields("v1.6.0", crd(true), []*unstructured.Unstructured{df("a", "RollingUpdate")})
	if err == nil || !strings.Contains(err.Error(), `status.phase "RollingUpdate", not Ready`) {
		t.Fatalf("instance not Ready: %v", err)
	}
}

func TestBundleCheck(t *testing.T) {
	if err := CheckBundle("v1.6.1", managerV161Img, []string{"v1.6.0", "v1.6.1"}, true); err != nil {
		t.Fatal(err)
	}
	// Planted: tag-only bump — the CRD stays v1.5.0 under a v1.6.1 manager.
	err := CheckBundle("v1.6.1", managerV161Img, []string{"v1.5.0"}, true)
	if err == nil || !strings.Contains(err.Error(), "[v1.5.0]") || !strings.Contains(err.Error(), "running operator is v1.6.1") {
		t.Fatalf("CRD left at v1.5.0: %v", err)
	}
	err = CheckBundle("v1.6.1", "docker.dragonflydb.io/dragonflydb/operator:v1.6.0", []string{"v1.6.0", "v1.6.1"}, true)
	if err == nil || !strings.Contains(err.Error(), "runs v1.6.0") {
		t.Fatalf("old manager still running: %v", err)
	}
}
