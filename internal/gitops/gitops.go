// Package gitops renders a GitOps repository the way Flux would, without a
// cluster or any binary: it finds the Flux Kustomizations in the tree, builds
// each one's spec.path with kustomize (krusty, in memory), follows the Flux
// Kustomizations those builds produce, and records which Kustomization
// rendered which objects.
//
// Supported: spec.path, spec.targetNamespace, directories without a
// kustomization.yaml (Flux generates one), and `operator-bundle` resource
// entries, which are materialized from the pinned, verified operator release.
// Not supported: postBuild variable substitution, sources other than the tree
// itself (every sourceRef is taken to be the repository being rendered),
// remote kustomize bases (offline).
package gitops

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// BundleRef is the resource entry a kustomization uses for the bundled
// operator. When the tree has no directory of that name, the renderer writes
// the relocated operator (operator/kustomize + verified upstream manifest)
// there, in its in-memory copy of the tree.
const BundleRef = "operator-bundle"

// FluxGroup is the API group of Flux Kustomizations.
const FluxGroup = "kustomize.toolkit.fluxcd.io"

// DefaultFluxNamespace is assumed for a Flux Kustomization that names none.
const DefaultFluxNamespace = "flux-system"

// Options configure Render.
type Options struct {
	// OperatorVersion is the bundle written for BundleRef entries; empty: operator.DefaultVersion.
	OperatorVersion string
	// Source says where the upstream operator manifest comes from.
	Source operator.SourceOptions
}

func (o Options) version() string {
	if o.OperatorVersion != "" {
		return o.OperatorVersion
	}
	return operator.DefaultVersion
}

// ObjectRef names an object (healthCheck entries, findings).
type ObjectRef struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
}

func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Group is the API group of the reference.
func (r ObjectRef) Group() string {
	gv, _ := schema.ParseGroupVersion(r.APIVersion)
	return gv.Group
}

// RefOf names obj.
func RefOf(obj *unstructured.Unstructured) ObjectRef {
	return ObjectRef{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// Kustomization is one Flux Kustomization of the tree and what it renders.
type Kustomization struct {
	Name, Namespace string
	Path            string // spec.path as written
	Prune, Wait     bool
	TargetNamespace string
	DependsOn       []ObjectRef // Kind "Kustomization"; namespace defaulted to this one's
	HealthChecks    []ObjectRef
	Object          *unstructured.Unstructured

	// Origin is the file the definition was read from, or the Kustomization
	// whose build produced it ("rendered by flux-system/cluster-apps").
	Origin string
	// Parent is the key of the Flux Kustomization that renders this one; empty for an entry point.
	Parent string
	// PathExists reports whether spec.path is a directory of the tree.
	PathExists bool
	// Objects are what a build of spec.path produced (nil when the path is missing).
	Objects []*unstructured.Unstructured
}

// Key is "namespace/name".
func (k *Kustomization) Key() string { return k.Namespace + "/" + k.Name }

// Ref names the Kustomization object.
func (k *Kustomization) Ref() ObjectRef {
	return ObjectRef{APIVersion: k.Object.GetAPIVersion(), Kind: "Kustomization", Namespace: k.Namespace, Name: k.Name}
}

// Tree is a rendered GitOps repository.
type Tree struct {
	Root            string // what was rendered (a path, or "built-in fixtures")
	OperatorVersion string // bundle version used for BundleRef entries
	Bundles         []string
	Kustomizations  []*Kustomization // sorted by key
}

// Kustomization returns the Flux Kustomization namespace/name, or nil.
func (t *Tree) Kustomization(namespace, name string) *Kustomization {
	for _, k := range t.Kustomizations {
		if k.Namespace == namespace && k.Name == name {
			return k
		}
	}
	return nil
}

// Object is a rendered object and the Flux Kustomization that applies it.
type Object struct {
	*unstructured.Unstructured
	By *Kustomization
}

// Objects lists everything every Flux Kustomization renders.
func (t *Tree) Objects() []Object {
	var out []Object
	for _, k := range t.Kustomizations {
		for _, o := range k.Objects {
			out = append(out, Object{o, k})
		}
	}
	return out
}

// Find returns the rendered objects matching kind, namespace and name (and the
// API group of apiVersion, when given).
func (t *Tree) Find(ref ObjectRef) []Object {
	var out []Object
	for _, o := range t.Objects() {
		if o.GetKind() != ref.Kind || o.GetName() != ref.Name || o.GetNamespace() != ref.Namespace {
			continue
		}
		if ref.APIVersion != "" && RefOf(o.Unstructured).Group() != ref.Group() {
			continue
		}
		out = append(out, o)
	}
	return out
}

func isFluxKustomization(obj map[string]any) bool {
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	return kind == "Kustomization" && strings.HasPrefix(av, FluxGroup+"/")
}

// parseKustomization reads the fields of a Flux Kustomization that rendering and linting use.
func parseKustomization(obj *unstructured.Unstructured, origin string) (*Kustomization, error) {
	k := &Kustomization{Name: obj.GetName(), Namespace: obj.GetNamespace(), Object: obj, Origin: origin}
	if k.Name == "" {
		return nil, fmt.Errorf("%s: Flux Kustomization without metadata.name", origin)
	}
	if k.Namespace == "" {
		k.Namespace = DefaultFluxNamespace
	}
	k.Path, _, _ = unstructured.NestedString(obj.Object, "spec", "path")
	k.Prune, _, _ = unstructured.NestedBool(obj.Object, "spec", "prune")
	k.Wait, _, _ = unstructured.NestedBool(obj.Object, "spec", "wait")
	k.TargetNamespace, _, _ = unstructured.NestedString(obj.Object, "spec", "targetNamespace")
	deps, _, _ := unstructured.NestedSlice(obj.Object, "spec", "dependsOn")
	for i, d := range deps {
		m, ok := d.(map[string]any)
		name, _ := m["name"].(string)
		if !ok || name == "" {
			return nil, fmt.Errorf("%s: Kustomization %s: spec.dependsOn[%d] has no name", origin, k.Key(), i)
		}
		ns, _ := m["namespace"].(string)
		if ns == "" {
			ns = k.Namespace
		}
		k.DependsOn = append(k.DependsOn, ObjectRef{APIVersion: obj.GetAPIVersion(), Kind: "Kustomization", Namespace: ns, Name: name})
	}
	hcs, _, _ := unstructured.NestedSlice(obj.Object, "spec", "healthChecks")
	for i, h := range hcs {
		m, ok := h.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: Kustomization %s: spec.healthChecks[%d] is not an object", origin, k.Key(), i)
		}
		var r ObjectRef
		r.APIVersion, _ = m["apiVersion"].(string)
		r.Kind, _ = m["kind"].(string)
		r.Name, _ = m["name"].(string)
		r.Namespace, _ = m["namespace"].(string)
		if r.Kind == "" || r.Name == "" {
			return nil, fmt.Errorf("%s: Kustomization %s: spec.healthChecks[%d] needs kind and name", origin, k.Key(), i)
		}
		k.HealthChecks = append(k.HealthChecks, r)
	}
	return k, nil
}

func sortKustomizations(ks []*Kustomization) {
	sort.Slice(ks, func(i, j int) bool { return ks[i].Key() < ks[j].Key() })
}
