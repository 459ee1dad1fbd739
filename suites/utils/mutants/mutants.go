// Package mutants builds the planted defects of the API-level self-tests.
// Each builder returns objects to apply on top of (or beside) the normal
// install, with its own namespace and cluster-scoped names, so the normal
// specs never see it — except the old-namespace mutant, which must use
// dragonfly-operator-system itself and is removed right after its self-test.
package mutants

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// SelftestLabel marks namespaces and webhook selectors of self-tests.
const SelftestLabel = "dfe2e.io/selftest"

// Isolate copies the bundle's RBAC and ServiceAccount into namespace ns,
// prefixing cluster-scoped names with ns+"-" (and the roleRefs that name
// them), so a mutant can be applied next to the real install. The CRD and
// the Deployment/Service are left out: they add nothing to RBAC checks.
func Isolate(objs []*unstructured.Unstructured, ns string) []*unstructured.Unstructured {
	prefix := ns + "-"
	var out []*unstructured.Unstructured
	for _, o := range objs {
		u := o.DeepCopy()
		switch u.GetKind() {
		case "Namespace":
			u.SetName(ns)
			u.SetAnnotations(nil)
			u.SetLabels(map[string]string{SelftestLabel: ns})
		case "ServiceAccount", "Role":
			u.SetNamespace(ns)
		case "RoleBinding":
			u.SetNamespace(ns)
			moveSubjects(u, operator.Namespace, ns)
		case "ClusterRole":
			u.SetName(prefix + u.GetName())
		case "ClusterRoleBinding":
			u.SetName(prefix + u.GetName())
			ref, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
			_ = unstructured.SetNestedField(u.Object, prefix+ref, "roleRef", "name")
			moveSubjects(u, operator.Namespace, ns)
		default:
			continue
		}
		out = append(out, u)
	}
	return out
}

func moveSubjects(u *unstructured.Unstructured, from, to string) {
	subs, _, _ := unstructured.NestedSlice(u.Object, "subjects")
	for _, s := range subs {
		if m, ok := s.(map[string]any); ok && m["namespace"] == from {
			m["namespace"] = to
		}
	}
	_ = unstructured.SetNestedSlice(u.Object, subs, "subjects")
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// OldRBAC is the GitOps upgrade that bumped the operator image to
// v1.6.x but kept the v1.5.0 manager ClusterRole (no configmaps): the
// isolated v1.6.x RBAC with the manager role's rules taken from v1.5.0.
func OldRBAC(current, v150 []*unstructured.Unstructured, ns string) ([]*unstructured.Unstructured, error) {
	objs := Isolate(current, ns)
	old := find(v150, "ClusterRole", operator.ManagerClusterRoleName)
	role := find(objs, "ClusterRole", ns+"-"+operator.ManagerClusterRoleName)
	if old == nil || role == nil {
		return nil, fmt.Errorf("OldRBAC: ClusterRole %s missing from a bundle", operator.ManagerClusterRoleName)
	}
	role.Object["rules"] = old.DeepCopy().Object["rules"]
	return objs, nil
}

// SubjectLeftBehind is a relocation that moved the ServiceAccount but
// left the ClusterRoleBindings' subjects in dragonfly-operator-system.
func SubjectLeftBehind(current []*unstructured.Unstructured, ns string) []*unstructured.Unstructured {
	objs := Isolate(current, ns)
	for _, o := range objs {
		if o.GetKind() == "ClusterRoleBinding" {
			moveSubjects(o, ns, operator.UpstreamNamespace)
		}
	}
	return objs
}

// OldNamespaceKept is a relocation that still ships the upstream
// Namespace and applies the ServiceAccount and leader-election RBAC into it
// (kustomize `namespace:` missing from one overlay).
func OldNamespaceKept(current []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range current {
		u := o.DeepCopy()
		switch u.GetKind() {
		case "Namespace":
			u.SetName(operator.UpstreamNamespace)
			u.SetAnnotations(nil)
		case "ServiceAccount", "Role", "RoleBinding":
			u.SetNamespace(operator.UpstreamNamespace)
		default:
			continue
		}
		out = append(out, u)
	}
	return out
}

// webhookConfig is a ValidatingWebhookConfiguration for Dragonfly objects
// calling Service svcNS/svcName, limited to namespaces labelled for self-test
// sel so that it cannot touch the normal specs.
func webhookConfig(name, svcNS, svcName, sel string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "admissionregistration.k8s.io/v1",
		"kind":       "ValidatingWebhookConfiguration",
		"metadata":   map[string]any{"name": name},
		"webhooks": []any{map[string]any{
			"name":                    "vdragonfly.dragonflydb.io",
			"admissionReviewVersions": []any{"v1"},
			"sideEffects":             "None",
			"failurePolicy":           "Fail",
			"timeoutSeconds":          int64(3),
			"clientConfig": map[string]any{"service": map[string]any{
				"namespace": svcNS, "name": svcName, "path": "/validate-dragonflydb-io-v1alpha1-dragonfly",
			}},
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{SelftestLabel: sel}},
			"rules": []any{map[string]any{
				"apiGroups": []any{dfapi.Group}, "apiVersions": []any{dfapi.Version},
				"operations": []any{"CREATE", "UPDATE"}, "resources": []any{"dragonflies"},
			}},
		}},
	}}
	return u
}

