package rbaccheck

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Check ids.
const (
	CheckAllowed        = "rbac.needed-permission-allowed"
	CheckSubjectInPlace = "rbac.binding-subject-in-operator-namespace"
	CheckLeastPrivilege = "rbac.least-privilege"
)

// Subject is the operator's ServiceAccount.
type Subject struct{ Namespace, Name string }

// User is the username the API server gives the ServiceAccount's token.
func (s Subject) User() string {
	return "system:serviceaccount:" + s.Namespace + ":" + s.Name
}

// Groups are the groups a ServiceAccount token carries.
func (s Subject) Groups() []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + s.Namespace, "system:authenticated"}
}

func (s Subject) String() string { return "ServiceAccount " + s.Namespace + "/" + s.Name }

// Target is what Allowed asks about.
type Target struct {
	Subject Subject
	// OtherNamespace is a namespace other than the operator's, where
	// AllNamespaces permissions are asked too (it need not exist).
	OtherNamespace string
	// Objects are the applied bundle objects; their RoleBindings and
	// ClusterRoleBindings explain a denial (a subject left in another namespace).
	Objects []*unstructured.Unstructured
}

// Allowed asks one SubjectAccessReview per needed verb and namespace and
// returns a violation for every denial, naming the resource, the verbs, where,
// why the operator needs it, and any binding subject that explains it.
// Denials are re-asked for up to the named timeout RBACSettled, because the
// authorizer sees new bindings through informers, a moment after they are written.
func Allowed(ctx context.Context, cs kubernetes.Interface, t Target, needed []Permission) ([]finding.Finding, error) {
	var out []finding.Finding
	// Each pass asks with the caller's ctx: the settle window bounds when a
	// new pass may start, never a pass in flight (one pass is ~90 reviews).
	_, err := wait.For(ctx, "RBAC of "+t.Subject.String()+" to allow what the operator needs", wait.RBACSettled, func(context.Context) (bool, string, error) {
		var err error
		out, err = allowedOnce(ctx, cs, t, needed)
		if err != nil {
			return false, "", err
		}
		return len(finding.Violations(out)) == 0, fmt.Sprintf("%d denials", len(finding.Violations(out))), nil
	})
	var te *wait.TimeoutError
	if err != nil && !errors.As(err, &te) {
		return out, err
	}
	return out, nil
}

func allowedOnce(ctx context.Context, cs kubernetes.Interface, t Target, needed []Permission) ([]finding.Finding, error) {
	if t.OtherNamespace == "" || t.OtherNamespace == t.Subject.Namespace {
		return nil, fmt.Errorf("rbaccheck: OtherNamespace must name a namespace other than the operator's (%q)", t.Subject.Namespace)
	}
	// A subject left in another namespace explains every denial at once:
	// report it once, and name it in each denial.
	out := SubjectsInPlace(t.Objects, t.Subject)
	cause := strayNames(t.Objects, t.Subject)
	for _, p := range needed {
		for _, ns := range askNamespaces(p.Scope, t) {
			var denied []string
			for _, verb := range p.Verbs {
				ok, err := ask(ctx, cs, t.Subject, p, verb, ns)
				if err != nil {
					return out, err
				}
				if !ok {
					denied = append(denied, verb)
				}
			}
			if len(denied) == 0 {
				continue
			}
			msg := fmt.Sprintf("%s may not %s %s %s — needed because %s", t.Subject, strings.Join(denied, ","), p.Name(), where(ns), p.Reason)
			if p.Since != "" {
				msg += " (needed since " + p.Since + ")"
			}
			if cause != "" {
				msg += "; likely cause: the bindings name " + cause + " instead"
			}
			out = append(out, finding.Finding{Check: CheckAllowed, Severity: finding.Violation, Object: p.Name(), Message: msg})
		}
	}
	return out, nil
}

func askNamespaces(s Scope, t Target) []string {
	switch s {
	case AllNamespaces:
		return []string{"", t.OtherNamespace}
	case OperatorNamespace:
		return []string{t.Subject.Namespace}
	default:
		return []string{""}
	}
}

