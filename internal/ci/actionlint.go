// Package ci checks the GitHub Actions workflows in .github/workflows with
// actionlint, linked as a library so that `go test ./...` lints them with no
// tool to install.
package ci

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/rhysd/actionlint"
)

// WorkflowDir is where GitHub reads workflows from, relative to the repository root.
const WorkflowDir = ".github/workflows"

// newLinter returns a linter that writes nothing and runs no external
// program: Shellcheck and Pyflakes stay empty, which turns their rules off,
// so the verdict is the same on every machine whatever is on its PATH.
func newLinter(workDir string) (*actionlint.Linter, error) {
	return actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{
		Color:      actionlint.ColorOptionKindNever,
		WorkingDir: workDir,
	})
}

// Workflows lists the workflow files of the repository at root, sorted.
func Workflows(root string) ([]string, error) {
	var files []string
	for _, pat := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, WorkflowDir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return files, nil
}

// LintFiles lints workflow files; the findings name each file relative to root.
func LintFiles(root string, files []string) ([]*actionlint.Error, error) {
	l, err := newLinter(root)
	if err != nil {
		return nil, err
	}
	return l.LintFiles(files, nil)
}

// LintSource lints one workflow given as text; name is the file name the
// findings carry (it need not exist).
func LintSource(name string, src []byte) ([]*actionlint.Error, error) {
	l, err := newLinter("")
	if err != nil {
		return nil, err
	}
	return l.Lint(name, src, nil)
}

// versionTag is what a third-party action reference must end in: a release
// tag (v4, v2.20.0), never a branch, so a run today and a run next month use
// the same action code unless someone bumps it here.
var versionTag = regexp.MustCompile(`@v[0-9]+(\.[0-9]+){0,2}$`)

// machineLocal are strings that only make sense on the machine this project
// is developed on (offline copies beside the checkout, the offline switch); a
// workflow that needs them would fail on a hosted runner.
var machineLocal = []string{"../shared", "DFE2E_OFFLINE"}

// Portability returns what keeps a workflow from running unchanged on a
// hosted runner of another repository: action references not pinned to a
// version tag, and references to this machine's local resources. Each line is
// "name:line:col: message".
func Portability(name string, src []byte) []string {
	var out []string
	for i, line := range strings.Split(string(src), "\n") {
		for _, s := range machineLocal {
			if c := strings.Index(line, s); c >= 0 {
				out = append(out, fmt.Sprintf("%s:%d:%d: %q exists only on the development machine; a hosted runner has no such thing", name, i+1, c+1, s))
			}
		}
	}
	w, _ := actionlint.Parse(src) // syntax errors are actionlint's to report
	if w == nil {
		return out
	}
	for _, id := range sortedKeys(w.Jobs) {
		j := w.Jobs[id]
		if j.WorkflowCall != nil && j.WorkflowCall.Uses != nil {
			out = append(out, checkUses(name, j.WorkflowCall.Uses)...)
		}
		for _, st := range j.Steps {
			if e, ok := st.Exec.(*actionlint.ExecAction); ok && e.Uses != nil {
				out = append(out, checkUses(name, e.Uses)...)
			}
		}
	}
	return out
}

func checkUses(name string, u *actionlint.String) []string {
	v := u.Value
	if strings.HasPrefix(v, "./") || strings.HasPrefix(v, "docker://") || versionTag.MatchString(v) {
		return nil
	}
	return []string{fmt.Sprintf("%s:%d:%d: %q is not pinned to a version tag (owner/repo@vN or @vN.N.N)", name, u.Pos.Line, u.Pos.Col, v)}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// RepoRoot walks up from dir to the directory holding go.mod.
func RepoRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = p
	}
}
