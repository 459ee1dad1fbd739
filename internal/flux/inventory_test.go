package flux_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/fluxfake"
)

const rev = "main@sha1:0123456789abcdef0123456789abcdef01234567"

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func kustomization(name string, spec map[string]any) *unstructured.Unstructured {
	u := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", flux.Namespace, name)
	u.Object["spec"] = spec
	return u
}

func TestInventory(t *testing.T) {
	ks := kustomization("test-cache", nil)
	_ = unstructured.SetNestedSlice(ks.Object, []any{
		map[string]any{"id": "database_test-cache_dragonflydb.io_Dragonfly", "v": "v1alpha1"},
		map[string]any{"id": "_dragonflies.dragonflydb.io_apiextensions.k8s.io_CustomResourceDefinition", "v": "v1"},
		map[string]any{"id": "database_test-db__ConfigMap", "v": "v1"},
	}, "status", "inventory", "entries")
	refs, err := flux.Inventory(ks)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range refs {
		got = append(got, r.String()+" "+r.GVK.GroupVersion().String())
	}
	want := "Dragonfly database/test-cache dragonflydb.io/v1alpha1|CustomResourceDefinition dragonflies.dragonflydb.io apiextensions.k8s.io/v1|ConfigMap database/test-db v1"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q\nwant %q", strings.Join(got, "|"), want)
	}
	_ = unstructured.SetNestedSlice(ks.Object, []any{map[string]any{"id": "database_test-cache", "v": "v1"}}, "status", "inventory", "entries")
	if _, err := flux.Inventory(ks); err == nil || !strings.Contains(err.Error(), `"database_test-cache"`) {
		t.Errorf("a malformed entry: %v", err)
	}
}

// The stale-Ready defect: an object a Ready Kustomization applied is deleted
// behind Flux's back; Flux keeps reporting Ready until its next reconcile.
func TestCheckAppliedNamesAnObjectDeletedBehindFlux(t *testing.T) {
	ctx := context.Background()
	df := obj("dragonflydb.io/v1alpha1", "Dragonfly", "database", "test-cache")
	fc := fluxfake.New(rev, map[string][]*unstructured.Unstructured{"test-cache": {df}})
	key := client.ObjectKey{Namespace: flux.Namespace, Name: "test-cache"}
	if err := fc.Create(ctx, kustomization("test-cache", map[string]any{"prune": true, "interval": "15m"})); err != nil {
		t.Fatal(err)
	}
	if err := flux.CheckApplied(ctx, fc, key); err != nil {
		t.Fatalf("freshly applied: %v", err)
	}
	if err := fc.DeleteBehindFlux(ctx, df.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	st, _, err := flux.Get(ctx, fc, flux.KustomizationGVK, key)
	if err != nil || flux.Interpret(st) != flux.Ready || st.LastAppliedRevision != rev {
		t.Fatalf("the model must keep it Ready at %s: %s %v", rev, st, err)
	}
	err = flux.CheckApplied(ctx, fc, key)
	for _, want := range []string{"Kustomization flux-system/test-cache is Ready=True at " + rev, "Dragonfly database/test-cache", "interval 15m"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckApplied after the deletion: %v; want it to name %q", err, want)
		}
	}
	if _, err := flux.RequestReconcile(ctx, fc, flux.KustomizationGVK, key); err != nil {
		t.Fatal(err)
	}
	if err := flux.CheckApplied(ctx, fc, key); err != nil {
		t.Errorf("after a reconcile re-applied it: %v", err)
	}
}

func TestWaitReadyAtWantsTheRevision(t *testing.T) {
	ctx := context.Background()
	fc := fluxfake.New(rev, map[string][]*unstructured.Unstructured{"k": {obj("v1", "ConfigMap", "default", "c")}})
	if err := fc.Create(ctx, kustomization("k", map[string]any{"prune": true})); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: flux.Namespace, Name: "k"}
	if _, _, err := flux.WaitReadyAt(ctx, fc, key, rev, time.Second, nil); err != nil {
		t.Errorf("Ready at %s: %v", rev, err)
	}
	other := "main@sha1:ffffffffffffffffffffffffffffffffffffffff"
	_, _, err := flux.WaitReadyAt(ctx, fc, key, other, 300*time.Millisecond, nil)
	if err == nil || !strings.Contains(err.Error(), "to apply "+other) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("Ready at another revision must not do: %v", err)
	}
}
