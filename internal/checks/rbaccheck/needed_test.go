package rbaccheck

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestConfigmapsAreNeededFromV160Only(t *testing.T) {
	has := func(v string) bool {
		for _, p := range NeededFor(v) {
			if p.Resource == "configmaps" {
				return true
			}
		}
		return false
	}
	if has("v1.5.0") || !has("v1.6.0") || !has("v1.6.1") || !has("v1.10.0") {
		t.Fatal("configmaps must be needed from v1.6.0 on, not before")
	}
}

func TestEveryNeededPermissionSaysWhy(t *testing.T) {
	for _, p := range Needed {
		if len(p.Verbs) == 0 || len(p.Reason) < 20 || p.Scope == "" {
			t.Errorf("%s: needs verbs, a scope and a reason", p.Name())
		}
	}
}

func binding(kind, name, saNS string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "op", "namespace": saNS}},
	}}
}

func TestSubjectsInPlaceNamesTheStraySubject(t *testing.T) {
	s := Subject{Namespace: "database", Name: "op"}
	ok := binding("ClusterRoleBinding", "good", "database")
	bad := binding("ClusterRoleBinding", "bad", "dragonfly-operator-system")
	if fs := SubjectsInPlace([]*unstructured.Unstructured{ok}, s); len(fs) != 0 {
		t.Fatalf("relocated binding flagged: %v", fs)
	}
	fs := SubjectsInPlace([]*unstructured.Unstructured{ok, bad}, s)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "ClusterRoleBinding/bad binds subject ServiceAccount dragonfly-operator-system/op") {
		t.Fatalf("want one violation naming the stray subject, got %v", fs)
	}
}

func TestCoveredRespectsScope(t *testing.T) {
	s := Subject{Namespace: "database", Name: "op"}
	lease := grant{group: "coordination.k8s.io", resource: "leases", verb: "get"}
	if covered(lease, s, Needed) {
		t.Error("a cluster-wide lease grant is beyond need (leases are needed in the operator namespace only)")
	}
	lease.namespace = "database"
	if !covered(lease, s, Needed) {
		t.Error("get leases in the operator namespace is needed")
	}
	if covered(grant{group: "apps", resource: "statefulsets", verb: "delete"}, s, Needed) {
		t.Error("delete statefulsets is not in the needed set")
	}
	if !covered(grant{group: "dragonflydb.io", resource: "dragonflies/status", verb: "update"}, s, Needed) {
		t.Error("update dragonflies/status is needed")
	}
}
