package fluxfixture

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
)

// On a cluster the run does not own, what Flux applies for the tier must
// carry the run's labels too (the run removes exactly what is labelled):
// kustomize-controller, not the suites' labelling client, creates it. Each
// Flux Kustomization's spec.commonMetadata.labels makes Flux put them on
// every object it applies, the Kustomizations it applies included.

// SetRunLabels adds labels to ks's spec.commonMetadata.labels (kept: the
// labels it already has).
func SetRunLabels(ks *unstructured.Unstructured, labels map[string]string) error {
	if len(labels) == 0 {
		return nil
	}
	have, _, err := unstructured.NestedStringMap(ks.Object, "spec", "commonMetadata", "labels")
	if err != nil {
		return fmt.Errorf("Kustomization %s/%s: spec.commonMetadata.labels: %w", ks.GetNamespace(), ks.GetName(), err)
	}
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range labels {
		have[k] = v
	}
	return unstructured.SetNestedStringMap(ks.Object, have, "spec", "commonMetadata", "labels")
}

func isFluxKustomization(u *unstructured.Unstructured) bool {
	return u.GetKind() == "Kustomization" && u.GroupVersionKind().Group == flux.KustomizationGVK.Group
}

// LabelTree sets labels (SetRunLabels) on every Flux Kustomization of the
// served files and of the rendered tree, and returns the files it rewrote.
// A file that holds no Flux Kustomization is left byte for byte.
func LabelTree(files map[string][]byte, tree *gitops.Tree, labels map[string]string) ([]string, error) {
	if len(labels) == 0 {
		return nil, nil
	}
	var rewrote []string
	for path, b := range files {
		if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
			continue
		}
		docs, err := flux.Decode(string(b))
		if err != nil {
			continue // not Kubernetes YAML: nothing Flux applies as a Kustomization
		}
		changed := false
		for _, d := range docs {
			if isFluxKustomization(d) {
				if err := SetRunLabels(d, labels); err != nil {
					return nil, fmt.Errorf("%s: %w", path, err)
				}
				changed = true
			}
		}
		if !changed {
			continue
		}
		var out []string
		for _, d := range docs {
			y, err := yaml.Marshal(d.Object)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, string(y))
		}
		files[path] = []byte(strings.Join(out, "---\n"))
		rewrote = append(rewrote, path)
	}
	if tree != nil {
		for _, k := range tree.Kustomizations {
			if k.Object != nil && isFluxKustomization(k.Object) {
				if err := SetRunLabels(k.Object, labels); err != nil {
					return nil, err
				}
			}
		}
	}
	sort.Strings(rewrote)
	return rewrote, nil
}

// Unlabelled lists the Flux Kustomizations of files that lack any of
// labels in spec.commonMetadata.labels, as "path: namespace/name".
func Unlabelled(files map[string][]byte, labels map[string]string) []string {
	var out []string
	for path, b := range files {
		docs, err := flux.Decode(string(b))
		if err != nil {
			continue
		}
		for _, d := range docs {
			if !isFluxKustomization(d) {
				continue
			}
			have, _, _ := unstructured.NestedStringMap(d.Object, "spec", "commonMetadata", "labels")
			for k, v := range labels {
				if have[k] != v {
					out = append(out, path+": "+d.GetNamespace()+"/"+d.GetName())
					break
				}
			}
		}
	}
	sort.Strings(out)
	return out
}
