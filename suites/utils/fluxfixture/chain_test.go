package fluxfixture

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/fluxfake"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
)

const servedRev = "main@sha1:1111111111111111111111111111111111111111"

func u(apiVersion, kind, ns, name string, fields map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind}}
	for k, v := range fields {
		o.Object[k] = v
	}
	o.SetNamespace(ns)
	o.SetName(name)
	return o
}

func fluxKS(name string, spec map[string]any) *unstructured.Unstructured {
	spec["sourceRef"] = map[string]any{"kind": "GitRepository", "name": SourceName}
	return u("kustomize.toolkit.fluxcd.io/v1", "Kustomization", flux.Namespace, name, map[string]any{"spec": spec})
}

// chainModel is the fixtures tree's chain as the fake Flux applies it:
// cluster-apps → dragonfly-operator (the bundle, its CRD included, in the
// prune-protected shared namespace) → test-cache (a Dragonfly).
func chainModel(operatorSpec, testCacheSpec map[string]any) (*fluxfake.Cluster, []*gitops.Kustomization) {
	operatorKS := fluxKS(OperatorKS, operatorSpec)
	testCache := fluxKS(TestCache, testCacheSpec)
	ns := u("v1", "Namespace", "", operator.Namespace, nil)
	ns.SetAnnotations(map[string]string{operator.PruneAnnotation: operator.PruneDisabled})
	crd := u("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "dragonflies.dragonflydb.io", map[string]any{"spec": map[string]any{
		"group": "dragonflydb.io", "names": map[string]any{"kind": "Dragonfly", "plural": "dragonflies"},
		"versions": []any{map[string]any{"name": "v1alpha1"}}}})
	deploy := u("apps/v1", "Deployment", operator.Namespace, OperatorDeployment, nil)
	svc := u("v1", "Service", operator.Namespace, DriftObject, nil)
	df := u("dragonflydb.io/v1alpha1", "Dragonfly", operator.Namespace, TestCache, nil)
	sources := map[string][]*unstructured.Unstructured{
		ClusterApps: {operatorKS, testCache},
		OperatorKS:  {ns, crd, deploy, svc},
		TestCache:   {df},
	}
	order := []*gitops.Kustomization{
		{Name: ClusterApps, Namespace: flux.Namespace, Object: fluxKS(ClusterApps, map[string]any{"interval": "30m", "prune": true}), Objects: sources[ClusterApps]},
		{Name: OperatorKS, Namespace: flux.Namespace, Object: operatorKS, Objects: sources[OperatorKS], Parent: flux.Namespace + "/" + ClusterApps},
		{Name: TestCache, Namespace: flux.Namespace, Object: testCache, Objects: sources[TestCache], Parent: flux.Namespace + "/" + ClusterApps},
	}
	return fluxfake.New(servedRev, sources), order
}

func operatorKSSpec() map[string]any {
	return map[string]any{"interval": "15m", "timeout": "5m", "prune": true}
}

func testCacheKS() map[string]any {
	return map[string]any{"interval": "15m", "timeout": "5m", "prune": true, "wait": true,
		"dependsOn": []any{map[string]any{"name": OperatorKS}}}
}

