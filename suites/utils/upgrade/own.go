package upgrade

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/fluxfixture"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
)

// Install is everything the upgrade suite owns: the served tree's Flux
// Kustomizations and GitRepository, the operator bundle they apply, the
// instances' claims and the suite's Git server.
type Install struct {
	// Kustomizations are the tree's, entry point first (it would re-create
	// the others while it exists).
	Kustomizations []string
	// Bundle is the rendered operator bundle; its Namespace is shared
	// (prune-protected) and is never removed.
	Bundle []*unstructured.Unstructured
}

func kustomization(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flux.KustomizationGVK)
	u.SetNamespace(flux.Namespace)
	u.SetName(name)
	return u
}

func gitRepository() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flux.GitRepositoryGVK)
	u.SetNamespace(flux.Namespace)
	u.SetName(fluxfixture.SourceName)
	return u
}

// Present lists, as Kind namespace/name, what of the install exists now.
func (in Install) Present(ctx context.Context, c client.Client) []string {
	var out []string
	for _, o := range in.objects() {
		if _, err := objects.Get(ctx, c, o); err == nil {
			out = append(out, installcheck.Ref(o))
		}
	}
	var pvcs corev1.PersistentVolumeClaimList
	if c.List(ctx, &pvcs, client.InNamespace(fixture.Namespace)) == nil {
		for _, p := range pvcs.Items {
			if claimOfInstance(p.Name) {
				out = append(out, "PersistentVolumeClaim/"+p.Namespace+"/"+p.Name)
			}
		}
	}
	return out
}

func (in Install) objects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, k := range in.Kustomizations {
		out = append(out, kustomization(k))
	}
	out = append(out, gitRepository())
	for _, o := range in.Bundle {
		if o.GetKind() != "Namespace" {
			out = append(out, o)
		}
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(GitServerNamespace)
	return append(out, ns)
}

// claimOfInstance says whether a claim belongs to an instance of the tree
// (a StatefulSet's claims are <template>-<set>-<ordinal>, the operator's
// template is df).
func claimOfInstance(name string) bool {
	for _, i := range fixture.Instances() {
		if strings.HasPrefix(name, "df-"+i.Name+"-") {
			return true
		}
	}
	return false
}

// Remove deletes the install and waits until it is gone: the Kustomizations
// first, entry point first, so Flux prunes what they applied (instances
// included) as it would for a user; then whatever of the bundle is left (an
// install not made through Flux), the GitRepository, the Git server and the
// instances' claims. It returns what was there before.
func (in Install) Remove(ctx context.Context, c client.Client, cs kubernetes.Interface) ([]string, error) {
	present := in.Present(ctx, c)
	var errs []error
	for _, k := range in.Kustomizations {
		_, err := objects.DeleteAndWait(ctx, c, kustomization(k), wait.FluxRestored, " (its finalizer prunes what it applied)")
		if err != nil && !meta.IsNoMatchError(err) {
			errs = append(errs, err)
		}
	}
	rest := in.objects()[len(in.Kustomizations):]
	if err := installcheck.Remove(ctx, c, cs, rest, false); err != nil {
		errs = append(errs, err)
	}
	var pvcs corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &pvcs, client.InNamespace(fixture.Namespace)); err != nil {
		errs = append(errs, err)
	}
	for i := range pvcs.Items {
		p := &pvcs.Items[i]
		if !claimOfInstance(p.Name) {
			continue
		}
		if err := c.Delete(ctx, p, client.PropagationPolicy(metav1.DeletePropagationBackground)); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		key := client.ObjectKeyFromObject(p)
		if _, err := wait.For(ctx, "PersistentVolumeClaim "+key.String()+" to be deleted (after the pod using it terminated)", wait.FluxRestored, func(ctx context.Context) (bool, string, error) {
			err := c.Get(ctx, key, &corev1.PersistentVolumeClaim{})
			return apierrors.IsNotFound(err), fmt.Sprint(err), nil
		}); err != nil {
			errs = append(errs, err)
		}
	}
	return present, errors.Join(errs...)
}
