package lint

import (
	"context"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func options(t *testing.T, version string) gitops.Options {
	t.Helper()
	dir := config.FromEnv().OperatorSource
	if dir == "" {
		t.Fatalf("%s is not set: run `make test-unit`, or export %s=<dir with <version>/%s> (e.g. ../shared/upstream/dragonfly-operator)", config.EnvOperatorSource, config.EnvOperatorSource, operator.ManifestFile)
	}
	return gitops.Options{OperatorVersion: version, Source: operator.SourceOptions{Override: dir}}
}

func TestCleanTreeIsClean(t *testing.T) {
	tree, err := gitops.Render(context.Background(), fixtures.Tree(), "fixtures", options(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	r := Lint(tree, "")
	for _, f := range r.Findings {
		t.Errorf("clean tree: %s", f)
	}
	if len(r.Rules) != len(Rules()) || r.Objects < 15 {
		t.Errorf("report covers %d rules and %d objects", len(r.Rules), r.Objects)
	}
}

// Each planted defect must trip its rule with a message naming the defect.
func TestEveryMutantTripsItsRule(t *testing.T) {
	ms, err := fixtures.Mutants()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			fsys, err := m.Tree()
			if err != nil {
				t.Fatal(err)
			}
			tree, err := gitops.Render(context.Background(), fsys, "mutant "+m.Name, options(t, m.OperatorVersion))
			if err != nil {
				t.Fatal(err)
			}
			r := Lint(tree, m.OperatorVersion)
			var got []string
			for _, f := range r.Findings {
				if f.Rule == m.Rule && strings.Contains(f.Message, m.Message) {
					return
				}
				got = append(got, f.String())
			}
			t.Errorf("mutant %s (%s) did not trip %s with a message containing %q; findings:\n  %s",
				m.Name, m.Description, m.Rule, m.Message, strings.Join(got, "\n  "))
		})
	}
}

// A rule without a planted defect is a rule nobody has seen fail.
func TestEveryRuleHasAMutant(t *testing.T) {
	ms, err := fixtures.Mutants()
	if err != nil {
		t.Fatal(err)
	}
	proven := map[string]bool{}
	for _, m := range ms {
		proven[m.Rule] = true
	}
	for _, r := range Rules() {
		if !proven[r.ID] {
			t.Errorf("rule %s (%s) has no mutant in fixtures/mutants proving it fails", r.ID, r.Name)
		}
		if r.Description == "" || r.Remediation == "" || r.Name == "" {
			t.Errorf("rule %s lacks name, description or remediation", r.ID)
		}
	}
	for id := range proven {
		found := false
		for _, r := range Rules() {
			found = found || r.ID == id
		}
		if !found {
			t.Errorf("a mutant names rule %s, which is not registered", id)
		}
	}
}

func TestRulesMarkdownListsEveryRule(t *testing.T) {
	md := RulesMarkdown()
	for _, r := range Rules() {
		if !strings.Contains(md, "| "+r.ID+" | "+r.Name+" |") {
			t.Errorf("markdown lacks %s", r.ID)
		}
	}
}
