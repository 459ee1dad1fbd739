package fluxfake

import (
	"context"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
)

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func exists(t *testing.T, c client.Client, o *unstructured.Unstructured) bool {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	return c.Get(context.Background(), client.ObjectKeyFromObject(o), live) == nil
}

// The behaviours the Flux tier's tests rest on, each against its opposite.
func TestModel(t *testing.T) {
	ctx := context.Background()
	ns := obj("v1", "Namespace", "", "database")
	ns.SetAnnotations(map[string]string{pruneAnnotation: "disabled"})
	crd := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "dragonflies.dragonflydb.io")
	crd.Object["spec"] = map[string]any{"group": "dragonflydb.io", "names": map[string]any{"kind": "Dragonfly"}, "versions": []any{map[string]any{"name": "v1alpha1"}}}
	df := obj("dragonflydb.io/v1alpha1", "Dragonfly", "database", "test-cache")
	cm := obj("v1", "ConfigMap", "database", "c")
	fc := New("main@sha1:1", map[string][]*unstructured.Unstructured{"op": {ns, crd, cm}, "tc": {df}})
	ks := func(name string, suspend bool) *unstructured.Unstructured {
		k := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", flux.Namespace, name)
		k.Object["spec"] = map[string]any{"prune": true, "suspend": suspend}
		return k
	}
	if err := fc.Create(ctx, ks("tc", true)); err != nil {
		t.Fatal(err)
	}
	if exists(t, fc, df) {
		t.Fatal("a suspended Kustomization applied")
	}
	if err := fc.Delete(ctx, ks("tc", true)); err != nil {
		t.Fatal(err)
	}
	if err := fc.Create(ctx, ks("tc", false)); err != nil {
		t.Fatal(err)
	}
	if err := fc.Create(ctx, ks("op", false)); err != nil {
		t.Fatal(err)
	}
	if !exists(t, fc, df) || !exists(t, fc, cm) {
		t.Fatal("created Kustomizations did not apply")
	}
	if err := fc.Delete(ctx, ks("op", false)); err != nil {
		t.Fatal(err)
	}
	if exists(t, fc, cm) || exists(t, fc, crd) {
		t.Error("deleting a pruning Kustomization left what it applied")
	}
	if exists(t, fc, df) {
		t.Error("deleting the CRD left its Dragonfly")
	}
	if !exists(t, fc, ns) {
		t.Error("the prune-protected namespace was pruned")
	}
	st, _, err := flux.Get(ctx, fc, flux.KustomizationGVK, client.ObjectKey{Namespace: flux.Namespace, Name: "tc"})
	if err != nil || flux.Interpret(st) != flux.Ready {
		t.Errorf("test-cache's Kustomization must stay Ready with its Dragonfly gone: %s %v", st, err)
	}
}
