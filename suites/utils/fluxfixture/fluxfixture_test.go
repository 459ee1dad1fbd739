package fluxfixture

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func ks(spec map[string]any) *gitops.Kustomization {
	return &gitops.Kustomization{Object: &unstructured.Unstructured{Object: map[string]any{"spec": spec}}}
}

func TestKSTimeout(t *testing.T) {
	for _, c := range []struct {
		spec map[string]any
		want time.Duration
	}{
		{map[string]any{"timeout": "5m", "interval": "15m"}, 5*time.Minute + 30*time.Second},
		{map[string]any{"interval": "10m"}, 10*time.Minute + 30*time.Second},
		{map[string]any{"timeout": "soon", "interval": "1m"}, time.Minute + 30*time.Second},
		{map[string]any{}, wait.Timeout(wait.KustomizationReady)},
	} {
		if got := KSTimeout(ks(c.spec)); got != c.want {
			t.Errorf("%v: %s, want %s", c.spec, got, c.want)
		}
	}
}

func TestDefectKustomizationReadsTheHarmlessDir(t *testing.T) {
	u := DefectKustomization("dfe2e-defect-x", func(s map[string]any) { s["dependsOn"] = []any{map[string]any{"name": "nope"}} })
	if u.GetName() != "dfe2e-defect-x" || u.GetNamespace() != flux.Namespace || u.GetKind() != "Kustomization" {
		t.Fatalf("metadata: %v", u.Object["metadata"])
	}
	path, _, _ := unstructured.NestedString(u.Object, "spec", "path")
	src, _, _ := unstructured.NestedString(u.Object, "spec", "sourceRef", "name")
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	if path != "./"+DefectDir || src != SourceName || len(deps) != 1 {
		t.Fatalf("spec: %v", u.Object["spec"])
	}
	if _, ok := DefectFiles[strings.TrimPrefix(path, "./")+"/kustomization.yaml"]; !ok {
		t.Fatal("the defect path is not in the served files")
	}
}

// The planted files must parse, and the unprotected namespace must really
// lack the prune opt-out (else the prune-safety defect proves nothing).
func TestDefectFiles(t *testing.T) {
	for p, b := range DefectFiles {
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	ns := string(DefectFiles[UnprotectedDir+"/namespace.yaml"])
	if !strings.Contains(ns, "name: "+UnprotectedNamespace) || strings.Contains(ns, operator.PruneAnnotation) {
		t.Errorf("unprotected namespace:\n%s", ns)
	}
}

func TestGitRepository(t *testing.T) {
	u := GitRepository("http://git.dfe2e-git.svc/tree.git")
	url, _, _ := unstructured.NestedString(u.Object, "spec", "url")
	if u.GetName() != SourceName || u.GetNamespace() != flux.Namespace || url != "http://git.dfe2e-git.svc/tree.git" {
		t.Fatalf("%v", u.Object)
	}
}

func TestNeighbourKept(t *testing.T) {
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "database"}}
	c := fakecluster.Client(ns)
	if err := NeighbourKept(ctx, c, "database"); err == nil || !strings.Contains(err.Error(), "neighbour tenant database/test-db was deleted") {
		t.Errorf("no tenant: %v", err)
	}
	if err := PlantNeighbour(ctx, c, "database"); err != nil {
		t.Fatal(err)
	}
	if err := PlantNeighbour(ctx, c, "database"); err != nil {
		t.Fatalf("planting twice: %v", err)
	}
	if err := NeighbourKept(ctx, c, "database"); err != nil {
		t.Error(err)
	}
	if err := NeighbourKept(ctx, c, UnprotectedNamespace); err == nil || !strings.Contains(err.Error(), "shared namespace "+UnprotectedNamespace+" was deleted") {
		t.Errorf("no namespace: %v", err)
	}
	terminating := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "t", DeletionTimestamp: &metav1.Time{Time: time.Now()}, Finalizers: []string{"kubernetes"}}}
	if err := NeighbourKept(ctx, fakecluster.Client(terminating), "t"); err == nil || !strings.Contains(err.Error(), "shared namespace t is being deleted") {
		t.Errorf("terminating: %v", err)
	}
}

func TestPingPod(t *testing.T) {
	p := PingPod("database", "test-cache", "dragonfly:1")
	if got := strings.Join(p.Spec.Containers[0].Command, " "); got != "redis-cli -h test-cache.database -p 6379 PING" || p.Namespace != "database" {
		t.Fatalf("%s in %s", got, p.Namespace)
	}
}
