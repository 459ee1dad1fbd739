package fluxfixture

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

var runLabels = map[string]string{"dragonfly-e2e.io/run": "run-1", "app.kubernetes.io/managed-by": "dragonfly-e2e"}

func servedFiles(t *testing.T) map[string][]byte {
	files, err := gitserver.ReadFS(fixtures.Tree())
	if err != nil {
		t.Fatal(err)
	}
	for p, b := range DefectFiles {
		files[p] = b
	}
	return files
}

func TestLabelTreeLabelsEveryFluxKustomizationAndNothingElse(t *testing.T) {
	files := servedFiles(t)
	before := map[string][]byte{}
	for p, b := range files {
		before[p] = b
	}
	if left := Unlabelled(files, runLabels); len(left) < 3 {
		t.Fatalf("the fixture tree should hold unlabelled Flux Kustomizations (cluster-apps, dragonfly-operator, test-cache), found %v", left)
	}
	rewrote, err := LabelTree(files, nil, runLabels)
	if err != nil {
		t.Fatal(err)
	}
	if left := Unlabelled(files, runLabels); len(left) > 0 {
		t.Fatalf("Flux Kustomizations left without the run labels: %v", left)
	}
	for p, b := range files {
		if !bytes.Equal(b, before[p]) && !strings.Contains(strings.Join(rewrote, " "), p) {
			t.Errorf("%s changed but is not reported as rewritten", p)
		}
	}
	// A rewritten entry point keeps its spec.
	docs, err := flux.Decode(string(files["kubernetes/flux/cluster-apps.yaml"]))
	if err != nil || len(docs) != 1 {
		t.Fatalf("cluster-apps.yaml: %v, %d docs", err, len(docs))
	}
	path, _, _ := unstructured.NestedString(docs[0].Object, "spec", "path")
	src, _, _ := unstructured.NestedString(docs[0].Object, "spec", "sourceRef", "name")
	if path != "./kubernetes/apps" || src != SourceName || docs[0].GetName() != ClusterApps {
		t.Errorf("cluster-apps lost its spec: path %q, source %q, name %q", path, src, docs[0].GetName())
	}
	// kustomize's own kustomization.yaml files are not Flux's: untouched.
	for p := range files {
		if strings.HasSuffix(p, "/kustomization.yaml") && !bytes.Equal(files[p], before[p]) {
			t.Errorf("kustomize file %s was rewritten", p)
		}
	}
}

// Planted defect: one ks.yaml the rewrite missed is named by its path.
func TestUnlabelledNamesAFluxKustomizationWithoutTheRunLabels(t *testing.T) {
	files := servedFiles(t)
	const missed = "kubernetes/apps/database/test-cache/ks.yaml"
	orig := files[missed]
	if _, err := LabelTree(files, nil, runLabels); err != nil {
		t.Fatal(err)
	}
	files[missed] = orig
	left := Unlabelled(files, runLabels)
	if len(left) != 1 || !strings.HasPrefix(left[0], missed+": ") || !strings.Contains(left[0], TestCache) {
		t.Fatalf("want only %s (%s) named, got %v", missed, TestCache, left)
	}
}

func TestSetRunLabelsKeepsLabelsAlreadyThere(t *testing.T) {
	ks := DefectKustomization("dfe2e-defect-x", func(s map[string]any) {
		s["commonMetadata"] = map[string]any{"labels": map[string]any{"team": "a"}}
	})
	if err := SetRunLabels(ks, runLabels); err != nil {
		t.Fatal(err)
	}
	got, _, _ := unstructured.NestedStringMap(ks.Object, "spec", "commonMetadata", "labels")
	if got["team"] != "a" || got["dragonfly-e2e.io/run"] != "run-1" {
		t.Fatalf("labels %v", got)
	}
}

func TestRelocateTreeMovesTheFixturesFluxObjectsIntoTheirOwnNamespace(t *testing.T) {
	files := servedFiles(t)
	if out := OutsideNamespace(files, flux.TierNamespace); len(out) < 3 {
		t.Fatalf("the fixture tree should hold Kustomizations in %s, found %v", flux.Namespace, out)
	}
	_, order := chainModel(operatorKSSpec(), testCacheKS())
	order[2].DependsOn = []gitops.ObjectRef{{Kind: "Kustomization", Namespace: flux.Namespace, Name: OperatorKS}}
	tree := &gitops.Tree{Kustomizations: order, Entries: []string{flux.Namespace + "/" + ClusterApps}}
	if _, err := RelocateTree(files, tree, flux.TierNamespace); err != nil {
		t.Fatal(err)
	}
	if out := OutsideNamespace(files, flux.TierNamespace); len(out) > 0 {
		t.Fatalf("left outside %s: %v", flux.TierNamespace, out)
	}
	got, err := flux.ChainOrder(tree)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range got {
		if k.Namespace != flux.TierNamespace || k.Object.GetNamespace() != flux.TierNamespace || (k.Parent != "" && k.Parent != flux.TierNamespace+"/"+ClusterApps) {
			t.Errorf("%s: namespace %s, object in %s, parent %q", k.Name, k.Namespace, k.Object.GetNamespace(), k.Parent)
		}
		for _, d := range k.DependsOn {
			if d.Namespace != "" && d.Namespace != flux.TierNamespace {
				t.Errorf("%s depends on %s/%s", k.Name, d.Namespace, d.Name)
			}
		}
	}
	if tree.Entries[0] != flux.TierNamespace+"/"+ClusterApps {
		t.Errorf("entry %s", tree.Entries[0])
	}
}

// Planted defect: a ks.yaml the relocation missed still puts a
// Kustomization beside the user's Flux objects; it is named.
func TestOutsideNamespaceNamesAKustomizationLeftInFluxsNamespace(t *testing.T) {
	files := servedFiles(t)
	const missed = "kubernetes/apps/database/dragonfly-operator/ks.yaml"
	orig := files[missed]
	if _, err := RelocateTree(files, nil, flux.TierNamespace); err != nil {
		t.Fatal(err)
	}
	files[missed] = orig
	out := OutsideNamespace(files, flux.TierNamespace)
	if len(out) != 1 || out[0] != missed+": Kustomization "+flux.Namespace+"/"+OperatorKS {
		t.Fatalf("want only %s named, got %v", missed, out)
	}
}
