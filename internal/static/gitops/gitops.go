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
	"path"
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
	// Reachable reports whether Flux applies this Kustomization: it is an
	// entry point, or a Kustomization reachable from one renders it.
	Reachable bool
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
	Kustomizations  []*Kustomization // sorted by key, reachable or not
	// Entries are the keys of the entry points: the flux-system Kustomization
	// when the tree defines it, else the Kustomizations that bootstrap applies
	// (see entryPoints).
	Entries []string
	// Source is where the upstream operator manifests were read from, so
	// that checks can compare the tree against other pinned releases.
	Source operator.SourceOptions
}

// BootstrapName is the name (in DefaultFluxNamespace) of the Kustomization
// that flux bootstrap creates: when the tree defines it, Flux applies only
// what is reachable from it.
const BootstrapName = "flux-system"

// Applied is the tree as Flux applies it: only the reachable Kustomizations.
// Objects, Find and Kustomization of the result see nothing else.
func (t *Tree) Applied() *Tree {
	out := *t
	out.Kustomizations = nil
	for _, k := range t.Kustomizations {
		if k.Reachable {
			out.Kustomizations = append(out.Kustomizations, k)
		}
	}
	return &out
}

// Unreachable lists the Kustomizations defined in the tree that Flux never applies.
func (t *Tree) Unreachable() []*Kustomization {
	var out []*Kustomization
	for _, k := range t.Kustomizations {
		if !k.Reachable {
			out = append(out, k)
		}
	}
	return out
}

// markReachable sets Entries and every Kustomization's Reachable.
//
// With a flux-system Kustomization in the tree, it is the only entry point:
// Flux applies what its path renders, and so on. Without one, bootstrap lives
// outside the repository and its path is unknown; the entry points are then
// the Kustomizations defined in files outside every other Kustomization's
// path (e.g. kubernetes/flux/cluster-apps.yaml). A definition inside another
// Kustomization's path that no build rendered was meant to be part of the
// chain but is listed by no kustomization.yaml: it is not an entry point.
func (t *Tree) markReachable() {
	t.Entries = nil
	// Bootstrap's flux-system Kustomization usually renders its own definition
	// (gotk-sync.yaml in its path), so it may be its own parent.
	if k := t.Kustomization(DefaultFluxNamespace, BootstrapName); k != nil && (k.Parent == "" || k.Parent == k.Key()) {
		t.Entries = []string{k.Key()}
	} else {
		for _, k := range t.Kustomizations {
			if k.Parent == "" && t.coveringPath(k) == nil {
				t.Entries = append(t.Entries, k.Key())
			}
		}
		if len(t.Entries) == 0 {
			// Every definition sits in another's path (they render each
			// other in a loop): treat them all as applied rather than guess.
			for _, k := range t.Kustomizations {
				if k.Parent == "" {
					t.Entries = append(t.Entries, k.Key())
				}
			}
		}
	}
	reach := map[string]bool{}
	for _, e := range t.Entries {
		reach[e] = true
	}
	for changed := true; changed; {
		changed = false
		for _, k := range t.Kustomizations {
			if !reach[k.Key()] && k.Parent != "" && reach[k.Parent] {
				reach[k.Key()] = true
				changed = true
			}
		}
	}
	for _, k := range t.Kustomizations {
		k.Reachable = reach[k.Key()]
	}
}

// CoveringPath returns a Kustomization other than k whose spec.path holds
// the file k is defined in, or nil (also for a k that was rendered, not read
// from a file).
func (t *Tree) CoveringPath(k *Kustomization) *Kustomization { return t.coveringPath(k) }

func (t *Tree) coveringPath(k *Kustomization) *Kustomization {
	file := k.File()
	if file == "" {
		return nil
	}
	var best *Kustomization
	for _, other := range t.Kustomizations {
		if other == k || !other.PathExists {
			continue
		}
		dir := path.Clean(strings.TrimPrefix(other.Path, "./"))
		if other.Path == "" || dir == "." || strings.HasPrefix(file, dir+"/") {
			// The deepest path is the one whose kustomization.yaml should list it.
			if best == nil || len(path.Clean(strings.TrimPrefix(best.Path, "./"))) < len(dir) {
				best = other
			}
		}
	}
	return best
}

// File is the tree file k was read from ("" when only a build rendered it).
func (k *Kustomization) File() string {
	f, _, _ := strings.Cut(k.Origin, ", rendered by ")
	if strings.HasPrefix(f, "rendered by ") {
		return ""
	}
	return f
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
