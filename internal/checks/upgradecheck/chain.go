// Package upgradecheck judges an operator upgrade hop from evidence read off
// the cluster: which versions the chain visits, whether the operator runs
// after the hop (and, when it does not, what it is forbidden to read), whether
// any instance lost its last serving pod while the operator replaced pods, and
// whether the status fields health checks read are still there. It reads no
// cluster itself, so every verdict has a unit test on planted evidence.
package upgradecheck

import (
	"fmt"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// DefaultFrom and DefaultTo span every pinned release: the full chain.
func DefaultFrom() string { return operator.Versions()[0] }
func DefaultTo() string   { vs := operator.Versions(); return vs[len(vs)-1] }

// Chain returns the pinned versions an upgrade from → to visits, from first:
// every pinned release in between is a hop, as users upgrading release by
// release take them. Empty from/to are the oldest/newest pinned release.
func Chain(from, to string) ([]string, error) {
	if from == "" {
		from = DefaultFrom()
	}
	if to == "" {
		to = DefaultTo()
	}
	pinned := operator.Versions()
	idx := func(flag, v string) (int, error) {
		for i, p := range pinned {
			if p == v {
				return i, nil
			}
		}
		return 0, fmt.Errorf("--%s %q: not a pinned operator version; pinned versions are %s", flag, v, strings.Join(pinned, ", "))
	}
	fi, err := idx("upgrade-from", from)
	if err != nil {
		return nil, err
	}
	ti, err := idx("upgrade-to", to)
	if err != nil {
		return nil, err
	}
	if fi >= ti {
		return nil, fmt.Errorf("--upgrade-from %s --upgrade-to %s: an upgrade goes from an older pinned version to a newer one (pinned, oldest first: %s)", from, to, strings.Join(pinned, ", "))
	}
	return append([]string{}, pinned[fi:ti+1]...), nil
}

// CrossesConfigmapsRBAC reports whether a hop from → to crosses the release
// that made the manager read ConfigMaps cluster-wide, the hop on which a
// tag-only bump (new image, old RBAC) breaks.
func CrossesConfigmapsRBAC(from, to string) bool {
	for _, p := range operator.Needed {
		if p.Resource == "configmaps" && p.Since != "" {
			return operator.CompareVersions(from, p.Since) < 0 && operator.CompareVersions(to, p.Since) >= 0
		}
	}
	return false
}

// VersionOfImage is the release an operator image runs: its tag, with a "v"
// (v1.6.1 and 1.6.1 are the same release); "" for an untagged image.
func VersionOfImage(image string) string {
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return "v" + strings.TrimPrefix(image[i+1:], "v")
}
