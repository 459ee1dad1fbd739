package lint

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// TenantExample is the other tenant of the shared namespace named in findings.
const TenantExample = "the CloudNativePG database test-db"

func init() {
	register(Rule{
		ID:          "DFE001",
		Name:        "objects-in-database",
		Description: "Every namespaced object rendered by an app Kustomization of the database apps (path under apps/database/, or rendering the operator or a Dragonfly) is in namespace `database`.",
		Remediation: "Set metadata.namespace: database (or `namespace: database` in the app's kustomization.yaml, or spec.targetNamespace on the Flux Kustomization).",
		check:       checkObjectsInDatabase,
	})
	register(Rule{
		ID:          "DFE002",
		Name:        "no-upstream-namespace",
		Description: "No rendered object (binding subjects, env, args, webhook service refs, the Namespace itself: every string is walked) still refers to `dragonfly-operator-system`.",
		Remediation: "Relocate the whole bundle to database (the bundled operator/kustomize does); drop the upstream Namespace object and patch every field that names it.",
		check:       checkNoUpstreamNamespace,
	})
	register(Rule{
		ID:          "DFE003",
		Name:        "healthcheck-target-rendered",
		Description: "Every spec.healthChecks entry of a Flux Kustomization names an object that the tree renders (apiVersion group, kind, namespace, name).",
		Remediation: "Point the healthCheck at an object the tree renders; the operator Deployment is dragonfly-operator-controller-manager in database.",
		check:       checkHealthChecks,
	})
	register(Rule{
		ID:          "DFE004",
		Name:        "dependson-target-rendered",
		Description: "Every spec.dependsOn entry of a Flux Kustomization names a Flux Kustomization that the tree renders.",
		Remediation: "Fix the name/namespace in dependsOn, or add the missing Kustomization to the namespace's kustomization.yaml.",
		check:       checkDependsOn,
	})
	register(Rule{
		ID:          "DFE005",
		Name:        "kustomization-path-exists",
		Description: "Every Flux Kustomization's spec.path is a directory of the repository.",
		Remediation: "Fix spec.path (relative to the repository root, e.g. ./kubernetes/apps/database/<app>/app) or add the directory.",
		check:       checkPaths,
	})
	register(Rule{
		ID:          "DFE006",
		Name:        "images-pinned",
		Description: "Every container image (operator, kube-rbac-proxy sidecar, any other, and Dragonfly spec.image) has a fixed tag or digest: no `:latest`, no missing tag.",
		Remediation: "Pin the image to a release tag (e.g. docker.dragonflydb.io/dragonflydb/operator:v1.6.1) or a digest.",
		check:       checkImagesPinned,
	})
	register(Rule{
		ID:          "DFE007",
		Name:        "shared-namespace-not-pruned",
		Description: "The shared `database` Namespace is not garbage-collected by a Flux Kustomization that prunes: it carries kustomize.toolkit.fluxcd.io/prune: disabled.",
		Remediation: "Annotate the Namespace with kustomize.toolkit.fluxcd.io/prune: disabled (the bundled operator/kustomize does), or create it outside the pruning Kustomization.",
		check:       checkSharedNamespacePrune,
	})
	register(Rule{
		ID:          "DFE008",
		Name:        "manager-rbac-covers-version",
		Description: "The ClusterRoles bound to the operator's ServiceAccount grant, cluster-wide, everything that operator version needs (version from the manager image tag; configmaps from v1.6.0).",
		Remediation: "Use the RBAC of the same release as the manager image (bump the whole bundle, not only the image tag).",
		check:       checkManagerRBAC,
	})
}

func objFinding(o gitops.Object, msg string) Finding {
	f := Finding{Object: gitops.RefOf(o.Unstructured), Message: msg}
	if o.By != nil {
		f.Kustomization = o.By.Key()
	}
	return f
}

func ksFinding(k *gitops.Kustomization, msg string) Finding {
	return Finding{Object: k.Ref(), Kustomization: k.Key(), Message: msg}
}

func group(o *unstructured.Unstructured) string {
	return gitops.RefOf(o).Group()
}

func isFluxObject(o *unstructured.Unstructured) bool {
	return strings.HasSuffix(group(o), ".toolkit.fluxcd.io")
}

// crdScopes maps "group/Kind" of the CRDs the tree renders to their scope.
func crdScopes(t *gitops.Tree) map[string]string {
	out := map[string]string{}
	for _, o := range t.Objects() {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		g, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		k, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		s, _, _ := unstructured.NestedString(o.Object, "spec", "scope")
		out[g+"/"+k] = s
	}
	return out
}

