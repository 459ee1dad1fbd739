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
	return rewriteTree(files, tree, func(u *unstructured.Unstructured) error { return SetRunLabels(u, labels) })
}

// rewriteTree applies edit to every Flux Kustomization of the served files
// (re-encoding only the files that hold one) and of the rendered tree.
func rewriteTree(files map[string][]byte, tree *gitops.Tree, edit func(*unstructured.Unstructured) error) ([]string, error) {
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
				if err := edit(d); err != nil {
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
			// Its definition, and the Flux Kustomizations it applies.
			for _, u := range append([]*unstructured.Unstructured{k.Object}, k.Objects...) {
				if u != nil && isFluxKustomization(u) {
					if err := edit(u); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	sort.Strings(rewrote)
	return rewrote, nil
}

// RelocateTree moves the tree's Flux Kustomizations from Flux's namespace
// to ns: their metadata.namespace and every reference into Flux's
// namespace (sourceRef, dependsOn, Kustomization health checks), in the
// served files and in the rendered tree (keys, parents, dependencies), so
// that a cluster's own Flux reconciles them apart from its own objects.
func RelocateTree(files map[string][]byte, tree *gitops.Tree, ns string) ([]string, error) {
	from := flux.Namespace
	move := func(m map[string]any) {
		if m["namespace"] == from {
			m["namespace"] = ns
		}
	}
	rewrote, err := rewriteTree(files, tree, func(u *unstructured.Unstructured) error {
		if u.GetNamespace() == from || u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if ref, ok, _ := unstructured.NestedMap(u.Object, "spec", "sourceRef"); ok {
			move(ref)
			if err := unstructured.SetNestedMap(u.Object, ref, "spec", "sourceRef"); err != nil {
				return err
			}
		}
		for _, field := range []string{"dependsOn", "healthChecks"} {
			list, ok, _ := unstructured.NestedSlice(u.Object, "spec", field)
			if !ok {
				continue
			}
			for _, e := range list {
				if m, ok := e.(map[string]any); ok && (field == "dependsOn" || m["kind"] == "Kustomization") {
					move(m)
				}
			}
			if err := unstructured.SetNestedSlice(u.Object, list, "spec", field); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || tree == nil {
		return rewrote, err
	}
	key := func(k string) string {
		if rest, ok := strings.CutPrefix(k, from+"/"); ok {
			return ns + "/" + rest
		}
		return k
	}
	for _, k := range tree.Kustomizations {
		if k.Namespace == from {
			k.Namespace = ns
		}
		k.Parent = key(k.Parent)
		for i := range k.DependsOn {
			if k.DependsOn[i].Namespace == from {
				k.DependsOn[i].Namespace = ns
			}
		}
		for i := range k.HealthChecks {
			if k.HealthChecks[i].Kind == "Kustomization" && k.HealthChecks[i].Namespace == from {
				k.HealthChecks[i].Namespace = ns
			}
		}
	}
	for i := range tree.Entries {
		tree.Entries[i] = key(tree.Entries[i])
	}
	return rewrote, nil
}

// OutsideNamespace lists the Flux Kustomizations of files, and the
// references they make into Flux's namespace, that are not in ns, as
// "path: what".
func OutsideNamespace(files map[string][]byte, ns string) []string {
	var out []string
	eachKustomization(files, func(path string, d *unstructured.Unstructured) {
		if d.GetNamespace() != ns {
			out = append(out, path+": Kustomization "+d.GetNamespace()+"/"+d.GetName())
		}
		if n, _, _ := unstructured.NestedString(d.Object, "spec", "sourceRef", "namespace"); n != "" && n != ns {
			out = append(out, path+": sourceRef in "+n)
		}
		deps, _, _ := unstructured.NestedSlice(d.Object, "spec", "dependsOn")
		for _, e := range deps {
			if m, ok := e.(map[string]any); ok && m["namespace"] != nil && m["namespace"] != ns {
				out = append(out, fmt.Sprintf("%s: dependsOn %v/%v", path, m["namespace"], m["name"]))
			}
		}
	})
	sort.Strings(out)
	return out
}

// Unlabelled lists the Flux Kustomizations of files that lack any of
// labels in spec.commonMetadata.labels, as "path: namespace/name".
func Unlabelled(files map[string][]byte, labels map[string]string) []string {
	var out []string
	eachKustomization(files, func(path string, d *unstructured.Unstructured) {
		have, _, _ := unstructured.NestedStringMap(d.Object, "spec", "commonMetadata", "labels")
		for k, v := range labels {
			if have[k] != v {
				out = append(out, path+": "+d.GetNamespace()+"/"+d.GetName())
				break
			}
		}
	})
	sort.Strings(out)
	return out
}

// eachKustomization calls f with every Flux Kustomization of files; a file
// that does not decode holds none.
func eachKustomization(files map[string][]byte, f func(path string, d *unstructured.Unstructured)) {
	for path, b := range files {
		docs, err := flux.Decode(string(b))
		if err != nil {
			continue
		}
		for _, d := range docs {
			if isFluxKustomization(d) {
				f(path, d)
			}
		}
	}
}