// WebhookOldNamespace is a bundle carrying a webhook whose service
// reference was not relocated: it still calls dragonfly-operator-system.
func WebhookOldNamespace(sel string) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{webhookConfig(sel+"-"+"dragonfly-operator-validating-webhook-configuration",
		operator.UpstreamNamespace, "dragonfly-operator-webhook-service", sel)}
}

// WebhookNoBackend is a relocated webhook (service in database) that
// nothing serves: the check must see that it does not answer.
func WebhookNoBackend(sel string) []*unstructured.Unstructured {
	return []*unstructured.Unstructured{webhookConfig(sel+"-"+"dragonfly-operator-validating-webhook-configuration",
		operator.Namespace, "dragonfly-operator-webhook-service", sel)}
}

// SelftestNamespace is a labelled Namespace for a self-test.
func SelftestNamespace(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	u.SetName(name)
	u.SetLabels(map[string]string{SelftestLabel: name})
	return u
}

// PermissiveGroup is the API group the permissive-schema mutant CRD is moved
// to, so that it cannot change how real Dragonfly objects are admitted.
const PermissiveGroup = "selftest.dfe2e.io"

// PermissiveCRD is the Dragonfly CRD with its pdb CEL rule dropped and
// unknown spec fields preserved — what a hand-edited or pre-structural CRD
// admits. Moved to group selftest.dfe2e.io.
func PermissiveCRD(current []*unstructured.Unstructured) (*unstructured.Unstructured, error) {
	crd := find(current, "CustomResourceDefinition", operator.CRDName)
	if crd == nil {
		return nil, fmt.Errorf("PermissiveCRD: no CRD %s in the bundle", operator.CRDName)
	}
	u := crd.DeepCopy()
	u.SetName("dragonflies." + PermissiveGroup)
	u.SetAnnotations(nil)
	_ = unstructured.SetNestedField(u.Object, PermissiveGroup, "spec", "group")
	versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
	for _, v := range versions {
		vm := v.(map[string]any)
		spec, ok, _ := unstructured.NestedMap(vm, "schema", "openAPIV3Schema", "properties", "spec")
		if !ok {
			return nil, fmt.Errorf("PermissiveCRD: version %v has no spec schema", vm["name"])
		}
		spec["x-kubernetes-preserve-unknown-fields"] = true
		if pdb, ok := spec["properties"].(map[string]any)["pdb"].(map[string]any); ok {
			delete(pdb, "x-kubernetes-validations")
		}
		_ = unstructured.SetNestedMap(vm, spec, "schema", "openAPIV3Schema", "properties", "spec")
	}
	_ = unstructured.SetNestedSlice(u.Object, versions, "spec", "versions")
	return u, nil
}
