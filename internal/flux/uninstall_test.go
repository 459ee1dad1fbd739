package flux

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const testLabel = "dragonfly-e2e.io/run"

var runOwner = Owner{Label: testLabel, Value: "run-1"}

// deleteRecorder records every delete, in order.
type deleteRecorder struct {
	client.Client
	deleted []string
}

func (d *deleteRecorder) Delete(ctx context.Context, o client.Object, opts ...client.DeleteOption) error {
	d.deleted = append(d.deleted, o.GetObjectKind().GroupVersionKind().Kind+" "+o.GetName())
	return d.Client.Delete(ctx, o, opts...)
}

func obj(apiVersion, kind, ns, name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func crd(group, kind string, labels map[string]string) *unstructured.Unstructured {
	u := obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", strings.ToLower(kind)+"s."+group, labels)
	u.Object["spec"] = map[string]any{"group": group, "names": map[string]any{"kind": kind},
		"versions": []any{map[string]any{"name": "v1", "storage": true}}}
	return u
}

var ours = map[string]string{testLabel: "run-1"}

// installed is a small Flux install of run-1: namespace, CRDs, a
// controller, RBAC.
func installed() []*unstructured.Unstructured {
	return []*unstructured.Unstructured{
		obj("v1", "Namespace", "", Namespace, ours),
		crd("source.toolkit.fluxcd.io", "GitRepository", ours),
		crd("kustomize.toolkit.fluxcd.io", "Kustomization", ours),
		obj("apps/v1", "Deployment", Namespace, "kustomize-controller", ours),
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "crd-controller-flux-system", ours),
	}
}

// fakeWithFlux is a fake API server that knows Flux's kinds, holding objs.
func fakeWithFlux(objs ...client.Object) *deleteRecorder {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"},
		{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"},
	} {
		s.AddKnownTypeWithName(gvk, &unstructured.Unstructured{})
		s.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &unstructured.UnstructuredList{})
	}
	return &deleteRecorder{Client: fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()}
}

func asObjects(us []*unstructured.Unstructured, more ...*unstructured.Unstructured) []client.Object {
	var out []client.Object
	for _, u := range append(us, more...) {
		out = append(out, u.DeepCopy())
	}
	return out
}

func exists(t *testing.T, c client.Client, u *unstructured.Unstructured) bool {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := c.Get(context.Background(), client.ObjectKeyFromObject(u), live)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

func TestUninstallRemovesFluxObjectsFirstThenControllersThenCRDsThenTheNamespace(t *testing.T) {
	ks := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "dfe2e-flux", "cluster-apps", ours)
	// Not the run's: an install object that already was there, and a
	// ConfigMap in Flux's namespace.
	theirs := obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "flux-view-flux-system", nil)
	cm := obj("v1", "ConfigMap", Namespace, "users", nil)
	objs := append(installed(), theirs)
	c := fakeWithFlux(asObjects(objs, ks, cm)...)
	removed, err := Uninstall(context.Background(), c, objs, runOwner, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Kustomization cluster-apps", "Deployment kustomize-controller", "ClusterRole crd-controller-flux-system",
		"CustomResourceDefinition gitrepositorys.source.toolkit.fluxcd.io", "CustomResourceDefinition kustomizations.kustomize.toolkit.fluxcd.io", "Namespace " + Namespace}
	if fmt.Sprint(c.deleted) != fmt.Sprint(want) {
		t.Fatalf("deleted in the order\n%v\nwant\n%v", c.deleted, want)
	}
	if len(removed) != len(want) {
		t.Errorf("reported %d removed (%v), want %d", len(removed), removed, len(want))
	}
	if !exists(t, c, theirs) || !exists(t, c, cm) {
		t.Errorf("removed an object the run did not create")
	}
}

// Planted defect: a Kustomization of the run whose finalizer never lets go
// (its controller gone, say) must be named as left, and nothing after it
// (controllers, CRDs) removed.
func TestUninstallNamesAFluxObjectLeftAfterItsRemoval(t *testing.T) {
	t.Setenv("DFE2E_TIMEOUTS", `{"FluxRestored":"300ms"}`)
	ks := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "dfe2e-flux", "stuck-apps", ours)
	ks.SetFinalizers([]string{"finalizers.fluxcd.io"})
	c := fakeWithFlux(asObjects(installed(), ks)...)
	_, err := Uninstall(context.Background(), c, installed(), runOwner, nil)
	if err == nil || !strings.Contains(err.Error(), "Kustomization/dfe2e-flux/stuck-apps") {
		t.Fatalf("want the leftover Kustomization named, got %v", err)
	}
	for _, d := range c.deleted {
		if strings.HasPrefix(d, "CustomResourceDefinition") || strings.HasPrefix(d, "Deployment") {
			t.Errorf("removed %s while a Flux object of the run was left", d)
		}
	}
}

// Planted defect: a GitRepository the run did not create; removing Flux's
// CRDs would delete it, so Flux stays, relabelled, and it is named.
func TestUninstallKeepsFluxWhenObjectsOfOthersUseItAndNamesThem(t *testing.T) {
	repo := obj("source.toolkit.fluxcd.io/v1", "GitRepository", "team-a", "apps", nil)
	c := fakeWithFlux(asObjects(installed(), repo)...)
	_, err := Uninstall(context.Background(), c, installed(), runOwner, nil)
	var fe *ForeignFluxObjectsError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "GitRepository/team-a/apps") {
		t.Fatalf("want ForeignFluxObjectsError naming GitRepository team-a/apps, got %v", err)
	}
	if len(c.deleted) != 0 {
		t.Errorf("deleted %v although Flux must stay", c.deleted)
	}
	for _, u := range installed() {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(u.GroupVersionKind())
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(u), live); err != nil {
			t.Fatal(err)
		}
		if got := live.GetLabels()[testLabel]; got != fe.Kept.Value || got == runOwner.Value {
			t.Errorf("%s labelled %q, want %q (out of the run's cleanup)", u.GetName(), got, fe.Kept.Value)
		}
	}
}

func TestUninstallRefusesWithoutARunID(t *testing.T) {
	if _, err := Uninstall(context.Background(), fakeWithFlux(), installed(), Owner{Label: testLabel}, nil); err == nil {
		t.Fatal("removed Flux with no run id to select by")
	}
}

// On a cluster with its own Flux only the run's Flux objects go; the
// user's Kustomization of the same name in flux-system stays.
func TestRemoveRunObjectsLeavesTheUsersFluxObjects(t *testing.T) {
	mine := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", TierNamespace, "cluster-apps", ours)
	theirs := obj("kustomize.toolkit.fluxcd.io/v1", "Kustomization", Namespace, "cluster-apps", nil)
	repo := obj("source.toolkit.fluxcd.io/v1", "GitRepository", Namespace, "flux-system", nil)
	c := fakeWithFlux(mine, theirs, repo)
	removed, err := RemoveRunObjects(context.Background(), c, []schema.GroupVersionKind{GitRepositoryGVK, KustomizationGVK}, runOwner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(removed) != "[Kustomization/"+TierNamespace+"/cluster-apps]" {
		t.Errorf("removed %v, want only the run's Kustomization", removed)
	}
	if exists(t, c, mine) || !exists(t, c, theirs) || !exists(t, c, repo) {
		t.Errorf("want the run's Kustomization gone and the user's objects kept")
	}
}
