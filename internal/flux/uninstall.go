package flux

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Render is the objects Install applies (Manifests, decoded), so that a
// caller knows them before applying and can remove exactly them later.
func Render(o Options) ([]*unstructured.Unstructured, error) {
	doc, err := Manifests(o)
	if err != nil {
		return nil, err
	}
	objs, err := Decode(doc)
	if err != nil {
		return nil, fmt.Errorf("decoding Flux install manifests: %w", err)
	}
	return objs, nil
}

// InstallObjects applies objs (from Render) as Install does and waits for
// the controllers.
func InstallObjects(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	if err := installcheck.Apply(ctx, c, objs); err != nil {
		return fmt.Errorf("applying Flux %s: %w", Version, err)
	}
	for _, comp := range Components {
		if err := WaitDeployment(ctx, c, Namespace, comp); err != nil {
			return err
		}
	}
	return nil
}

// Summary says what objs install: namespace, CRDs, controllers, RBAC.
func Summary(objs []*unstructured.Unstructured) string {
	count := map[string]int{}
	var deps []string
	for _, o := range objs {
		count[o.GetKind()]++
		if o.GetKind() == "Deployment" {
			deps = append(deps, o.GetName())
		}
	}
	var kinds []string
	for k, n := range count {
		if k != "Deployment" {
			kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
		}
	}
	sort.Strings(kinds)
	return fmt.Sprintf("Flux %s in namespace %s: controllers %s; %s", Version, Namespace, strings.Join(deps, ", "), strings.Join(kinds, ", "))
}

// Owner is how Uninstall tells what a run created: the label key and value
// every object of the run carries (internal/env/cluster.RunLabel and the
// run id).
type Owner struct{ Label, Value string }

func (o Owner) owns(u *unstructured.Unstructured) bool {
	return o.Value != "" && u.GetLabels()[o.Label] == o.Value
}

// ForeignFluxObjectsError is an object of Flux's kinds that the run did not
// create: removing the CRDs would delete it, so Flux is left installed.
type ForeignFluxObjectsError struct {
	Objects []string
	// Kept is the label value the install's objects were given instead of
	// the run's, so that the run's cleanup leaves them and a user can find them.
	Kept Owner
}

func (e *ForeignFluxObjectsError) Error() string {
	return fmt.Sprintf("Flux was left installed: %s on the cluster were not created by this run and removing Flux's CRDs would delete them — the Flux this run installed is relabelled %s=%s; remove it when they are gone with kubectl delete namespaces,customresourcedefinitions,clusterroles,clusterrolebindings -l %s=%s",
		strings.Join(e.Objects, ", "), e.Kept.Label, e.Kept.Value, e.Kept.Label, e.Kept.Value)
}

