package fluxfixture

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
)

// DefectKustomizations are the planted-defect Kustomizations the tier's
// specs apply (each removes its own; a run cut short may leave one).
var DefectKustomizations = []string{"dfe2e-defect-healthcheck", "dfe2e-defect-dependson", "dfe2e-defect-path", "dfe2e-defect-prune"}

// Chain is what the Flux tier creates on a cluster: the tree's Flux
// Kustomizations and what they apply, the GitRepository, the Git server's
// namespace and the neighbour tenant. Each repetition of the tier removes a
// Chain left before it and its own at the end, through Flux, so that it
// starts from a state it created itself.
type Chain struct {
	// Kustomizations are the tree's in chain order (entry point first: it
	// would re-create the others while it exists), then the planted-defect ones.
	Kustomizations []string
}

// NewChain is the Chain of a rendered tree in chain order (flux.ChainOrder).
func NewChain(order []*gitops.Kustomization) Chain {
	var ch Chain
	for _, k := range order {
		ch.Kustomizations = append(ch.Kustomizations, k.Name)
	}
	ch.Kustomizations = append(ch.Kustomizations, DefectKustomizations...)
	return ch
}

func kustomization(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flux.KustomizationGVK)
	u.SetNamespace(Namespace)
	u.SetName(name)
	return u
}

// rest is what is not Flux's to prune: the source, the Git server and the
// neighbour tenant the prune-safety specs plant (and the fixture's own
// namespace, when it has one).
func rest() []*unstructured.Unstructured {
	src := &unstructured.Unstructured{}
	src.SetGroupVersionKind(flux.GitRepositoryGVK)
	src.SetNamespace(Namespace)
	src.SetName(SourceName)
	tenant := &unstructured.Unstructured{}
	tenant.SetAPIVersion("v1")
	tenant.SetKind("ConfigMap")
	tenant.SetNamespace(operator.Namespace)
	tenant.SetName(NeighbourTenant)
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(GitServerNamespace)
	out := []*unstructured.Unstructured{src, tenant, ns}
	if Namespace != flux.Namespace {
		// The fixture's own namespace beside a Flux that is not the run's.
		own := &unstructured.Unstructured{}
		own.SetAPIVersion("v1")
		own.SetKind("Namespace")
		own.SetName(Namespace)
		out = append(out, own)
	}
	return out
}

// applied is what the Chain's Kustomizations that exist now applied (their
// inventories), as Flux would prune it: prune-protected objects left out.
func (ch Chain) applied(ctx context.Context, c client.Client) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	seen := map[string]bool{}
	for _, k := range ch.Kustomizations {
		_, live, err := flux.Get(ctx, c, flux.KustomizationGVK, KSKey(k))
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading Kustomization %s: %w", KSKey(k), err)
		}
		refs, err := flux.Inventory(live)
		if err != nil {
			return nil, err
		}
		for _, r := range refs {
			o := &unstructured.Unstructured{}
			o.SetGroupVersionKind(r.GVK)
			o.SetNamespace(r.Namespace)
			o.SetName(r.Name)
			got := &unstructured.Unstructured{}
			got.SetGroupVersionKind(r.GVK)
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), got); err == nil && got.GetAnnotations()[operator.PruneAnnotation] == operator.PruneDisabled {
				continue
			}
			if r.GVK == flux.KustomizationGVK || seen[r.String()] {
				continue // a Kustomization of the chain is removed on its own
			}
			seen[r.String()] = true
			out = append(out, o)
		}
	}
	return out, nil
}

// Present lists, as Kind namespace/name, what of the Chain exists now.
func (ch Chain) Present(ctx context.Context, c client.Client) []string {
	objs := []*unstructured.Unstructured{}
	for _, k := range ch.Kustomizations {
		objs = append(objs, kustomization(k))
	}
	applied, _ := ch.applied(ctx, c)
	objs = append(append(objs, applied...), rest()...)
	var out []string
	for _, o := range objs {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err == nil {
			out = append(out, installcheck.Ref(o))
		}
	}
	return out
}

// Remove deletes the Chain through Flux and waits until it is gone: every
// Kustomization is resumed (Flux deletes a suspended one without pruning),
// then deleted entry point first and waited for, so its finalizer prunes
// what it applied; what their inventories listed must then disappear (an
// object that outlives them is named: Flux did not prune it). The
// GitRepository, the Git server and the neighbour tenant go last. It
// returns what was there before.
func (ch Chain) Remove(ctx context.Context, c client.Client) ([]string, error) {
	present := ch.Present(ctx, c)
	applied, err := ch.applied(ctx, c)
	if err != nil {
		return present, err
	}
	var errs []error
	for _, k := range ch.Kustomizations {
		st, _, err := flux.Get(ctx, c, flux.KustomizationGVK, KSKey(k))
		if err == nil && st.Suspended {
			if err := SetSuspend(ctx, c, KSKey(k), false); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("resuming Kustomization %s so that its removal prunes: %w", KSKey(k), err))
			}
		}
	}
	for _, k := range ch.Kustomizations {
		_, err := objects.DeleteAndWait(ctx, c, kustomization(k), wait.FluxRestored, " (its finalizer prunes what it applied)")
		if err != nil && !meta.IsNoMatchError(err) {
			errs = append(errs, err)
		}
	}
	var left []string
	_, err = wait.For(ctx, fmt.Sprintf("the %d objects the Flux tier's Kustomizations applied to be pruned", len(applied)), wait.ObjectDeleted,
		func(ctx context.Context) (bool, string, error) {
			left = left[:0]
			for _, o := range applied {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(o.GroupVersionKind())
				err := c.Get(ctx, client.ObjectKeyFromObject(o), live)
				if err == nil || !(apierrors.IsNotFound(err) || meta.IsNoMatchError(err)) {
					left = append(left, installcheck.Ref(o))
				}
			}
			return len(left) == 0, "left after their Kustomizations were removed (Flux did not prune them): " + strings.Join(left, ", "), nil
		})
	if err != nil {
		errs = append(errs, err)
	}
	// No namespace finalizing: the Flux tier runs only on clusters with a
	// namespace controller.
	if err := installcheck.Remove(ctx, c, nil, rest(), false); err != nil {
		errs = append(errs, err)
	}
	return present, errors.Join(errs...)
}

// RestoreChain brings the chain back after a spec removed part of it: the
// entry point is resumed and reconciled with its source, then every other
// Kustomization of order is asked to reconcile and must apply revision, be
// Ready and have everything it applied present. Flux alone would re-apply
// what a removal pruned from a Kustomization that stayed (a Dragonfly whose
// CRD went with the operator) only at that Kustomization's next interval.
func RestoreChain(ctx context.Context, c client.Client, order []*gitops.Kustomization, revision string, check func(context.Context, *gitops.Kustomization) error) error {
	if len(order) == 0 {
		return fmt.Errorf("no chain to restore")
	}
	entry := KSKey(order[0].Name)
	if err := SetSuspend(ctx, c, entry, false); err != nil {
		return fmt.Errorf("resuming %s: %w", entry, err)
	}
	if _, err := flux.ReconcileWithSource(ctx, c, entry); err != nil {
		return err
	}
	for _, k := range order {
		if k != order[0] {
			var chk func(context.Context) error
			if check != nil {
				k := k
				chk = func(ctx context.Context) error { return check(ctx, k) }
			}
			if _, _, err := flux.WaitApplied(ctx, c, KSKey(k.Name), revision, KSTimeout(k), chk); err != nil {
				return err
			}
		}
		if err := flux.CheckApplied(ctx, c, KSKey(k.Name)); err != nil {
			return err
		}
	}
	return nil
}
