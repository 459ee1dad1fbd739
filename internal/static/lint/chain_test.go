package lint

import (
	"strings"
	"testing"
)

// A Kustomization that depends on one it applies waits for itself: the
// child is applied only once the parent is Ready.
func TestDependsOnCycleThroughTheParent(t *testing.T) {
	r := lintOverlay(t, "", map[string]string{"kubernetes/flux/cluster-apps.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: cluster-apps, namespace: flux-system}
spec:
  dependsOn: [{name: test-cache}]
  path: ./kubernetes/apps
  prune: true
`})
	want := "flux-system/cluster-apps (spec.dependsOn[0]) → flux-system/test-cache (applied by flux-system/cluster-apps) → flux-system/cluster-apps"
	var got []string
	for _, f := range r.Findings {
		if f.Rule == "DFE010" && strings.Contains(f.Message, want) {
			return
		}
		got = append(got, f.String())
	}
	t.Errorf("no DFE010 finding naming %q; findings:\n  %s", want, strings.Join(got, "\n  "))
}

// Only what Flux applies counts as rendered: a dependsOn on an orphaned
// Kustomization waits forever, and its objects are not checked as applied.
func TestOrphanIsNotRendered(t *testing.T) {
	r := lintOverlay(t, "", map[string]string{
		"kubernetes/apps/database/orphan/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: orphan, namespace: flux-system}
spec: {path: ./kubernetes/apps/database/orphan/app}
`,
		"kubernetes/apps/database/orphan/app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n",
		"kubernetes/apps/database/test-cache/ks.yaml": `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: test-cache, namespace: flux-system}
spec:
  dependsOn: [{name: dragonfly-operator}, {name: orphan}]
  path: ./kubernetes/apps/database/test-cache/app
  prune: true
`,
	})
	rules := map[string]string{}
	for _, f := range r.Findings {
		rules[f.Rule] += f.Message + "\n"
	}
	if !strings.Contains(rules["DFE009"], "Kustomization flux-system/orphan (kubernetes/apps/database/orphan/ks.yaml) is not reachable") {
		t.Errorf("DFE009 findings: %q", rules["DFE009"])
	}
	if !strings.Contains(rules["DFE004"], "flux-system/orphan, which the tree does not render") || !strings.Contains(rules["DFE004"], "Flux never applies it") {
		t.Errorf("DFE004 findings: %q", rules["DFE004"])
	}
	if rules["DFE001"] != "" {
		t.Errorf("the orphan's ConfigMap is never applied, yet DFE001 reports: %q", rules["DFE001"])
	}
	for _, k := range r.Kustomizations {
		if k == "flux-system/orphan" {
			t.Errorf("report counts the orphan as rendered: %v", r.Kustomizations)
		}
	}
}
