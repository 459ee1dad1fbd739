package objects

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

func claim(ns, name string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

func TestManagedBy(t *testing.T) {
	u := &unstructured.Unstructured{}
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "dfe2e"}, {Manager: "kustomize-controller"}})
	if !ManagedBy(u, "kustomize-controller") || ManagedBy(u, "kubectl") {
		t.Fatal("ManagedBy must match the field managers exactly")
	}
}

func TestDeleteClaimsKeepsOtherPrefixes(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(claim("db", "data-standin-0"), claim("db", "data-standin-1"), claim("db", "df-test-0"), claim("other", "data-standin-0"))
	DeleteClaims(ctx, c, "db", "data-standin-")
	var left corev1.PersistentVolumeClaimList
	if err := c.List(ctx, &left); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range left.Items {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if len(names) != 2 || names[0] != "db/df-test-0" || names[1] != "other/data-standin-0" {
		t.Fatalf("left %v, want db/df-test-0 and other/data-standin-0", names)
	}
}

func TestDeleteAndForgetMissingObject(t *testing.T) {
	// Nothing to delete is not an error and does not wait.
	DeleteAndForget(context.Background(), fakecluster.Client(), claim("db", "gone"))
}

func TestDeleteAndWait(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "cm"}})
	ref := &unstructured.Unstructured{}
	ref.SetAPIVersion("v1")
	ref.SetKind("ConfigMap")
	ref.SetNamespace("db")
	ref.SetName("cm")
	if _, err := DeleteAndWait(ctx, c, ref, wait.ObjectDeleted, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := Get(ctx, c, ref); !apierrors.IsNotFound(err) {
		t.Fatalf("still there after DeleteAndWait: %v", err)
	}
	// Deleting it again is fine: it is gone.
	if _, err := DeleteAndWait(ctx, c, ref, wait.ObjectDeleted, ""); err != nil {
		t.Fatal(err)
	}
}
