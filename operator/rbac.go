package operator

import (
	"strconv"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// What the operator needs from the API, in one place: the static RBAC rule
// (internal/static/lint DFE008) and the SubjectAccessReview checks of the rbac suite
// (internal/checks/rbaccheck) both read this table, so they cannot drift apart.
//
// Each entry carries the upstream behaviour that needs it, so that a reader can
// argue with it line by line. It is deliberately narrower than the manager
// ClusterRole upstream declares; the difference is the least-privilege report
// (a finding, never a failure).

// Scope says where a permission is needed, and so where it is asked.
type Scope string

const (
	// AllNamespaces: the manager's informers and writes span every namespace
	// a Dragonfly may live in. Asked cluster-wide (namespace "") and in a
	// namespace other than the operator's own, because a Role in the
	// operator's namespace can hide a missing cluster-wide grant (the
	// leader-election Role grants configmaps in `database` even with v1.5.0 RBAC).
	AllNamespaces Scope = "all-namespaces"
	// OperatorNamespace: only in the namespace the operator runs in.
	OperatorNamespace Scope = "operator-namespace"
	// ClusterScoped: a cluster-scoped resource, asked with namespace "".
	ClusterScoped Scope = "cluster-scoped"
)

// Permission is one group/resource the operator needs some verbs on.
type Permission struct {
	Group       string // "" is the core group
	Resource    string
	Subresource string
	Verbs       []string
	Scope       Scope
	// Since is the first operator version that needs it; "" means every pinned version.
	Since string
	// Reason is the upstream behaviour that needs it.
	Reason string
}

// Name renders the resource the way kubectl does: "statefulsets.apps", "dragonflies.dragonflydb.io/status".
func (p Permission) Name() string {
	n := p.Resource
	if p.Group != "" {
		n += "." + p.Group
	}
	if p.Subresource != "" {
		n += "/" + p.Subresource
	}
	return n
}

// Needed is what the v1.5.0–v1.6.x manager (and its kube-rbac-proxy sidecar)
// does against the API, read from the upstream controllers.
var Needed = []Permission{
	{Group: dfapi.Group, Resource: dfapi.Resource, Verbs: []string{"get", "list", "watch"}, Scope: AllNamespaces,
		Reason: "the Dragonfly controller watches Dragonfly objects in every namespace and reads each one it reconciles"},
	{Group: dfapi.Group, Resource: dfapi.Resource, Subresource: "status", Verbs: []string{"update", "patch"}, Scope: AllNamespaces,
		Reason: "it writes status.phase (ResourcesCreated → Configuring → Ready, RollingUpdate) through the status subresource"},
	{Group: dfapi.Group, Resource: dfapi.Resource, Subresource: "finalizers", Verbs: []string{"update"}, Scope: AllNamespaces,
		Reason: "the objects it creates carry owner references to the Dragonfly; with OwnerReferencesPermissionEnforcement that needs update on the owner's finalizers"},
	{Group: "apps", Resource: "statefulsets", Verbs: []string{"get", "list", "watch", "create", "update"}, Scope: AllNamespaces,
		Reason: "it creates one StatefulSet per Dragonfly, updates it on every spec change, and owns (watches) it"},
	{Resource: "services", Verbs: []string{"get", "list", "watch", "create", "update"}, Scope: AllNamespaces,
		Reason: "it creates and updates the Service that points at the master, and owns (watches) it"},
	{Resource: "pods", Verbs: []string{"get", "list", "watch", "update", "delete"}, Scope: AllNamespaces,
		Reason: "the pod-lifecycle controller watches Dragonfly pods, relabels them role=master or role=replica on failover, and deletes old pods during a rolling update (OnDelete StatefulSets)"},
	{Resource: "events", Verbs: []string{"create", "patch"}, Scope: AllNamespaces,
		Reason: "its event recorder writes Resources/Rollout events on Dragonfly objects in their namespace"},
	{Group: "networking.k8s.io", Resource: "networkpolicies", Verbs: []string{"get", "list", "watch", "create", "update"}, Scope: AllNamespaces,
		Reason: "since v1.5.0 it creates a NetworkPolicy per Dragonfly (spec.networkPolicyEnabled) and keeps it in line with the spec"},
	{Group: "policy", Resource: "poddisruptionbudgets", Verbs: []string{"get", "list", "watch", "create", "update"}, Scope: AllNamespaces,
		Reason: "it creates and updates the PodDisruptionBudget requested by spec.pdb"},
	{Resource: "configmaps", Verbs: []string{"get", "list", "watch"}, Scope: AllNamespaces, Since: "v1.6.0",
		Reason: "from v1.6.0 the manager caches ConfigMaps cluster-wide (probe-script ConfigMaps referenced by Dragonfly objects); without list/watch at cluster scope its cache never syncs and the pod crash-loops — what GitOps installs that kept v1.5.0 RBAC hit"},
	{Group: "coordination.k8s.io", Resource: "leases", Verbs: []string{"get", "create", "update"}, Scope: OperatorNamespace,
		Reason: "the manager runs with --leader-elect and holds a Lease in its own namespace"},
	{Group: "authentication.k8s.io", Resource: "tokenreviews", Verbs: []string{"create"}, Scope: ClusterScoped,
		Reason: "the kube-rbac-proxy sidecar authenticates callers of /metrics with TokenReviews"},
	{Group: "authorization.k8s.io", Resource: "subjectaccessreviews", Verbs: []string{"create"}, Scope: ClusterScoped,
		Reason: "the kube-rbac-proxy sidecar authorizes callers of /metrics with SubjectAccessReviews"},
}

// NeededFor returns the permissions operator version needs.
func NeededFor(version string) []Permission {
	var out []Permission
	for _, p := range Needed {
		if p.Since == "" || CompareVersions(version, p.Since) >= 0 {
			out = append(out, p)
		}
	}
	return out
}

// CompareVersions compares "vMAJOR.MINOR.PATCH" strings numerically (missing
// or non-numeric parts count as 0). It returns -1, 0 or 1.
func CompareVersions(a, b string) int {
	pa, pb := versionParts(a), versionParts(b)
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// IsVersion reports whether s looks like "vMAJOR.MINOR.PATCH".
func IsVersion(s string) bool {
	parts := strings.Split(strings.TrimPrefix(s, "v"), ".")
	if !strings.HasPrefix(s, "v") || len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if _, err := strconv.Atoi(p); err != nil {
			return false
		}
	}
	return true
}

func versionParts(s string) [3]int {
	var out [3]int
	for i, p := range strings.SplitN(strings.TrimPrefix(s, "v"), ".", 3) {
		if n, err := strconv.Atoi(strings.SplitN(p, "-", 2)[0]); err == nil {
			out[i] = n
		}
	}
	return out
}

// ManagerImageRepository is the manager container's image, without tag.
const ManagerImageRepository = "docker.dragonflydb.io/dragonflydb/operator"
