package lint

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func mutant(t *testing.T, name string) fixtures.Mutant {
	t.Helper()
	ms, err := fixtures.Mutants()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == name {
			return m
		}
	}
	t.Fatalf("no mutant %s in fixtures/mutants", name)
	return fixtures.Mutant{}
}

// lintMessages renders fsys and returns the messages of rule's findings.
func lintMessages(t *testing.T, fsys fstest.MapFS, what, rule string) []string {
	t.Helper()
	tree, err := gitops.Render(context.Background(), fsys, what, options(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range Lint(tree, "").Findings {
		if f.Rule == rule {
			out = append(out, f.Message)
		}
	}
	return out
}

func anyContains(msgs []string, s string) bool {
	for _, m := range msgs {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// The guide's healthCheck defect is proven by its wrong name appearing as
// the target the tree does not render; the correct name alone would also
// turn up in the listing of any other wrong healthCheck, so it proves
// nothing about this defect.
func TestHealthCheckMutantNamesTheGuidesNameAsTheMissingTarget(t *testing.T) {
	m := mutant(t, "healthcheck-guide-name")
	if !strings.Contains(m.Message, "Deployment "+operator.Namespace+"/dragonfly-operator (") {
		t.Errorf("mutant message %q must name Deployment %s/dragonfly-operator as the missing healthCheck target", m.Message, operator.Namespace)
	}
	fsys, err := m.Tree()
	if err != nil {
		t.Fatal(err)
	}
	const ks = "kubernetes/apps/database/dragonfly-operator/ks.yaml"
	mt := fsys.(fstest.MapFS)
	got := lintMessages(t, mt, "mutant "+m.Name, m.Rule)
	if !anyContains(got, m.Message) {
		t.Fatalf("mutant findings %q lack %q", got, m.Message)
	}
	// Control: a different wrong healthCheck must not satisfy the message.
	other := fstest.MapFS{}
	for p, f := range mt {
		other[p] = f
	}
	orig := string(mt[ks].Data)
	changed := strings.Replace(orig, "name: dragonfly-operator\n      namespace: database", "name: no-such-deployment\n      namespace: database", 1)
	if changed == orig {
		t.Fatalf("%s: the healthCheck naming dragonfly-operator was not found", ks)
	}
	other[ks] = &fstest.MapFile{Data: []byte(changed), Mode: 0o644}
	ctl := lintMessages(t, other, "control", m.Rule)
	if len(ctl) == 0 {
		t.Fatal("control: a healthCheck on no-such-deployment tripped nothing")
	}
	if anyContains(ctl, m.Message) {
		t.Errorf("mutant message %q also matches a healthCheck on another missing Deployment %q: it does not name this defect", m.Message, ctl)
	}
}

// The unprotected shared Namespace is proven by a message naming both the
// Namespace and the annotation it lacks.
func TestPruneMutantNamesTheNamespaceAndTheMissingAnnotation(t *testing.T) {
	m := mutant(t, "namespace-prune-unprotected")
	for _, want := range []string{"Namespace " + operator.Namespace, operator.PruneAnnotation + ": " + operator.PruneDisabled} {
		if !strings.Contains(m.Message, want) {
			t.Errorf("mutant message %q must name %q", m.Message, want)
		}
	}
	fsys, err := m.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if got := lintMessages(t, fsys.(fstest.MapFS), "mutant "+m.Name, m.Rule); !anyContains(got, m.Message) {
		t.Fatalf("mutant findings %q lack %q", got, m.Message)
	}
}
