package artifacts

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
)

type spec struct {
	failed bool
	text   string
}

func (s spec) Failed() bool     { return s.failed }
func (s spec) FullText() string { return s.text }

func TestDir(t *testing.T) {
	if Dir("") != DefaultDir || Dir("/tmp/a") != "/tmp/a" {
		t.Fatal("Dir: the setting wins, else the default")
	}
}

func TestSpecDirIsOneSafeName(t *testing.T) {
	got := SpecDir("out", "Installing the bundled operator lands every object in database/x: ok?")
	want := filepath.Join("out", "Installing_the_bundled_operator_lands_every_object_in_database_x_ok_")
	if got != want {
		t.Fatalf("SpecDir = %q, want %q", got, want)
	}
}

func TestRelevant(t *testing.T) {
	ns := []string{"dfe2e-selftest-subject"}
	for name, want := range map[string]bool{
		"dragonfly-operator-manager-role":                  true,
		"dfe2e-selftest-subject-dragonfly-operator-role":   true,
		"dfe2e-selftest-subject-x":                         true,
		"system:controller:persistent-volume-binder":       false,
		"cluster-admin":                                    false,
		"dfe2e-selftest-oldrbac-some-role-of-another-spec": false,
	} {
		if Relevant(name, ns) != want {
			t.Errorf("Relevant(%q) = %v, want %v", name, !want, want)
		}
	}
}

func TestOnFailureWritesTheSpecsObjectsOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := fakecluster.Client(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "database"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "dragonfly-operator-controller-manager"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "unrelated-sa"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "dragonfly-operator-manager-role"}},
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "system:aggregate-to-view"}},
	)
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, f) }

	OnFailure(ctx, c, dir, spec{failed: false, text: "passing spec"}, logf, "database")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a passing spec wrote %d entries", len(entries))
	}

	OnFailure(ctx, c, dir, spec{failed: true, text: "The operator's RBAC allows it"}, logf, "database")
	b, err := os.ReadFile(filepath.Join(dir, "The_operator_s_RBAC_allows_it", "objects.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{"name: dragonfly-operator-controller-manager", "name: dragonfly-operator-manager-role", "kind: ClusterRole"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	for _, not := range []string{"unrelated-sa", "system:aggregate-to-view"} {
		if strings.Contains(out, not) {
			t.Errorf("dump holds %q:\n%s", not, out)
		}
	}
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "dumped objects") {
		t.Errorf("logged %v", logged)
	}
}

func TestOnFailureWithoutClient(t *testing.T) {
	dir := t.TempDir()
	OnFailure(context.Background(), nil, dir, spec{failed: true, text: "x"}, t.Logf)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatal("no client, no dump")
	}
}