// Uninstall removes the Flux that the run owner installed (objs: what
// Render gave and InstallObjects applied) in an order that lets it finish
// its own work: first every object of Flux's kinds the run created, in
// every namespace, while the controllers still run and can handle their
// finalizers (a Kustomization's prunes what it applied); then the
// controllers' Deployments; then the rest of objs but the CRDs and the
// namespace; then the CRDs; the namespace last. Each group is waited for
// before the next. Only objects carrying the owner's label are deleted.
//
// An object of Flux's kinds the run did not create stops the removal
// after the run's own ones: Flux stays installed, its objects relabelled
// (ForeignFluxObjectsError), since deleting the CRDs would delete it.
func Uninstall(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, owner Owner, logf func(string, ...any)) ([]string, error) {
	if owner.Value == "" {
		return nil, fmt.Errorf("removing Flux without a run id would select nothing safely; refusing")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var removed []string
	remove := func(what string, bound wait.Name, items []*unstructured.Unstructured) error {
		r, err := deleteOwned(ctx, c, owner, what, bound, items, logf)
		removed = append(removed, r...)
		return err
	}

	custom, foreign, err := fluxObjects(ctx, c, objs, owner)
	if err != nil {
		return removed, err
	}
	if err := remove("objects of Flux's kinds (while the controllers handle their finalizers)", wait.FluxRestored, custom); err != nil {
		return removed, err
	}
	if len(foreign) > 0 {
		kept := Owner{Label: owner.Label, Value: "kept-flux-" + owner.Value}
		if err := relabel(ctx, c, objs, owner, kept); err != nil {
			return removed, fmt.Errorf("%v; relabelling the Flux this run installed failed too: %w", (&ForeignFluxObjectsError{Objects: foreign, Kept: kept}).Error(), err)
		}
		return removed, &ForeignFluxObjectsError{Objects: foreign, Kept: kept}
	}
	var deployments, rest, crds, namespaces []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "Deployment":
			deployments = append(deployments, o)
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "Namespace":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	for _, g := range []struct {
		what  string
		bound wait.Name
		items []*unstructured.Unstructured
	}{
		{"Flux controller Deployments", wait.ObjectDeleted, deployments},
		{"other Flux install objects (RBAC, Services, policies)", wait.ObjectDeleted, rest},
		{"Flux CRDs", wait.ObjectDeleted, crds},
		{"Flux namespaces", wait.ObjectDeleted, namespaces},
	} {
		if err := remove(g.what, g.bound, g.items); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// fluxObjects lists, in every namespace, the objects of the kinds the CRDs
// of objs define: the run's own ones, and the others by name.
func fluxObjects(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, owner Owner) (mine []*unstructured.Unstructured, foreign []string, err error) {
	return listKinds(ctx, c, CRDKinds(objs), owner)
}

// listKinds lists the objects of kinds in every namespace: owner's, and
// the others by name.
func listKinds(ctx context.Context, c client.Client, kinds []schema.GroupVersionKind, owner Owner) (mine []*unstructured.Unstructured, foreign []string, err error) {
	for _, gvk := range kinds {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, l); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return nil, nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for i := range l.Items {
			u := &l.Items[i]
			u.SetGroupVersionKind(gvk)
			if owner.owns(u) {
				mine = append(mine, u)
			} else {
				foreign = append(foreign, installcheck.Ref(u))
			}
		}
	}
	sort.Strings(foreign)
	return mine, foreign, nil
}

// CRDKinds are the kinds the CustomResourceDefinitions among objs define,
// at their storage version.
func CRDKinds(objs []*unstructured.Unstructured) []schema.GroupVersionKind {
	var out []schema.GroupVersionKind
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
		version := ""
		for _, v := range versions {
			m, _ := v.(map[string]any)
			if s, _ := m["storage"].(bool); s {
				version, _ = m["name"].(string)
			}
		}
		if version != "" && kind != "" {
			out = append(out, schema.GroupVersionKind{Group: group, Version: version, Kind: kind})
		}
	}
	return out
}

// relabel moves the objects of objs that owner created to kept, so that
// the run's cleanup (which selects owner's label) leaves them.
func relabel(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, owner, kept Owner) error {
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil || !owner.owns(live) {
			continue
		}
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, kept.Label, kept.Value)
		if err := c.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
			return fmt.Errorf("relabelling %s: %w", installcheck.Ref(o), err)
		}
	}
	return nil
}

// deleteOwned deletes those of items that owner created and waits (bound)
// until they are gone; it returns them, or names those still there.
func deleteOwned(ctx context.Context, c client.Client, owner Owner, what string, bound wait.Name, items []*unstructured.Unstructured, logf func(string, ...any)) ([]string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var mine []*unstructured.Unstructured
	for _, u := range items {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		err := c.Get(ctx, client.ObjectKeyFromObject(u), live)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", installcheck.Ref(u), err)
		}
		if !owner.owns(live) {
			continue // not the run's: left as it is
		}
		if err := c.Delete(ctx, live, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting %s: %w", installcheck.Ref(u), err)
		}
		logf("flux removal: deleted %s", installcheck.Ref(u))
		mine = append(mine, u)
	}
	if len(mine) == 0 {
		return nil, nil
	}
	var left []string
	_, err := wait.For(ctx, fmt.Sprintf("%d %s of run %s to be gone", len(mine), what, owner.Value), bound, func(ctx context.Context) (bool, string, error) {
		left = left[:0]
		for _, u := range mine {
			live := &unstructured.Unstructured{}
			live.SetGroupVersionKind(u.GroupVersionKind())
			err := c.Get(ctx, client.ObjectKeyFromObject(u), live)
			if err == nil || !(apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
				left = append(left, installcheck.Ref(u))
			}
		}
		return len(left) == 0, "left: " + strings.Join(left, ", "), nil
	})
	if err != nil {
		return nil, fmt.Errorf("removing Flux objects: %s still there: %w", strings.Join(left, ", "), err)
	}
	var removed []string
	for _, u := range mine {
		removed = append(removed, installcheck.Ref(u))
	}
	return removed, nil
}

// RemoveRunObjects deletes the objects of kinds (Flux's: GitRepository,
// Kustomization …) that owner created, in every namespace, while Flux's
// controllers still run and handle their finalizers, and waits until they
// are gone; objects of others are left as they are.
func RemoveRunObjects(ctx context.Context, c client.Client, kinds []schema.GroupVersionKind, owner Owner, logf func(string, ...any)) ([]string, error) {
	if owner.Value == "" {
		return nil, fmt.Errorf("removing Flux objects without a run id would select nothing safely; refusing")
	}
	mine, _, err := listKinds(ctx, c, kinds, owner)
	if err != nil {
		return nil, err
	}
	return deleteOwned(ctx, c, owner, "objects of Flux's kinds (while the controllers handle their finalizers)", wait.FluxRestored, mine, logf)
}