// setUp is what the tier's BeforeAll does to the cluster: the source and
// the entry point (an existing one, at the same served revision, is left
// as it is, which is what applying it again changes).
func setUp(t *testing.T, ctx context.Context, fc *fluxfake.Cluster) {
	t.Helper()
	src := u("source.toolkit.fluxcd.io/v1", "GitRepository", flux.Namespace, SourceName, map[string]any{"spec": map[string]any{"url": "http://git"}})
	for _, o := range []*unstructured.Unstructured{src, fluxKS(ClusterApps, map[string]any{"interval": "30m", "prune": true})} {
		if _, err := objects.Get(ctx, fc, o); err == nil {
			continue
		}
		if err := fc.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
}

// pruneSpec is what the prune-safety removal spec does: hold cluster-apps,
// delete the operator's Kustomization; its finalizer prunes the bundle, the
// Dragonfly CRD with it, and with the CRD every Dragonfly.
func pruneSpec(t *testing.T, ctx context.Context, fc *fluxfake.Cluster) {
	t.Helper()
	if err := SetSuspend(ctx, fc, KSKey(ClusterApps), true); err != nil {
		t.Fatal(err)
	}
	if err := fc.Delete(ctx, kustomization(OperatorKS)); err != nil {
		t.Fatal(err)
	}
}

// oldRestore is the restore the prune spec had: resume cluster-apps and
// reconcile it with its source, nothing else.
func oldRestore(t *testing.T, ctx context.Context, fc *fluxfake.Cluster) {
	t.Helper()
	if err := SetSuspend(ctx, fc, KSKey(ClusterApps), false); err != nil {
		t.Fatal(err)
	}
	if _, err := flux.ReconcileWithSource(ctx, fc, KSKey(ClusterApps)); err != nil {
		t.Fatal(err)
	}
}

func dragonflyExists(ctx context.Context, fc *fluxfake.Cluster) bool {
	_, err := objects.Get(ctx, fc, u("dragonflydb.io/v1alpha1", "Dragonfly", operator.Namespace, TestCache, nil))
	return err == nil
}

// The planted defect is the old behaviour: the prune spec's removal took
// test-cache's Dragonfly (with the CRD) and the old restore re-created only
// the operator's Kustomization, so test-cache stays Ready at the served
// revision with its Dragonfly gone; the next repetition, serving the same
// commit, saw exactly that and waited 5 minutes for a Dragonfly nothing
// would create. CheckApplied names it at once; RestoreChain re-applies it.
func TestRestoreChainReappliesWhatThePruneTookFromTestCache(t *testing.T) {
	ctx := context.Background()
	fc, order := chainModel(operatorKSSpec(), testCacheKS())
	setUp(t, ctx, fc)
	if !dragonflyExists(ctx, fc) {
		t.Fatal("the model did not apply the chain")
	}
	pruneSpec(t, ctx, fc)
	if dragonflyExists(ctx, fc) {
		t.Fatal("the model must take the Dragonfly with the pruned CRD")
	}
	oldRestore(t, ctx, fc)
	err := flux.CheckApplied(ctx, fc, KSKey(TestCache))
	if err == nil || !strings.Contains(err.Error(), "Kustomization flux-system/test-cache is Ready=True at "+servedRev) ||
		!strings.Contains(err.Error(), "Dragonfly database/test-cache") {
		t.Fatalf("after the old restore the stale-Ready check must name test-cache's missing Dragonfly, got: %v", err)
	}
	if err := RestoreChain(ctx, fc, order, servedRev, nil); err != nil {
		t.Fatalf("RestoreChain: %v", err)
	}
	if !dragonflyExists(ctx, fc) {
		t.Fatal("RestoreChain returned without test-cache's Dragonfly re-applied")
	}
}

// A repetition that starts on the chain the one before left (the old
// behaviour: no removal at the end of the tier) finds test-cache Ready at
// the same served revision and its Dragonfly gone; one that starts after
// Chain.Remove applies everything itself.
func TestRepetitionStartsFromTheChainItCreated(t *testing.T) {
	ctx := context.Background()

	old, _ := chainModel(operatorKSSpec(), testCacheKS())
	setUp(t, ctx, old)
	pruneSpec(t, ctx, old)
	oldRestore(t, ctx, old)
	setUp(t, ctx, old) // repetition 2 on the leftovers
	if _, _, err := flux.WaitReadyAt(ctx, old, KSKey(TestCache), servedRev, 0, nil); err != nil {
		t.Fatalf("the model must show the stale Ready at once: %v", err)
	}
	if err := flux.CheckApplied(ctx, old, KSKey(TestCache)); err == nil || !strings.Contains(err.Error(), "Dragonfly database/test-cache") {
		t.Fatalf("repetition 2 on repetition 1's leftovers: the check must name the missing Dragonfly database/test-cache, got %v", err)
	}

	fc, order := chainModel(operatorKSSpec(), testCacheKS())
	setUp(t, ctx, fc)
	pruneSpec(t, ctx, fc)
	if err := RestoreChain(ctx, fc, order, servedRev, nil); err != nil {
		t.Fatal(err)
	}
	ch := NewChain(order)
	before, err := ch.Remove(ctx, fc)
	if err != nil {
		t.Fatalf("removing repetition 1's chain: %v", err)
	}
	for _, want := range []string{"Kustomization/flux-system/test-cache", "Dragonfly/database/test-cache", "CustomResourceDefinition/dragonflies.dragonflydb.io", "GitRepository/flux-system/flux-system"} {
		if !strings.Contains(strings.Join(before, "\n"), want) {
			t.Errorf("Remove did not report %s among what was there: %v", want, before)
		}
	}
	if left := ch.Present(ctx, fc); len(left) != 0 {
		t.Fatalf("left after Remove: %v", left)
	}
	if _, err := objects.Get(ctx, fc, u("v1", "Namespace", "", operator.Namespace, nil)); err != nil {
		t.Errorf("Remove must keep the prune-protected shared namespace: %v", err)
	}
	setUp(t, ctx, fc) // repetition 2
	for _, k := range order {
		if err := flux.CheckApplied(ctx, fc, KSKey(k.Name)); err != nil {
			t.Errorf("repetition 2 after Remove: %v", err)
		}
	}
	if !dragonflyExists(ctx, fc) {
		t.Error("repetition 2 after Remove has no Dragonfly database/test-cache")
	}
}

// Flux deletes a suspended Kustomization without pruning: Remove resumes it
// first (the suspend spec's cleanup may not have run).
func TestChainRemovePrunesASuspendedKustomization(t *testing.T) {
	t.Setenv("DFE2E_TIMEOUTS", `{"ObjectDeleted":"300ms"}`)
	ctx := context.Background()
	fc, order := chainModel(operatorKSSpec(), testCacheKS())
	setUp(t, ctx, fc)
	if err := SetSuspend(ctx, fc, KSKey(OperatorKS), true); err != nil {
		t.Fatal(err)
	}
	ch := NewChain(order)
	if _, err := ch.Remove(ctx, fc); err != nil {
		t.Fatalf("removing a chain with %s suspended: %v", OperatorKS, err)
	}
	if left := ch.Present(ctx, fc); len(left) != 0 {
		t.Fatalf("left after removing a chain with %s suspended: %v", OperatorKS, left)
	}
	if _, err := objects.Get(ctx, fc, u("apps/v1", "Deployment", operator.Namespace, OperatorDeployment, nil)); err == nil {
		t.Fatal("the operator Deployment of a Kustomization suspended at the removal was left")
	}
}

// The planted defect for Remove's own check: the operator's Kustomization
// without prune leaves the bundle when it is deleted; Remove names it.
func TestChainRemoveNamesWhatFluxDidNotPrune(t *testing.T) {
	t.Setenv("DFE2E_TIMEOUTS", `{"ObjectDeleted":"300ms"}`)
	ctx := context.Background()
	fc, order := chainModel(map[string]any{"interval": "15m", "prune": false}, testCacheKS())
	setUp(t, ctx, fc)
	_, err := NewChain(order).Remove(ctx, fc)
	if err == nil || !strings.Contains(err.Error(), "Flux did not prune them): CustomResourceDefinition/dragonflies.dragonflydb.io, Deployment/database/"+OperatorDeployment) {
		t.Fatalf("Remove must name what a non-pruning Kustomization left, got: %v", err)
	}
}

// On a cluster without Flux (the first repetition) there is nothing to remove.
func TestChainRemoveOnACleanCluster(t *testing.T) {
	ctx := context.Background()
	fc, order := chainModel(operatorKSSpec(), testCacheKS())
	before, err := NewChain(order).Remove(ctx, fc)
	if err != nil || len(before) != 0 {
		t.Fatalf("clean cluster: %v, %v", before, err)
	}
}
