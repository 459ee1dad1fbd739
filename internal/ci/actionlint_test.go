package ci

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// The workflows the README tells users to copy; the test fails if one is
// missing, so a rename cannot silently drop it from linting.
var wantWorkflows = []string{"e2e.yml", "nightly.yml", "release-gate.yml"}

func root(t *testing.T) string {
	t.Helper()
	r, err := RepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestWorkflowsLintClean(t *testing.T) {
	r := root(t)
	files, err := Workflows(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wantWorkflows {
		if _, err := os.Stat(filepath.Join(r, WorkflowDir, w)); err != nil {
			t.Errorf("%s/%s: %v", WorkflowDir, w, err)
		}
	}
	errs, err := LintFiles(r, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		t.Errorf("%s:%d:%d: %s [%s]", e.Filepath, e.Line, e.Column, e.Message, e.Kind)
	}
	t.Logf("actionlint: %d workflow files, %d errors", len(files), len(errs))
}

func TestWorkflowsPortable(t *testing.T) {
	r := root(t)
	files, err := Workflows(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(r, f)
		for _, p := range Portability(rel, src) {
			t.Error(p)
		}
	}
}

// Planted defects: workflows broken on purpose. Each must be reported at its
// line with actionlint's message, which proves the clean verdict above comes
// from a linter that looks, not one that was never fed the files.
func TestPlantedDefectsReported(t *testing.T) {
	cases := []struct {
		name, src string
		line      int
		message   string
	}{
		{
			name: "unknown key in a job (runs_on for runs-on)",
			src: `on: push
jobs:
  build:
    runs_on: ubuntu-24.04
    steps:
      - run: make test
`,
			line:    4,
			message: `unexpected key "runs_on" for "job" section`,
		},
		{
			name: "matrix property that the matrix does not define",
			src: `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    strategy:
      matrix:
        os: [ubuntu-24.04]
    steps:
      - run: echo "${{ matrix.nope }}"
`,
			line:    9,
			message: `property "nope" is not defined in object type {os: string}`,
		},
		{
			name: "input that the pinned action does not have",
			src: `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/upload-artifact@v7
        with:
          name: reports
          paths: artifacts/
`,
			line:    9,
			message: `input "paths" is not defined in action "actions/upload-artifact@v7"`,
		},
		{
			name: "workflow_dispatch input that is not declared",
			src: `on:
  workflow_dispatch:
    inputs:
      operator_version:
        type: string
jobs:
  gate:
    runs-on: ubuntu-24.04
    steps:
      - run: echo "${{ inputs.operator_versoin }}"
`,
			line:    10,
			message: `property "operator_versoin" is not defined in object type {operator_version: string}`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs, err := LintSource("planted.yml", []byte(c.src))
			if err != nil {
				t.Fatal(err)
			}
			if !reported(errs, c.line, c.message) {
				t.Errorf("want planted.yml:%d: %q; actionlint reported:\n%s", c.line, c.message, list(errs))
			}
		})
	}
}

// A planted portability defect: a branch-pinned action and an offline copy
// beside the checkout are both named with their line.
func TestPlantedPortabilityDefectsReported(t *testing.T) {
	src := `on: push
jobs:
  build:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@main
      - run: make e2e DFE2E_OPERATOR_SOURCE=../shared/upstream/dragonfly-operator
      - uses: actions/setup-go@v6
`
	got := strings.Join(Portability("planted.yml", []byte(src)), "\n")
	for _, want := range []string{
		`planted.yml:6:15: "actions/checkout@main" is not pinned to a version tag`,
		`planted.yml:7:45: "../shared" exists only on the development machine`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "setup-go") {
		t.Errorf("actions/setup-go@v6 is pinned to a version tag, yet reported:\n%s", got)
	}
}

func reported(errs []*actionlint.Error, line int, message string) bool {
	for _, e := range errs {
		if e.Line == line && strings.Contains(e.Message, message) {
			return true
		}
	}
	return false
}

func list(errs []*actionlint.Error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString("  " + e.Error() + "\n")
	}
	if b.Len() == 0 {
		return "  (nothing)\n"
	}
	return b.String()
}
