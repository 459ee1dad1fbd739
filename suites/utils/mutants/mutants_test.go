package mutants

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// bundle is a small relocated bundle: what the mutants read of the real one.
const bundle = `
apiVersion: v1
kind: Namespace
metadata: {name: database, annotations: {kustomize.toolkit.fluxcd.io/prune: disabled}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: dragonfly-operator-controller-manager, namespace: database}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: dragonfly-operator-leader-election-role, namespace: database}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: dragonfly-operator-leader-election-rolebinding, namespace: database}
subjects: [{kind: ServiceAccount, name: dragonfly-operator-controller-manager, namespace: database}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: dragonfly-operator-manager-role}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dragonfly-operator-manager-rolebinding}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: dragonfly-operator-manager-role}
subjects: [{kind: ServiceAccount, name: dragonfly-operator-controller-manager, namespace: database}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: dragonfly-operator-controller-manager, namespace: database}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: dragonflies.dragonflydb.io, annotations: {a: b}}
spec:
  group: dragonflydb.io
  versions:
  - name: v1alpha1
    schema:
      openAPIV3Schema:
        properties:
          spec:
            properties:
              pdb:
                type: object
                x-kubernetes-validations: [{rule: "!(has(self.minAvailable) && has(self.maxUnavailable))"}]
`

func parse(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, d := range strings.Split(docs, "\n---\n") {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out
}

func subjectNamespaces(u *unstructured.Unstructured) []string {
	subs, _, _ := unstructured.NestedSlice(u.Object, "subjects")
	var out []string
	for _, s := range subs {
		out = append(out, s.(map[string]any)["namespace"].(string))
	}
	return out
}

func TestIsolateMovesRBACAsideAndLeavesTheOriginal(t *testing.T) {
	objs := parse(t, bundle)
	got := Isolate(objs, "dfe2e-x")
	kinds := map[string]*unstructured.Unstructured{}
	for _, u := range got {
		kinds[u.GetKind()] = u
	}
	if len(got) != 6 || kinds["Deployment"] != nil || kinds["CustomResourceDefinition"] != nil {
		t.Fatalf("Isolate keeps the Namespace, SA and RBAC only, got %d objects", len(got))
	}
	if ns := kinds["Namespace"]; ns.GetName() != "dfe2e-x" || ns.GetLabels()[SelftestLabel] != "dfe2e-x" || ns.GetAnnotations() != nil {
		t.Errorf("Namespace: %v", ns.Object["metadata"])
	}
	if kinds["ServiceAccount"].GetNamespace() != "dfe2e-x" || kinds["Role"].GetNamespace() != "dfe2e-x" {
		t.Error("namespaced objects must move")
	}
	crb := kinds["ClusterRoleBinding"]
	ref, _, _ := unstructured.NestedString(crb.Object, "roleRef", "name")
	if crb.GetName() != "dfe2e-x-dragonfly-operator-manager-rolebinding" || ref != "dfe2e-x-dragonfly-operator-manager-role" {
		t.Errorf("cluster-scoped names and roleRef must be prefixed: %s → %s", crb.GetName(), ref)
	}
	if ns := subjectNamespaces(crb); ns[0] != "dfe2e-x" {
		t.Errorf("subjects must move: %v", ns)
	}
	if objs[1].GetNamespace() != operator.Namespace || subjectNamespaces(objs[5])[0] != operator.Namespace {
		t.Error("Isolate changed the bundle it was given")
	}
}

func TestSubjectLeftBehind(t *testing.T) {
	for _, u := range SubjectLeftBehind(parse(t, bundle), "dfe2e-s") {
		switch u.GetKind() {
		case "ClusterRoleBinding":
			if ns := subjectNamespaces(u); ns[0] != operator.UpstreamNamespace {
				t.Errorf("ClusterRoleBinding subject in %v, want %s", ns, operator.UpstreamNamespace)
			}
		case "RoleBinding":
			if ns := subjectNamespaces(u); ns[0] != "dfe2e-s" {
				t.Errorf("RoleBinding subject in %v, want it isolated", ns)
			}
		}
	}
}

func TestOldRBACTakesTheOldManagerRules(t *testing.T) {
	v150 := parse(t, strings.Replace(bundle, "resources: [configmaps]", "resources: [pods]", 1))
	got, err := OldRBAC(parse(t, bundle), v150, "dfe2e-o")
	if err != nil {
		t.Fatal(err)
	}
	role := find(got, "ClusterRole", "dfe2e-o-"+operator.ManagerClusterRoleName)
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	if res := rules[0].(map[string]any)["resources"].([]any); res[0] != "pods" {
		t.Fatalf("manager role rules not taken from v1.5.0: %v", rules)
	}
	if _, err := OldRBAC(parse(t, bundle), nil, "dfe2e-o"); err == nil || !strings.Contains(err.Error(), operator.ManagerClusterRoleName) {
		t.Fatalf("a bundle without the manager role must be named: %v", err)
	}
}

func TestOldNamespaceKept(t *testing.T) {
	got := OldNamespaceKept(parse(t, bundle))
	if len(got) != 4 {
		t.Fatalf("want Namespace, SA, Role, RoleBinding; got %d", len(got))
	}
	for _, u := range got {
		if u.GetKind() == "Namespace" && u.GetName() != operator.UpstreamNamespace || u.GetKind() != "Namespace" && u.GetNamespace() != operator.UpstreamNamespace {
			t.Errorf("%s %s/%s not in %s", u.GetKind(), u.GetNamespace(), u.GetName(), operator.UpstreamNamespace)
		}
	}
}

func TestWebhooksAreScopedToTheirSelftest(t *testing.T) {
	for want, u := range map[string]*unstructured.Unstructured{
		operator.UpstreamNamespace: WebhookOldNamespace("sel")[0],
		operator.Namespace:         WebhookNoBackend("sel")[0],
	} {
		wh, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
		w := wh[0].(map[string]any)
		ns, _, _ := unstructured.NestedString(w, "clientConfig", "service", "namespace")
		sel, _, _ := unstructured.NestedString(w, "namespaceSelector", "matchLabels", SelftestLabel)
		if ns != want || sel != "sel" || !strings.HasPrefix(u.GetName(), "sel-") {
			t.Errorf("%s: service namespace %q (want %q), selector %q", u.GetName(), ns, want, sel)
		}
	}
	if n := SelftestNamespace("sel"); n.GetName() != "sel" || n.GetLabels()[SelftestLabel] != "sel" {
		t.Errorf("SelftestNamespace: %v", n.Object)
	}
}

func TestPermissiveCRD(t *testing.T) {
	crd, err := PermissiveCRD(parse(t, bundle))
	if err != nil {
		t.Fatal(err)
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	if crd.GetName() != "dragonflies."+PermissiveGroup || group != PermissiveGroup || crd.GetAnnotations() != nil {
		t.Fatalf("not moved to %s: %s %s", PermissiveGroup, crd.GetName(), group)
	}
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	spec, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", "spec")
	if spec["x-kubernetes-preserve-unknown-fields"] != true {
		t.Error("unknown fields must be preserved")
	}
	if _, ok := spec["properties"].(map[string]any)["pdb"].(map[string]any)["x-kubernetes-validations"]; ok {
		t.Error("the pdb CEL rule must be gone")
	}
	if _, err := PermissiveCRD(nil); err == nil {
		t.Error("a bundle without the CRD must fail")
	}
}
