package rbaccheck

import (
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

// The least-privilege report is info only (it can never fail a spec) and
// its one-line summary, shown as the spec's skip reason, names each grant.
func TestExcessIsInfoAndTheSummaryNamesEachGrant(t *testing.T) {
	s := Subject{Namespace: "database", Name: "op"}
	cs := fake.NewClientset(
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "manager"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "delete"}},
		}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "manager-rolebinding"},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "manager"},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: s.Namespace, Name: s.Name}}},
	)
	fs, err := Excess(t.Context(), cs, s, Needed)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || len(finding.Violations(fs)) != 0 {
		t.Fatalf("want one info finding (secrets), got %v", fs)
	}
	sum := ExcessSummary(fs)
	for _, want := range []string{"1 grant(s)", "ClusterRole/manager via ClusterRoleBinding/manager-rolebinding grants delete,get on secrets cluster-wide", "not a failure"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary %q lacks %q", sum, want)
		}
	}
	if got := ExcessSummary(nil); !strings.Contains(got, "nothing beyond") {
		t.Errorf("empty report: %q", got)
	}
}
