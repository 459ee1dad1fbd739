package lint

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/kyaml/resid"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
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
		Description: "Every image a workload or a Dragonfly runs (containers, init containers, the Dragonfly's spec.image, spec.initContainers, spec.additionalContainers, image volumes) has a fixed tag or digest: no missing tag, no floating tag (`latest`, `latest-*`, `nightly`, `main`, `master`, `edge`, `dev`).",
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
		Description: "The ClusterRoles bound to the operator's ServiceAccount grant, cluster-wide, everything that operator version needs (configmaps from v1.6.0). The operator is the workload running /manager with the dragonflies.dragonflydb.io CRD and its RBAC, whatever registry its image comes from; its version is the manager image tag (`v1.6.1` or `1.6.1`), else --operator-version, which the output then notes.",
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
func isDatabaseApp(c *Context, k *gitops.Kustomization) bool {
	segs := strings.Split(path.Clean(strings.TrimPrefix(k.Path, "./")), "/")
	for i := 0; i+1 < len(segs); i++ {
		if segs[i] == "apps" && segs[i+1] == operator.Namespace {
			return true
		}
	}
	for _, o := range k.Objects {
		if group(o) == dfapi.Group {
			return true
		}
	}
	for _, op := range c.operators() {
		if op.By == k {
			return true
		}
	}
	return false
}