func where(ns string) string {
	if ns == "" {
		return "cluster-wide"
	}
	return "in namespace " + ns
}

func ask(ctx context.Context, cs kubernetes.Interface, s Subject, p Permission, verb, ns string) (bool, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   s.User(),
		Groups: s.Groups(),
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: verb, Group: p.Group, Resource: p.Resource, Subresource: p.Subresource,
		},
	}}
	res, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("rbaccheck: SubjectAccessReview for %s %s %s: %w", verb, p.Name(), where(ns), err)
	}
	return res.Status.Allowed, nil
}

// StraySubjects lists the bindings among objs that bind a ServiceAccount of
// the operator's name in another namespace — the relocation missed them, so
// they grant nothing to the real operator.
func StraySubjects(objs []*unstructured.Unstructured, s Subject) []string {
	var out []string
	for _, o := range objs {
		for _, sub := range subjects(o) {
			if sub.Kind == rbacv1.ServiceAccountKind && sub.Name == s.Name && sub.Namespace != s.Namespace {
				out = append(out, fmt.Sprintf("%s/%s binds subject ServiceAccount %s/%s, not %s/%s", o.GetKind(), o.GetName(), sub.Namespace, sub.Name, s.Namespace, s.Name))
			}
		}
	}
	return out
}

// strayNames lists the distinct stray subjects, e.g.
// "ServiceAccount dragonfly-operator-system/dragonfly-operator-controller-manager".
func strayNames(objs []*unstructured.Unstructured, s Subject) string {
	seen := map[string]bool{}
	var names []string
	for _, o := range objs {
		for _, sub := range subjects(o) {
			if sub.Kind == rbacv1.ServiceAccountKind && sub.Name == s.Name && sub.Namespace != s.Namespace {
				n := "ServiceAccount " + sub.Namespace + "/" + sub.Name
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
				}
			}
		}
	}
	return strings.Join(names, ", ")
}

func subjects(o *unstructured.Unstructured) []rbacv1.Subject {
	if o.GetKind() != "RoleBinding" && o.GetKind() != "ClusterRoleBinding" {
		return nil
	}
	var b rbacv1.ClusterRoleBinding // same subjects shape as RoleBinding
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &b); err != nil {
		return nil
	}
	return b.Subjects
}

// SubjectsInPlace is the static companion of Allowed: a violation for every
// binding subject of the operator's ServiceAccount name outside its namespace.
func SubjectsInPlace(objs []*unstructured.Unstructured, s Subject) []finding.Finding {
	var out []finding.Finding
	for _, msg := range StraySubjects(objs, s) {
		out = append(out, finding.Finding{Check: CheckSubjectInPlace, Severity: finding.Violation, Object: strings.SplitN(msg, " ", 2)[0], Message: msg})
	}
	return out
}

// grant is one (group, resource, verb) a role grants, and where.
type grant struct {
	group, resource, verb string
	namespace             string // "" for a ClusterRoleBinding
	via                   string // "ClusterRole/x via ClusterRoleBinding/y"
}

// Excess lists, as info findings, what the live bindings of the subject grant
// beyond needed: the least-privilege report. Wildcards are reported as such.
func Excess(ctx context.Context, cs kubernetes.Interface, s Subject, needed []Permission) ([]finding.Finding, error) {
	grants, err := liveGrants(ctx, cs, s)
	if err != nil {
		return nil, err
	}
	type key struct{ via, resource, where string }
	extra := map[key][]string{}
	for _, g := range grants {
		if covered(g, s, needed) {
			continue
		}
		res, sub, _ := strings.Cut(g.resource, "/")
		if g.group != "" {
			res += "." + g.group
		}
		if sub != "" {
			res += "/" + sub
		}
		k := key{g.via, res, where(g.namespace)}
		extra[k] = append(extra[k], g.verb)
	}
	keys := make([]key, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].via != keys[j].via {
			return keys[i].via < keys[j].via
		}
		return keys[i].resource < keys[j].resource
	})
	var out []finding.Finding
	for _, k := range keys {
		verbs := extra[k]
		sort.Strings(verbs)
		out = append(out, finding.Finding{Check: CheckLeastPrivilege, Severity: finding.Info, Object: k.via,
			Message: fmt.Sprintf("grants %s on %s %s beyond what the operator needs", strings.Join(verbs, ","), k.resource, k.where)})
	}
	return out, nil
}