func isNamespaced(o *unstructured.Unstructured, scopes map[string]string) bool {
	if s, ok := scopes[group(o)+"/"+o.GetKind()]; ok {
		return s != "Cluster"
	}
	gvk := o.GroupVersionKind()
	return !resid.NewGvk(gvk.Group, gvk.Version, gvk.Kind).IsClusterScoped()
}

// isDatabaseApp: a Flux Kustomization that installs part of the database apps.
func isDatabaseApp(k *gitops.Kustomization) bool {
	segs := strings.Split(path.Clean(strings.TrimPrefix(k.Path, "./")), "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "apps" && segs[i+1] == operator.Namespace {
			return true
		}
	}
	for _, o := range k.Objects {
		if group(o) == "dragonflydb.io" || len(managerImages(o)) > 0 {
			return true
		}
	}
	return false
}

func checkObjectsInDatabase(c *Context) []Finding {
	scopes := crdScopes(c.Tree)
	var out []Finding
	for _, k := range c.Tree.Kustomizations {
		if !isDatabaseApp(k) {
			continue
		}
		for _, o := range k.Objects {
			if isFluxObject(o) || !isNamespaced(o, scopes) || o.GetNamespace() == operator.Namespace {
				continue
			}
			ref := gitops.RefOf(o)
			msg := fmt.Sprintf("%s is in namespace %q, not %s", ref, o.GetNamespace(), operator.Namespace)
			if o.GetNamespace() == "" {
				msg = fmt.Sprintf("%s has no namespace: Flux applies it to the default namespace, not %s", ref, operator.Namespace)
			}
			out = append(out, objFinding(gitops.Object{Unstructured: o, By: k}, msg))
		}
	}
	return out
}

