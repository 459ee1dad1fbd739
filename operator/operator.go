// Package operator is the bundled dragonfly-operator: upstream release
// manifests pinned by version, URL and sha256, fetched on demand (or read from
// an offline source), verified, and relocated from dragonfly-operator-system
// to the shared `database` namespace by an embedded kustomization rendered
// in-process with kustomize's krusty (no kubectl, kustomize or flux binary).
package operator

import (
	"fmt"
	"sort"
	"strings"
)

// Names of the installed operator. They come from the upstream manifests (the
// install guide's `dragonfly-operator` Deployment/ServiceAccount do not exist).
const (
	DefaultVersion    = "v1.6.1"
	Namespace         = "database"                  // shared namespace the bundle is relocated to
	UpstreamNamespace = "dragonfly-operator-system" // where upstream installs it
	DeploymentName    = "dragonfly-operator-controller-manager"
	// ManagerContainer is the operator container of that Deployment.
	ManagerContainer       = "manager"
	ServiceAccountName     = "dragonfly-operator-controller-manager"
	ManagerClusterRoleName = "dragonfly-operator-manager-role"
	CRDName                = "dragonflies.dragonflydb.io"
	// PruneAnnotation with value PruneDisabled keeps Flux from deleting an object
	// when the Kustomization that applied it stops rendering it.
	PruneAnnotation = "kustomize.toolkit.fluxcd.io/prune"
	PruneDisabled   = "disabled"
)

// ControllerSelector selects the operator pod (Deployment selector and pod label).
var ControllerSelector = map[string]string{"control-plane": "controller-manager"}

// Pin identifies one upstream release manifest.
type Pin struct{ Version, URL, SHA256 string }

const urlPattern = "https://raw.githubusercontent.com/dragonflydb/dragonfly-operator/%s/manifests/dragonfly-operator.yaml"

// pins: sha256 of manifests/dragonfly-operator.yaml at each release tag.
var pins = map[string]string{
	"v1.5.0": "76a19dc0363b3e3fe5cb884228b1f727ab59dd1893d003347e81c7775aa03718",
	"v1.6.0": "772bf55be21e53437329b8a83b42931d32ed1a6269a05a55a9265498a9c3c19c",
	"v1.6.1": "5a7d65e8d0e1925a4a7a895fd2d6d2cbbb1d7adab5756d80c82f2210bb2434c5",
}

// Versions lists the pinned versions, oldest first.
func Versions() []string {
	vs := make([]string, 0, len(pins))
	for v := range pins {
		vs = append(vs, v)
	}
	sort.Strings(vs)
	return vs
}

// Lookup returns the pin of version; an unknown version is an error that
// lists the known ones.
func Lookup(version string) (Pin, error) {
	sum, ok := pins[version]
	if !ok {
		return Pin{}, fmt.Errorf("unknown operator version %q: pinned versions are %s", version, strings.Join(Versions(), ", "))
	}
	return Pin{Version: version, URL: fmt.Sprintf(urlPattern, version), SHA256: sum}, nil
}
