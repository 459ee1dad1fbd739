// Package installcheck applies a rendered operator bundle the way a GitOps
// controller does (server-side apply) and checks the result on the live API
// server: every object present where it belongs, nothing left in the
// upstream namespace.
package installcheck

import (
	"context"
	"errors"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// FieldManager is the server-side-apply field manager of everything dfe2e applies.
const FieldManager = "dfe2e"

// Check ids.
const (
	CheckNamespace       = "install.object-in-operator-namespace"
	CheckPresent         = "install.object-present"
	CheckOldNamespace    = "install.old-namespace-empty"
	CheckCRDEstablished  = "install.crd-established"
	establishedCondition = "Established"
)

// Expect says where the bundle must land.
type Expect struct {
	Namespace    string // e.g. "database"
	OldNamespace string // e.g. "dragonfly-operator-system"
}

// Ref renders an object as Kind/namespace/name (Kind/name when cluster-scoped).
func Ref(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + "/" + o.GetName()
	}
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// rank orders kinds the way an installer must: namespaces and CRDs first.
func rank(o *unstructured.Unstructured) int {
	switch o.GetKind() {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case "ServiceAccount", "ClusterRole", "Role":
		return 2
	}
	return 3
}

// Apply server-side applies objs (field manager dfe2e, forcing conflicts as a
// GitOps controller does) and waits for every CRD among them to be Established.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) < rank(sorted[j]) })
	for _, o := range sorted {
		u := o.DeepCopy()
		u.SetResourceVersion("")
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("server-side apply of %s: %w", Ref(o), err)
		}
	}
	for _, o := range sorted {
		if o.GetKind() == "CustomResourceDefinition" {
			if err := WaitCRDEstablished(ctx, c, o.GetName()); err != nil {
				return err
			}
			if err := waitServed(ctx, c, o); err != nil {
				return err
			}
		}
	}
	return nil
}

// waitServed waits until the CRD's kind can be listed through c: Established
// comes a moment before discovery (and so the client's RESTMapper) serves it.
func waitServed(ctx context.Context, c client.Client, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		return nil
	}
	v, _ := versions[0].(map[string]any)
	version, _ := v["name"].(string)
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: group, Version: version, Kind: kind + "List"})
	_, err := wait.For(ctx, kind+"."+group+" to be served", wait.CRDEstablished, func(ctx context.Context) (bool, string, error) {
		if err := c.List(ctx, list, client.Limit(1)); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	return err
}

// WaitCRDEstablished waits (named timeout CRDEstablished) for condition Established.
func WaitCRDEstablished(ctx context.Context, c client.Client, name string) error {
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	_, err := wait.For(ctx, "CRD "+name+" to be Established", wait.CRDEstablished, func(ctx context.Context) (bool, string, error) {
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, err.Error(), nil
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, ci := range conds {
			cm, _ := ci.(map[string]any)
			if cm["type"] == establishedCondition {
				return cm["status"] == "True", fmt.Sprintf("Established=%v (%v)", cm["status"], cm["message"]), nil
			}
		}
		return false, "no Established condition yet", nil
	})
	return err
}

// Check verifies the bundle against the live API server:
//   - every namespaced object is rendered into Expect.Namespace and the bundle
//     carries no Namespace Expect.OldNamespace;
//   - every object exists on the server;
//   - the server has no Namespace Expect.OldNamespace and none of the bundle's
//     namespaced kinds has objects in it.
func Check(ctx context.Context, c client.Client, objs []*unstructured.Unstructured, e Expect) ([]finding.Finding, error) {
	var out []finding.Finding
	violation := func(check, obj, format string, args ...any) {
		out = append(out, finding.Finding{Check: check, Severity: finding.Violation, Object: obj, Message: fmt.Sprintf(format, args...)})
	}
	namespacedKinds := map[schema.GroupVersionKind]bool{}
	for _, o := range objs {
		namespaced, err := c.IsObjectNamespaced(o)
		if err != nil {
			return out, fmt.Errorf("installcheck: is %s namespaced: %w", Ref(o), err)
		}
		switch {
		case o.GetKind() == "Namespace" && o.GetName() == e.OldNamespace:
			violation(CheckOldNamespace, Ref(o), "the bundle still carries the upstream Namespace %s", e.OldNamespace)
		case namespaced && o.GetNamespace() != e.Namespace:
			violation(CheckNamespace, Ref(o), "rendered into namespace %q, not %q", o.GetNamespace(), e.Namespace)
		}
		if namespaced {
			namespacedKinds[o.GroupVersionKind()] = true
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		err = c.Get(ctx, client.ObjectKeyFromObject(o), live)
		switch {
		case apierrors.IsNotFound(err):
			violation(CheckPresent, Ref(o), "rendered by the bundle but not present on the API server")
		case err != nil:
			return out, fmt.Errorf("installcheck: reading %s: %w", Ref(o), err)
		}
	}

	ns := &corev1.Namespace{}
	err := c.Get(ctx, client.ObjectKey{Name: e.OldNamespace}, ns)
	switch {
	case err == nil:
		violation(CheckOldNamespace, "Namespace/"+e.OldNamespace, "the upstream namespace %s exists on the API server (phase %s); the relocated install must not create it", e.OldNamespace, ns.Status.Phase)
	case !apierrors.IsNotFound(err):
		return out, fmt.Errorf("installcheck: reading Namespace %s: %w", e.OldNamespace, err)
	}
	kinds := make([]schema.GroupVersionKind, 0, len(namespacedKinds))
	for k := range namespacedKinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return kinds[i].String() < kinds[j].String() })
	for _, gvk := range kinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(e.OldNamespace)); err != nil {
			return out, fmt.Errorf("installcheck: listing %s in %s: %w", gvk.Kind, e.OldNamespace, err)
		}
		for i := range list.Items {
			it := &list.Items[i]
			if gvk.Kind == "ServiceAccount" && it.GetName() == "default" {
				continue // every namespace gets one; the Namespace itself is reported above
			}
			violation(CheckOldNamespace, gvk.Kind+"/"+e.OldNamespace+"/"+it.GetName(), "object left in the upstream namespace %s", e.OldNamespace)
		}
	}
	return out, nil
}

// Remove deletes objs (reverse install order) and waits until they are gone.
// Namespaces are finalized directly when finalize is true: envtest runs no
// namespace controller, so a deleted Namespace would stay Terminating forever.
// Use it only on disposable clusters.
func Remove(ctx context.Context, c client.Client, cs kubernetes.Interface, objs []*unstructured.Unstructured, finalize bool) error {
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool { return rank(sorted[i]) > rank(sorted[j]) })
	var errs []error
	for _, o := range sorted {
		u := o.DeepCopy()
		err := c.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			errs = append(errs, fmt.Errorf("deleting %s: %w", Ref(o), err))
			continue
		}
		if o.GetKind() == "Namespace" && finalize {
			if err := finalizeNamespace(ctx, cs, o.GetName()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, o := range sorted {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(o.GroupVersionKind())
		_, err := wait.For(ctx, Ref(o)+" to be deleted", wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
			err := c.Get(ctx, client.ObjectKeyFromObject(o), u)
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				return true, "", nil
			}
			if err != nil {
				return false, err.Error(), nil
			}
			return false, "still present", nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func finalizeNamespace(ctx context.Context, cs kubernetes.Interface, name string) error {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ns.Spec.Finalizers = nil
	if _, err := cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("finalizing Namespace %s: %w", name, err)
	}
	return nil
}
