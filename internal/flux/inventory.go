package flux

import (
	"context"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// InventoryRef is one object a Kustomization applied, as its
// status.inventory lists it.
type InventoryRef struct {
	GVK             schema.GroupVersionKind
	Namespace, Name string
}

func (r InventoryRef) String() string {
	if r.Namespace == "" {
		return r.GVK.Kind + " " + r.Name
	}
	return r.GVK.Kind + " " + r.Namespace + "/" + r.Name
}

// Inventory reads a Kustomization's status.inventory: entries of id
// "<namespace>_<name>_<group>_<kind>" and version v.
func Inventory(u *unstructured.Unstructured) ([]InventoryRef, error) {
	entries, _, err := unstructured.NestedSlice(u.Object, "status", "inventory", "entries")
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: status.inventory.entries: %w", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
	var out []InventoryRef
	for _, e := range entries {
		m, _ := e.(map[string]any)
		id, _ := m["id"].(string)
		v, _ := m["v"].(string)
		// Names and namespaces hold no "_"; a group may be empty (core).
		f := strings.Split(id, "_")
		if len(f) != 4 || f[1] == "" || f[3] == "" || v == "" {
			return nil, fmt.Errorf("%s %s/%s: inventory entry %q (v %q) is not <namespace>_<name>_<group>_<kind>", u.GetKind(), u.GetNamespace(), u.GetName(), id, v)
		}
		out = append(out, InventoryRef{GVK: schema.GroupVersionKind{Group: f[2], Version: v, Kind: f[3]}, Namespace: f[0], Name: f[1]})
	}
	return out, nil
}

// CheckApplied fails when Kustomization key is Ready but an object its
// inventory lists does not exist: Flux re-applies an object deleted behind
// its back only at its next reconcile (its interval, a new source revision
// or a request), and until then Ready=True speaks about a state that is gone.
func CheckApplied(ctx context.Context, c client.Reader, key client.ObjectKey) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(KustomizationGVK)
	if err := c.Get(ctx, key, u); err != nil {
		return fmt.Errorf("reading Kustomization %s: %w", key, err)
	}
	refs, err := Inventory(u)
	if err != nil {
		return err
	}
	var missing []string
	for _, r := range refs {
		o := &unstructured.Unstructured{}
		o.SetGroupVersionKind(r.GVK)
		err := c.Get(ctx, client.ObjectKey{Namespace: r.Namespace, Name: r.Name}, o)
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			missing = append(missing, r.String())
		case err != nil:
			return fmt.Errorf("reading %s of Kustomization %s's inventory: %w", r, key, err)
		case o.GetDeletionTimestamp() != nil:
			missing = append(missing, r.String()+" (being deleted)")
		}
	}
	if len(missing) == 0 {
		return nil
	}
	st := ParseStatus(u)
	interval, _, _ := unstructured.NestedString(u.Object, "spec", "interval")
	return fmt.Errorf("Kustomization %s is Ready=%s at %s but %d object(s) it applied do not exist: %s (deleted behind Flux's back; Flux re-applies them only at its next reconcile, interval %s)",
		key, st.Ready, st.LastAppliedRevision, len(missing), strings.Join(missing, ", "), interval)
}

// WaitReadyAt waits (within timeout) until Kustomization key applied
// revision and is Ready, without asking it to reconcile: a Ready status
// about another revision is not enough. A failure of that revision ends the
// wait at once with Flux's verdict; check, when set, runs on each poll.
func WaitReadyAt(ctx context.Context, c client.Client, key client.ObjectKey, revision string, timeout time.Duration, check func(context.Context) error) (Status, time.Duration, error) {
	return waitOutcome(ctx, c, KustomizationGVK, key, fmt.Sprintf("Kustomization %s to apply %s and be Ready", key, revision), timeout,
		func(st Status) Outcome { return AppliedOutcome(st, revision) }, check)
}
