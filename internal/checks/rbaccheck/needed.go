// Package rbaccheck asks the API server, through SubjectAccessReviews, whether
// the operator's ServiceAccount may do everything the operator needs
// (operator.Needed), and reports what its bindings grant beyond that (least
// privilege).
package rbaccheck

import (
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// The needed set lives in package operator (one table for lint and this check).
type (
	Permission = operator.Permission
	Scope      = operator.Scope
)

const (
	AllNamespaces     = operator.AllNamespaces
	OperatorNamespace = operator.OperatorNamespace
	ClusterScoped     = operator.ClusterScoped
)

// Needed is operator.Needed.
var Needed = operator.Needed

// NeededFor returns the permissions operator version needs.
func NeededFor(version string) []Permission { return operator.NeededFor(version) }

// Markdown renders Needed as a table for the docs (suites/README.md embeds
// it; a test keeps the two equal).
func Markdown() string {
	var b strings.Builder
	b.WriteString("| resource | verbs | asked | since | why |\n|---|---|---|---|---|\n")
	for _, p := range Needed {
		since := p.Since
		if since == "" {
			since = "all"
		}
		asked := map[Scope]string{
			AllNamespaces:     "cluster-wide + another namespace",
			OperatorNamespace: "operator namespace",
			ClusterScoped:     "cluster-wide",
		}[p.Scope]
		b.WriteString("| " + p.Name() + " | " + strings.Join(p.Verbs, ", ") + " | " + asked + " | " + since + " | " + p.Reason + " |\n")
	}
	return b.String()
}
