package operator

import (
	"strconv"
	"strings"
)

// Permission is one cluster-wide grant the operator's manager needs.
type Permission struct {
	Group    string // "" for the core group
	Resource string // may carry a subresource: "dragonflies/status"
	Verbs    []string
	Since    string // first operator version that needs it
	Why      string // the operator behaviour that needs it
}

var crud = []string{"get", "list", "watch", "create", "update", "patch", "delete"}

// managerPermissions: what the manager does with each resource, read from the
// upstream controllers and their RBAC markers (manager ClusterRole).
var managerPermissions = []Permission{
	{"dragonflydb.io", "dragonflies", crud, "v1.5.0", "reconciles Dragonfly objects in every namespace"},
	{"dragonflydb.io", "dragonflies/status", []string{"get", "update", "patch"}, "v1.5.0", "writes status.phase (ResourcesCreated, Configuring, Ready, RollingUpdate)"},
	{"dragonflydb.io", "dragonflies/finalizers", []string{"update"}, "v1.5.0", "sets owner references with blockOwnerDeletion on the objects it creates"},
	{"apps", "statefulsets", crud, "v1.5.0", "creates and rolls the StatefulSet of each Dragonfly"},
	{"", "services", crud, "v1.5.0", "creates the Service pointing at the master"},
	{"", "pods", crud, "v1.5.0", "labels pods role=master|replica and configures replication over the admin port"},
	{"", "pods/status", []string{"get", "update", "patch"}, "v1.5.0", "reads and updates pod status during failover"},
	{"", "events", []string{"create", "patch"}, "v1.5.0", "records events on Dragonfly objects"},
	{"networking.k8s.io", "networkpolicies", crud, "v1.5.0", "creates the NetworkPolicy of each Dragonfly (spec.networkPolicyEnabled)"},
	{"policy", "poddisruptionbudgets", crud, "v1.5.0", "creates the PodDisruptionBudget of spec.pdb"},
	{"", "configmaps", crud, "v1.6.0", "watches ConfigMaps cluster-wide (custom probe scripts referenced by Dragonfly objects); without the grant its cache never syncs and the manager crash-loops"},
}

// ManagerPermissions lists the cluster-wide grants the manager of version needs.
// Versions newer than the newest pin get the newest list.
func ManagerPermissions(version string) []Permission {
	var out []Permission
	for _, p := range managerPermissions {
		if CompareVersions(version, p.Since) >= 0 {
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
