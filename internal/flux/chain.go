package flux

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

// ChainOrder sorts a rendered tree's Kustomizations so that each comes after
// the Kustomization that applies it (its parent) and after its dependsOn:
// the order in which they can become Ready.
func ChainOrder(t *gitops.Tree) ([]*gitops.Kustomization, error) {
	var out []*gitops.Kustomization
	done := map[string]bool{}
	for len(out) < len(t.Kustomizations) {
		progressed := false
		for _, k := range t.Kustomizations {
			if done[k.Key()] || (k.Parent != "" && !done[k.Parent]) {
				continue
			}
			ready := true
			for _, d := range k.DependsOn {
				ready = ready && done[d.Namespace+"/"+d.Name]
			}
			if ready {
				out = append(out, k)
				done[k.Key()] = true
				progressed = true
			}
		}
		if !progressed {
			var stuck []string
			for _, k := range t.Kustomizations {
				if !done[k.Key()] {
					stuck = append(stuck, k.Key())
				}
			}
			sort.Strings(stuck)
			return nil, fmt.Errorf("no Ready order for Kustomizations %s: a dependsOn names a missing Kustomization or they form a cycle", strings.Join(stuck, ", "))
		}
	}
	return out, nil
}
