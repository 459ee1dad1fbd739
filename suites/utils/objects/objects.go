// Package objects reads, deletes and waits for API objects the way every
// suite does: by reference, bounded by a named timeout.
package objects

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Get reads the live object ref names (kind, namespace, name).
func Get(ctx context.Context, c client.Reader, ref *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GroupVersionKind())
	err := c.Get(ctx, client.ObjectKey{Namespace: ref.GetNamespace(), Name: ref.GetName()}, u)
	return u, err
}

// ManagedBy reports whether field manager m owns fields of the live object.
func ManagedBy(u *unstructured.Unstructured, m string) bool {
	for _, f := range u.GetManagedFields() {
		if f.Manager == m {
			return true
		}
	}
	return false
}

// DeleteAndWait deletes obj and waits (within name) until it is gone; why
// is added to what the wait says it waited for.
func DeleteAndWait(ctx context.Context, c client.Client, obj *unstructured.Unstructured, name wait.Name, why string) (time.Duration, error) {
	if err := c.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	return wait.For(ctx, fmt.Sprintf("%s to be deleted%s", installcheck.Ref(obj), why), name, func(ctx context.Context) (bool, string, error) {
		_, err := Get(ctx, c, obj)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return false, "still present", nil
	})
}

// DeleteAndForget deletes o (foreground) and waits until it is gone. It is
// for teardowns: an object or kind that is not there is already gone, and
// a wait that runs out is left to the next run's teardown.
func DeleteAndForget(ctx context.Context, c client.Client, o client.Object) {
	err := c.Delete(ctx, o, client.PropagationPolicy("Foreground"))
	if apierrors.IsNotFound(err) || (err != nil && strings.Contains(err.Error(), "no matches for kind")) {
		return
	}
	key := client.ObjectKeyFromObject(o)
	_, _ = wait.For(ctx, fmt.Sprintf("%T %s to be deleted", o, key), wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
		err := c.Get(ctx, key, o)
		return apierrors.IsNotFound(err), "", nil
	})
}

// DeleteClaims removes the PVCs in ns whose names start with prefix (a
// StatefulSet leaves its claims behind on purpose).
func DeleteClaims(ctx context.Context, c client.Client, ns, prefix string) {
	var pvcs corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &pvcs, client.InNamespace(ns)); err != nil {
		return
	}
	for i := range pvcs.Items {
		if strings.HasPrefix(pvcs.Items[i].Name, prefix) {
			DeleteAndForget(ctx, c, &pvcs.Items[i])
		}
	}
}