func checkObjectsInDatabase(c *Context) []Finding {
	scopes := crdScopes(c.applied)
	var out []Finding
	for _, k := range c.applied.Kustomizations {
		if !isDatabaseApp(c, k) {
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
	for _, o := range c.applied.Objects() {
		check(o)
	}
	// Entry-point Kustomizations are applied by the cluster's bootstrap, not
	// rendered by another Kustomization: check their definitions too.
	for _, k := range c.applied.Kustomizations {
		if k.Parent == "" {
			check(gitops.Object{Unstructured: k.Object, By: k})
		}
	}
	return out
}

func checkHealthChecks(c *Context) []Finding {
	var out []Finding
	for _, k := range c.applied.Kustomizations {
		for i, hc := range k.HealthChecks {
			if len(c.applied.Find(hc)) > 0 {
				continue
			}
			msg := fmt.Sprintf("spec.healthChecks[%d] names %s (%s), which the tree does not render, so Flux waits on an object that never appears", i, hc, hc.APIVersion)
			if hc.Kind == "Deployment" && hc.Name == "dragonfly-operator" {
				msg += fmt.Sprintf("; the operator Deployment is %s (in %s): the install guide's name dragonfly-operator is wrong", operator.DeploymentName, operator.Namespace)
			} else if alt := sameKind(c.applied, hc); len(alt) > 0 {
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
	for _, k := range c.applied.Kustomizations {
		for i, d := range k.DependsOn {
			if c.applied.Kustomization(d.Namespace, d.Name) != nil {
				continue
			}
			var known []string
			for _, other := range c.applied.Kustomizations {
				known = append(known, other.Key())
			}
			hint := ""
			if orphan := c.Tree.Kustomization(d.Namespace, d.Name); orphan != nil {
				hint = fmt.Sprintf("; it is defined (%s) but Flux never applies it (DFE009)", orphan.Origin)
			}
			out = append(out, ksFinding(k, fmt.Sprintf("spec.dependsOn[%d] names Kustomization %s/%s, which the tree does not render, so %s never becomes ready (rendered: %s)%s",
				i, d.Namespace, d.Name, k.Key(), strings.Join(known, ", "), hint)))
		}
	}
	return out
}

func checkPaths(c *Context) []Finding {
	var out []Finding
	for _, k := range c.applied.Kustomizations {
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

// container is one image a workload runs (or mounts, for image volumes).
type container struct {
	What          string // "container" or "volume"
	Field, Name   string
	Image         string
	Command, Args []string
}

// dragonflyImageLists are the fields of a Dragonfly spec (dragonflydb.io
// CRD) that hold full containers, each with its own image.
var dragonflyImageLists = []string{"initContainers", "additionalContainers"}

func containers(o *unstructured.Unstructured) []container {
	if group(o) == dfapi.Group && o.GetKind() == dfapi.Kind {
		var out []container
		if img, ok, _ := unstructured.NestedString(o.Object, "spec", "image"); ok {
			out = append(out, container{What: "container", Field: "spec.image", Name: "dragonfly", Image: img})
		}
		for _, list := range dragonflyImageLists {
			out = append(out, containerList(o, []string{"spec"}, list)...)
		}
		return append(out, imageVolumes(o, []string{"spec"}, "additionalVolumes")...)
	}
	p, ok := podSpecPaths[o.GetKind()]
	if !ok {
		return nil
	}
	var out []container
	for _, list := range []string{"initContainers", "containers", "ephemeralContainers"} {
		out = append(out, containerList(o, p, list)...)
	}
	return append(out, imageVolumes(o, p, "volumes")...)
}

func strs(v any) []string {
	l, _ := v.([]any)
	var out []string
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func containerList(o *unstructured.Unstructured, at []string, list string) []container {
	var out []container
	items, _, _ := unstructured.NestedSlice(o.Object, append(append([]string(nil), at...), list)...)
	for i, it := range items {
		m, _ := it.(map[string]any)
		name, _ := m["name"].(string)
		img, _ := m["image"].(string)
		out = append(out, container{What: "container", Field: fmt.Sprintf("%s.%s[%d]", strings.Join(at, "."), list, i),
			Name: name, Image: img, Command: strs(m["command"]), Args: strs(m["args"])})
	}
	return out
}

// imageVolumes are the OCI image volumes (volumes[].image.reference): pulled
// like a container image, so they move like one when unpinned.
func imageVolumes(o *unstructured.Unstructured, at []string, list string) []container {
	var out []container
	items, _, _ := unstructured.NestedSlice(o.Object, append(append([]string(nil), at...), list)...)
	for i, it := range items {
		m, _ := it.(map[string]any)
		img, ok := m["image"].(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		ref, _ := img["reference"].(string)
		out = append(out, container{What: "volume", Field: fmt.Sprintf("%s.%s[%d].image.reference", strings.Join(at, "."), list, i), Name: name, Image: ref})
	}
	return out
}

// floatingTags name a build that moves (a branch, a channel), not a release.
var floatingTags = []string{"latest", "nightly", "main", "master", "edge", "dev"}

// floatingTag reports whether tag moves: one of floatingTags, or latest-*
// (latest-alpine and the like).
func floatingTag(tag string) bool {
	t := strings.ToLower(tag)
	for _, f := range floatingTags {
		if t == f {
			return true
		}
	}
	return strings.HasPrefix(t, "latest-")
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
	for _, o := range c.applied.Objects() {
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
			case floatingTag(tag):
				problem = fmt.Sprintf("image %s uses the floating tag :%s, which moves with every push", ct.Image, tag)
			default:
				continue
			}
			out = append(out, objFinding(o, fmt.Sprintf("%s %s (%s) %s", ct.What, ct.Name, ct.Field, problem)))
		}
	}
	return out
}

func checkSharedNamespacePrune(c *Context) []Finding {
	var out []Finding
	for _, k := range c.applied.Kustomizations {
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
				"Namespace %s lacks %s: %s, so it is garbage-collected with Flux Kustomization %s (prune: true), but it is shared with other tenants (e.g. %s): deleting or renaming that Kustomization deletes the namespace and everything in it",
				operator.Namespace, operator.PruneAnnotation, operator.PruneDisabled, k.Key(), TenantExample)))
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
		out = append(out, rbacRule{strs(m["apiGroups"]), strs(m["resources"]), strs(m["verbs"])})
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
	for _, op := range c.operators() {
		d, version, from := op.Object, op.Version, op.From
		ns, sa := serviceAccountOf(d.Unstructured)
		subject := fmt.Sprintf("ServiceAccount %s/%s", ns, sa)

		var rules []rbacRule
		var names []string
		for _, cr := range boundTo(c.applied, "ClusterRoleBinding", "ClusterRole", ns, sa) {
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
			for _, lr := range localGrants(c.applied, ns, sa, p) {
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
