// Package fluxfake is a fake API server with a minimal kustomize- and
// source-controller in it, for unit tests of code that drives a Flux chain.
// It models the behaviour the Flux tier's repeatability rests on, as
// kustomize-controller v1 has it:
//
//   - a Kustomization applies its objects when it is created, resumed or
//     asked to reconcile (requestedAt), records them in status.inventory and
//     reports Ready at the served revision; at no other time (its interval
//     never comes in a test): an object deleted behind its back stays gone
//     while it stays Ready;
//   - deleting a Kustomization with spec.prune and not suspended deletes
//     what its inventory lists, except objects annotated
//     kustomize.toolkit.fluxcd.io/prune: disabled (a Kustomization among
//     them prunes in turn); a suspended one is deleted without pruning;
//   - deleting a CustomResourceDefinition deletes every object of its kind;
//   - a GitRepository asked to reconcile reports the served revision.
//
// Everything happens synchronously inside the client call.
package fluxfake

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
)

const (
	pruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	nameLabel       = "kustomize.toolkit.fluxcd.io/name"
)

// Cluster is the fake API server and its controllers.
type Cluster struct {
	client.Client
	under client.WithWatch
	// Revision is what the GitRepository serves and Kustomizations apply.
	Revision string
	mu       sync.Mutex
	sources  map[string][]*unstructured.Unstructured
}

// New is a cluster whose Kustomizations (by name, in flux.Namespace) apply
// sources[name] at revision.
func New(revision string, sources map[string][]*unstructured.Unstructured) *Cluster {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	fc := &Cluster{Revision: revision, sources: sources}
	fc.under = fake.NewClientBuilder().WithScheme(s).Build()
	fc.Client = interceptor.NewClient(fc.under, interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if err := c.Create(ctx, obj, opts...); err != nil {
				return err
			}
			return fc.after(ctx, obj, "")
		},
		Patch: func(ctx context.Context, c client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			before := fc.get(ctx, obj)
			if err := c.Patch(ctx, obj, patch, opts...); err != nil {
				return err
			}
			return fc.after(ctx, obj, before)
		},
		Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			return fc.delete(ctx, obj)
		},
	})
	return fc
}

// get is the requestedAt token and suspend state of a Flux object before a patch.
func (fc *Cluster) get(ctx context.Context, obj client.Object) string {
	u, ok := fluxObject(obj)
	if !ok {
		return ""
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if fc.under.Get(ctx, client.ObjectKeyFromObject(u), live) != nil {
		return ""
	}
	return state(live)
}

func state(u *unstructured.Unstructured) string {
	suspend, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend")
	return fmt.Sprintf("%s|%v", u.GetAnnotations()[flux.RequestedAtAnnotation], suspend)
}

func fluxObject(obj client.Object) (*unstructured.Unstructured, bool) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	gvk := u.GroupVersionKind()
	return u, gvk == flux.KustomizationGVK || gvk == flux.GitRepositoryGVK
}

// after runs the controllers on a Flux object that was created (before "")
// or patched (a new request or a resume reconciles it).
func (fc *Cluster) after(ctx context.Context, obj client.Object, before string) error {
	u, ok := fluxObject(obj)
	if !ok {
		return nil
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if err := fc.under.Get(ctx, client.ObjectKeyFromObject(u), live); err != nil {
		return err
	}
	if before != "" && state(live) == before {
		return nil
	}
	if live.GroupVersionKind() == flux.GitRepositoryGVK {
		return fc.fetch(ctx, live)
	}
	return fc.reconcile(ctx, live)
}

func (fc *Cluster) fetch(ctx context.Context, live *unstructured.Unstructured) error {
	_ = unstructured.SetNestedField(live.Object, fc.Revision, "status", "artifact", "revision")
	setReady(live)
	return fc.under.Update(ctx, live)
}

func setReady(live *unstructured.Unstructured) {
	_ = unstructured.SetNestedField(live.Object, live.GetAnnotations()[flux.RequestedAtAnnotation], "status", "lastHandledReconcileAt")
	_ = unstructured.SetNestedField(live.Object, live.GetGeneration(), "status", "observedGeneration")
	_ = unstructured.SetNestedSlice(live.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
		"message": "Applied revision", "observedGeneration": live.GetGeneration()}}, "status", "conditions")
}