// walkStrings calls fn with the field path and value of every string in v.
func walkStrings(v any, at string, fn func(at, s string)) {
	switch x := v.(type) {
	case string:
		fn(at, x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for key := range x {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		for _, key := range keys {
			fn(joinPath(at, key)+"<key>", key)
			walkStrings(x[key], joinPath(at, key), fn)
		}
	case []any:
		for i, e := range x {
			walkStrings(e, fmt.Sprintf("%s[%d]", at, i), fn)
		}
	}
}

func joinPath(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func checkNoUpstreamNamespace(c *Context) []Finding {
	var out []Finding
	check := func(o gitops.Object) {
		walkStrings(o.Object, "", func(at, s string) {
			if !strings.Contains(s, operator.UpstreamNamespace) {
				return
			}
			where := at
			if strings.HasSuffix(at, "<key>") {
				where = strings.TrimSuffix(at, "<key>") + " (a key)"
			}
			out = append(out, objFinding(o, fmt.Sprintf("%s still refers to %s at %s (value %q)",
				gitops.RefOf(o.Unstructured), operator.UpstreamNamespace, where, s)))
		})
	}
	for _, o := range c.Tree.Objects() {
		check(o)
	}
	// Entry-point Kustomizations are applied by the cluster's bootstrap, not
	// rendered by another Kustomization: check their definitions too.
	for _, k := range c.Tree.Kustomizations {
		if k.Parent == "" {
			check(gitops.Object{Unstructured: k.Object, By: k})
		}
	}
	return out
}

func checkHealthChecks(c *Context) []Finding {
	var out []Finding
	for _, k := range c.Tree.Kustomizations {
		for i, hc := range k.HealthChecks {
			if len(c.Tree.Find(hc)) > 0 {
				continue
			}
			msg := fmt.Sprintf("spec.healthChecks[%d] names %s (%s), which the tree does not render, so Flux waits on an object that never appears", i, hc, hc.APIVersion)
			if hc.Kind == "Deployment" && hc.Name == "dragonfly-operator" {
				msg += fmt.Sprintf("; the operator Deployment is %s (in %s): the install guide's name dragonfly-operator is wrong", operator.DeploymentName, operator.Namespace)
			} else if alt := sameKind(c.Tree, hc); len(alt) > 0 {
				msg += "; rendered " + hc.Kind + " objects: " + strings.Join(alt, ", ")
			}
			out = append(out, ksFinding(k, msg))
		}
	}
	return out
}

func sameKind(t *gitops.Tree, ref gitops.ObjectRef) []string {
	seen := map[string]bool{}
	var out []string
	for _, o := range t.Objects() {
		if o.GetKind() != ref.Kind {
			continue
		}
		n := o.GetNamespace() + "/" + o.GetName()
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func checkDependsOn(c *Context) []Finding {
	var out []Finding
	for _, k := range c.Tree.Kustomizations {
		for i, d := range k.DependsOn {
			if c.Tree.Kustomization(d.Namespace, d.Name) != nil {
				continue
			}
			var known []string
			for _, other := range c.Tree.Kustomizations {
				known = append(known, other.Key())
			}
			out = append(out, ksFinding(k, fmt.Sprintf("spec.dependsOn[%d] names Kustomization %s/%s, which the tree does not render, so %s never becomes ready (rendered: %s)",
				i, d.Namespace, d.Name, k.Key(), strings.Join(known, ", "))))
		}
	}
	return out
}

func checkPaths(c *Context) []Finding {
	var out []Finding
	for _, k := range c.Tree.Kustomizations {
		if !k.PathExists {
			out = append(out, ksFinding(k, fmt.Sprintf("spec.path %s is not a directory of the repository %s, so the Kustomization fails to build", k.Path, c.Tree.Root)))
		}
	}
	return out
}

// podSpecPaths are where workload kinds keep their pod spec.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

type container struct{ Field, Name, Image string }

func containers(o *unstructured.Unstructured) []container {
	var out []container
	if group(o) == "dragonflydb.io" && o.GetKind() == "Dragonfly" {
		if img, ok, _ := unstructured.NestedString(o.Object, "spec", "image"); ok {
			out = append(out, container{"spec.image", "dragonfly", img})
		}
		return out
	}
	p, ok := podSpecPaths[o.GetKind()]
	if !ok {
		return nil
	}
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		items, _, _ := unstructured.NestedSlice(o.Object, append(append([]string(nil), p...), list)...)
		for i, it := range items {
			m, _ := it.(map[string]any)
			name, _ := m["name"].(string)
			img, _ := m["image"].(string)
			out = append(out, container{fmt.Sprintf("%s.%s[%d]", strings.Join(p, "."), list, i), name, img})
		}
	}
	return out
}

// splitImage returns repository, tag and digest of an image reference.
func splitImage(img string) (repo, tag, digest string) {
	repo = img
	if i := strings.Index(repo, "@"); i >= 0 {
		repo, digest = repo[:i], repo[i+1:]
	}
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo, tag = repo[:i], repo[i+1:]
	}
	return repo, tag, digest
}

func checkImagesPinned(c *Context) []Finding {
	var out []Finding
	for _, o := range c.Tree.Objects() {
		for _, ct := range containers(o.Unstructured) {
			repo, tag, digest := splitImage(ct.Image)
			var problem string
			switch {
			case ct.Image == "":
				problem = "has no image"
			case digest != "":
				continue
			case tag == "":
				problem = fmt.Sprintf("image %s has no tag (it resolves to :latest, which moves)", repo)
			case tag == "latest":
				problem = fmt.Sprintf("image %s uses the floating tag :latest", ct.Image)
			default:
				continue
			}
			out = append(out, objFinding(o, fmt.Sprintf("container %s (%s) %s", ct.Name, ct.Field, problem)))
		}
	}
	return out
}

func checkSharedNamespacePrune(c *Context) []Finding {
	var out []Finding
	for _, k := range c.Tree.Kustomizations {
		if !k.Prune {
			continue
		}
		for _, o := range k.Objects {
			if o.GetKind() != "Namespace" || group(o) != "" || o.GetName() != operator.Namespace {
				continue
			}
			if o.GetAnnotations()[operator.PruneAnnotation] == operator.PruneDisabled {
				continue
			}
			out = append(out, objFinding(gitops.Object{Unstructured: o, By: k}, fmt.Sprintf(
				"Namespace %s is garbage-collected with Flux Kustomization %s (prune: true) but is shared with other tenants (e.g. %s): deleting or renaming that Kustomization deletes the namespace and everything in it; it lacks %s: %s",
				operator.Namespace, k.Key(), TenantExample, operator.PruneAnnotation, operator.PruneDisabled)))
		}
	}
	return out
}

// managerImages returns the operator manager images of a workload.
func managerImages(o *unstructured.Unstructured) []string {
	var out []string
	for _, ct := range containers(o) {
		repo, _, _ := splitImage(ct.Image)
		if repo == operator.ManagerImageRepository || strings.HasSuffix(repo, "/dragonflydb/operator") {
			out = append(out, ct.Image)
		}
	}
	return out
}

type rbacRule struct{ groups, resources, verbs []string }

func rulesOf(o *unstructured.Unstructured) []rbacRule {
	items, _, _ := unstructured.NestedSlice(o.Object, "rules")
	var out []rbacRule
	for _, it := range items {
		m, _ := it.(map[string]any)
		strs := func(key string) []string {
			var s []string
			l, _ := m[key].([]any)
			for _, e := range l {
				if v, ok := e.(string); ok {
					s = append(s, v)
				}
			}
			return s
		}
		out = append(out, rbacRule{strs("apiGroups"), strs("resources"), strs("verbs")})
	}
	return out
}

func has(list []string, s string) bool {
	for _, e := range list {
		if e == s || e == "*" {
			return true
		}
	}
	return false
}

// resourcePath is p's resource as RBAC rules spell it ("dragonflies/status").
func resourcePath(p operator.Permission) string {
	if p.Subresource != "" {
		return p.Resource + "/" + p.Subresource
	}
	return p.Resource
}

// missingVerbs returns the verbs of p that no rule grants.
func missingVerbs(rules []rbacRule, p operator.Permission) []string {
	var missing []string
	for _, v := range p.Verbs {
		granted := false
		for _, r := range rules {
			if has(r.groups, p.Group) && has(r.resources, resourcePath(p)) && has(r.verbs, v) {
				granted = true
				break
			}
		}
		if !granted {
			missing = append(missing, v)
		}
	}
	return missing
}

// boundTo lists the roles of kind roleKind that bindings of bindingKind grant
// to the ServiceAccount ns/sa.
func boundTo(t *gitops.Tree, bindingKind, roleKind, ns, sa string) []gitops.Object {
	var out []gitops.Object
	for _, b := range t.Objects() {
		if b.GetKind() != bindingKind || group(b.Unstructured) != "rbac.authorization.k8s.io" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(b.Object, "subjects")
		bound := false
		for _, s := range subjects {
			m, _ := s.(map[string]any)
			if m["kind"] == "ServiceAccount" && m["name"] == sa && m["namespace"] == ns {
				bound = true
			}
		}
		kind, _, _ := unstructured.NestedString(b.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(b.Object, "roleRef", "name")
		if !bound || kind != roleKind {
			continue
		}
		roleNS := ""
		if roleKind == "Role" {
			roleNS = b.GetNamespace()
		}
		out = append(out, t.Find(gitops.ObjectRef{APIVersion: "rbac.authorization.k8s.io/v1", Kind: roleKind, Namespace: roleNS, Name: name})...)
	}
	return out
}

func checkManagerRBAC(c *Context) []Finding {
	var out []Finding
	for _, d := range c.Tree.Objects() {
		imgs := managerImages(d.Unstructured)
		if len(imgs) == 0 || d.GetKind() == "Dragonfly" {
			continue
		}
		_, tag, _ := splitImage(imgs[0])
		version, from := tag, "manager image "+imgs[0]
		if !operator.IsVersion(tag) {
			version, from = c.OperatorVersion, "--operator-version (the image tag "+imgs[0]+" is not a version)"
		}
		spec, _, _ := unstructured.NestedMap(d.Object, podSpecPaths[d.GetKind()]...)
		sa, _ := spec["serviceAccountName"].(string)
		if sa == "" {
			sa = "default"
		}
		ns := d.GetNamespace()
		subject := fmt.Sprintf("ServiceAccount %s/%s", ns, sa)

		var rules []rbacRule
		var names []string
		for _, cr := range boundTo(c.Tree, "ClusterRoleBinding", "ClusterRole", ns, sa) {
			rules = append(rules, rulesOf(cr.Unstructured)...)
			names = append(names, cr.GetName())
		}
		if len(names) == 0 {
			out = append(out, objFinding(d, fmt.Sprintf("no ClusterRoleBinding binds a rendered ClusterRole to %s, the operator's identity (operator %s, from %s): the manager cannot watch Dragonfly objects cluster-wide",
				subject, version, from)))
			continue
		}
		for _, p := range operator.NeededFor(version) {
			if p.Scope == operator.OperatorNamespace {
				continue // granted by a Role in the operator's namespace, not by the ClusterRoles
			}
			missing := missingVerbs(rules, p)
			if len(missing) == 0 {
				continue
			}
			since := p.Since
			if since == "" {
				since = "every pinned release"
			}
			msg := fmt.Sprintf("the ClusterRoles bound to %s (%s) do not grant %s on %s cluster-wide, which operator %s (from %s) needs since %s: %s",
				subject, strings.Join(names, ", "), strings.Join(missing, ","), p.Name(), version, from, since, p.Reason)
			// A namespace-scoped grant (the leader-election Role) does not cover
			// a cluster-wide watch; name it so nobody mistakes it for a fix.
			for _, lr := range localGrants(c.Tree, ns, sa, p) {
				msg += fmt.Sprintf("; Role %s grants %s only in namespace %s, which does not cover the cluster-wide watch", lr, p.Name(), ns)
			}
			out = append(out, objFinding(d, msg))
		}
	}
	return out
}

// localGrants names the Roles bound to ns/sa that grant some verb of p in ns.
func localGrants(t *gitops.Tree, ns, sa string, p operator.Permission) []string {
	var out []string
	for _, r := range boundTo(t, "RoleBinding", "Role", ns, sa) {
		if len(missingVerbs(rulesOf(r.Unstructured), p)) < len(p.Verbs) {
			out = append(out, r.GetName())
		}
	}
	return out
}
