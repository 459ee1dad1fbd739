// Package dfapi is the Dragonfly API as the operator serves it and the marks
// it puts on what it manages, declared once for every check, helper and suite
// (a leaf package: no dependency beyond apimachinery's schema types).
package dfapi

import "k8s.io/apimachinery/pkg/runtime/schema"

// Group and Version of the Dragonfly custom resource (upstream v1.5–v1.6).
const (
	Group    = "dragonflydb.io"
	Version  = "v1alpha1"
	Kind     = "Dragonfly"
	Resource = "dragonflies"
)

// GVK of the Dragonfly custom resource.
var GVK = schema.GroupVersionKind{Group: Group, Version: Version, Kind: Kind}

// The operator's marks on an instance's pods and objects (upstream v1.6.x).
const (
	// RoleLabel is set by the operator on every Dragonfly pod.
	RoleLabel   = "role"
	RoleMaster  = "master"
	RoleReplica = "replica"
	// AppLabel selects an instance's pods (value: the Dragonfly's name).
	AppLabel = "app"
	// MasterIPAnnotation is where the operator records the master's IP.
	MasterIPAnnotation = "operator.dragonflydb.io/masterIP"
)