// ExcessSummary is the least-privilege report in one line, for a run report
// that shows it beside the spec.
func ExcessSummary(fs []finding.Finding) string {
	if len(fs) == 0 {
		return "least privilege: the live bindings grant nothing beyond what the operator needs"
	}
	parts := make([]string, 0, len(fs))
	for _, f := range fs {
		parts = append(parts, f.Object+" "+strings.TrimSuffix(f.Message, " beyond what the operator needs"))
	}
	return fmt.Sprintf("least privilege: %d grant(s) beyond what the operator needs (a report, not a failure): %s", len(fs), strings.Join(parts, "; "))
}

func covered(g grant, s Subject, needed []Permission) bool {
	for _, p := range needed {
		res := p.Resource
		if p.Subresource != "" {
			res += "/" + p.Subresource
		}
		if p.Group != g.group || res != g.resource || !contains(p.Verbs, g.verb) {
			continue
		}
		switch p.Scope {
		case AllNamespaces, ClusterScoped:
			return true
		case OperatorNamespace:
			if g.namespace == s.Namespace {
				return true
			}
		}
	}
	return false
}

func liveGrants(ctx context.Context, cs kubernetes.Interface, s Subject) ([]grant, error) {
	var out []grant
	crbs, err := cs.RbacV1().ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbaccheck: listing ClusterRoleBindings: %w", err)
	}
	for _, b := range crbs.Items {
		if !bindsSubject(b.Subjects, s) || b.RoleRef.Kind != "ClusterRole" {
			continue
		}
		cr, err := cs.RbacV1().ClusterRoles().Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("rbaccheck: ClusterRoleBinding/%s refers to ClusterRole/%s: %w", b.Name, b.RoleRef.Name, err)
		}
		out = append(out, expand(cr.Rules, "", "ClusterRole/"+cr.Name+" via ClusterRoleBinding/"+b.Name)...)
	}
	rbs, err := cs.RbacV1().RoleBindings("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("rbaccheck: listing RoleBindings: %w", err)
	}
	for _, b := range rbs.Items {
		if !bindsSubject(b.Subjects, s) {
			continue
		}
		var rules []rbacv1.PolicyRule
		switch b.RoleRef.Kind {
		case "Role":
			r, err := cs.RbacV1().Roles(b.Namespace).Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("rbaccheck: RoleBinding %s/%s refers to Role/%s: %w", b.Namespace, b.Name, b.RoleRef.Name, err)
			}
			rules = r.Rules
		case "ClusterRole":
			r, err := cs.RbacV1().ClusterRoles().Get(ctx, b.RoleRef.Name, metav1.GetOptions{})
			if err != nil {
				return nil, fmt.Errorf("rbaccheck: RoleBinding %s/%s refers to ClusterRole/%s: %w", b.Namespace, b.Name, b.RoleRef.Name, err)
			}
			rules = r.Rules
		}
		out = append(out, expand(rules, b.Namespace, b.RoleRef.Kind+"/"+b.RoleRef.Name+" via RoleBinding "+b.Namespace+"/"+b.Name)...)
	}
	return out, nil
}

func bindsSubject(subs []rbacv1.Subject, s Subject) bool {
	for _, sub := range subs {
		if sub.Kind == rbacv1.ServiceAccountKind && sub.Name == s.Name && sub.Namespace == s.Namespace {
			return true
		}
	}
	return false
}

func expand(rules []rbacv1.PolicyRule, ns, via string) []grant {
	var out []grant
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out = append(out, grant{group: g, resource: res, verb: v, namespace: ns, via: via})
				}
			}
		}
		for _, u := range r.NonResourceURLs {
			for _, v := range r.Verbs {
				out = append(out, grant{resource: "nonResourceURL " + u, verb: v, via: via})
			}
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
