package installcheck

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

func obj(kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind}}
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

var expect = Expect{Namespace: "database", OldNamespace: "dragonfly-operator-system"}

func mapper() meta.RESTMapper {
	m := meta.NewDefaultRESTMapper(nil)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ServiceAccount"}, meta.RESTScopeNamespace)
	m.Add(schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, meta.RESTScopeNamespace)
	return m
}

func TestCheckPassesOnARelocatedInstall(t *testing.T) {
	objs := []*unstructured.Unstructured{obj("Namespace", "", "database"), obj("ServiceAccount", "database", "op")}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithRESTMapper(mapper()).WithObjects(objs[0].DeepCopy(), objs[1].DeepCopy()).Build()
	fs, err := Check(t.Context(), c, objs, expect)
	if err != nil || len(finding.Violations(fs)) != 0 {
		t.Fatalf("want no violations, got %v %v", fs, err)
	}
}

func TestCheckNamesMissingObjectsAndTheOldNamespace(t *testing.T) {
	objs := []*unstructured.Unstructured{
		obj("Namespace", "", "database"),
		obj("Namespace", "", "dragonfly-operator-system"),
		obj("ServiceAccount", "dragonfly-operator-system", "op"),
		obj("ConfigMap", "database", "never-applied"),
	}
	c := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithRESTMapper(mapper()).WithObjects(objs[0].DeepCopy(), objs[1].DeepCopy(), objs[2].DeepCopy()).Build()
	fs, err := Check(t.Context(), c, objs, expect)
	if err != nil {
		t.Fatal(err)
	}
	msgs := finding.Lines(finding.Violations(fs))
	for _, want := range []string{
		"the bundle still carries the upstream Namespace dragonfly-operator-system",
		`ServiceAccount/dragonfly-operator-system/op: rendered into namespace "dragonfly-operator-system", not "database"`,
		"the upstream namespace dragonfly-operator-system exists on the API server",
		"ServiceAccount/dragonfly-operator-system/op: object left in the upstream namespace",
		"ConfigMap/database/never-applied: rendered by the bundle but not present",
	} {
		if !strings.Contains(msgs, want) {
			t.Errorf("violations lack %q:\n%s", want, msgs)
		}
	}
}
