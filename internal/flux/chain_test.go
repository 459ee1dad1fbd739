package flux

import (
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

func kz(name, parent string, deps ...string) *gitops.Kustomization {
	k := &gitops.Kustomization{Name: name, Namespace: Namespace}
	if parent != "" {
		k.Parent = Namespace + "/" + parent
	}
	for _, d := range deps {
		k.DependsOn = append(k.DependsOn, gitops.ObjectRef{Kind: "Kustomization", Namespace: Namespace, Name: d})
	}
	return k
}

// The guide's chain, listed in key order (as the renderer sorts them).
func TestChainOrderOfTheGuide(t *testing.T) {
	tree := &gitops.Tree{Kustomizations: []*gitops.Kustomization{
		kz("cluster-apps", ""), kz("dragonfly-operator", "cluster-apps"), kz("test-cache", "cluster-apps", "dragonfly-operator"),
	}}
	tree.Kustomizations[0], tree.Kustomizations[2] = tree.Kustomizations[2], tree.Kustomizations[0]
	got, err := ChainOrder(tree)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range got {
		names = append(names, k.Name)
	}
	if strings.Join(names, ",") != "cluster-apps,dragonfly-operator,test-cache" {
		t.Fatalf("order %v", names)
	}
}

func TestChainOrderMissingDependencyAndCycle(t *testing.T) {
	for name, ks := range map[string][]*gitops.Kustomization{
		"missing": {kz("a", ""), kz("b", "a", "no-such")},
		"cycle":   {kz("a", "", "b"), kz("b", "", "a")},
	} {
		_, err := ChainOrder(&gitops.Tree{Kustomizations: ks})
		if err == nil || !strings.Contains(err.Error(), "flux-system/b") {
			t.Errorf("%s: want an error naming flux-system/b, got %v", name, err)
		}
	}
}