// reconcile applies a Kustomization's objects (creating what is missing)
// and records them, unless it is suspended.
func (fc *Cluster) reconcile(ctx context.Context, ks *unstructured.Unstructured) error {
	if suspend, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend"); suspend {
		return nil
	}
	fc.mu.Lock()
	objs := fc.sources[ks.GetName()]
	fc.mu.Unlock()
	var entries []any
	var created []*unstructured.Unstructured
	for _, o := range objs {
		u := o.DeepCopy()
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[nameLabel] = ks.GetName()
		u.SetLabels(labels)
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		err := fc.under.Get(ctx, client.ObjectKeyFromObject(u), live)
		switch {
		case apierrors.IsNotFound(err):
			if err := fc.under.Create(ctx, u); err != nil {
				return err
			}
			created = append(created, u)
		case err != nil:
			return err
		}
		gvk := u.GroupVersionKind()
		entries = append(entries, map[string]any{"id": fmt.Sprintf("%s_%s_%s_%s", u.GetNamespace(), u.GetName(), gvk.Group, gvk.Kind), "v": gvk.Version})
	}
	if err := fc.under.Get(ctx, client.ObjectKeyFromObject(ks), ks); err != nil {
		return err
	}
	_ = unstructured.SetNestedSlice(ks.Object, entries, "status", "inventory", "entries")
	_ = unstructured.SetNestedField(ks.Object, fc.Revision, "status", "lastAppliedRevision")
	_ = unstructured.SetNestedField(ks.Object, fc.Revision, "status", "lastAttemptedRevision")
	setReady(ks)
	if err := fc.under.Update(ctx, ks); err != nil {
		return err
	}
	// A Kustomization that another applied reconciles at once.
	for _, u := range created {
		if u.GroupVersionKind() == flux.KustomizationGVK {
			if err := fc.reconcile(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

// delete deletes obj with the controllers' side effects.
func (fc *Cluster) delete(ctx context.Context, obj client.Object) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return fc.under.Delete(ctx, obj)
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if err := fc.under.Get(ctx, client.ObjectKeyFromObject(u), live); err != nil {
		return err
	}
	switch live.GroupVersionKind() {
	case flux.KustomizationGVK:
		prune, _, _ := unstructured.NestedBool(live.Object, "spec", "prune")
		suspend, _, _ := unstructured.NestedBool(live.Object, "spec", "suspend")
		if prune && !suspend {
			refs, err := flux.Inventory(live)
			if err != nil {
				return err
			}
			for _, r := range refs {
				o := &unstructured.Unstructured{}
				o.SetGroupVersionKind(r.GVK)
				if err := fc.under.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, o); err != nil {
					continue
				}
				if o.GetAnnotations()[pruneAnnotation] == "disabled" {
					continue
				}
				if err := fc.delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
	case schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}:
		group, _, _ := unstructured.NestedString(live.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(live.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(live.Object, "spec", "versions")
		for _, v := range versions {
			name, _ := v.(map[string]any)["name"].(string)
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: name, Kind: kind + "List"})
			if err := fc.under.List(ctx, list); err != nil {
				return err
			}
			for i := range list.Items {
				if err := fc.under.Delete(ctx, &list.Items[i]); err != nil && !apierrors.IsNotFound(err) {
					return err
				}
			}
		}
	}
	return fc.under.Delete(ctx, live)
}

// DeleteBehindFlux deletes obj without any controller noticing (what a
// kubectl delete does to an object a Kustomization applied).
func (fc *Cluster) DeleteBehindFlux(ctx context.Context, obj client.Object) error {
	return fc.under.Delete(ctx, obj)
}
