package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/lint"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// run executes a fresh command and returns its exit code as main would.
func runLintCmd(t *testing.T, cmd *cobra.Command, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	code = exitOK
	if err != nil {
		code = exitBadInput
		var ee *exitError
		if errors.As(err, &ee) {
			code, err = ee.code, ee.err // withCode carries no error
		}
		if err != nil {
			errOut.WriteString(err.Error())
		}
	}
	return code, out.String(), errOut.String()
}

func lintTestSource(t *testing.T) string {
	t.Helper()
	dir := config.FromEnv().OperatorSource
	if dir == "" {
		t.Fatalf("%s is not set: run `make test-unit`, or export %s=<dir with <version>/%s> (e.g. ../shared/upstream/dragonfly-operator)", config.EnvOperatorSource, config.EnvOperatorSource, operator.ManifestFile)
	}
	return dir
}

// lintMutantDir writes the base tree with mutant name laid over it to a temporary directory.
func lintMutantDir(t *testing.T, name string) (dir, version string) {
	t.Helper()
	ms, err := fixtures.Mutants()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		fsys, err := m.Tree()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(t.TempDir(), "tree")
		if err := os.CopyFS(dir, fsys); err != nil {
			t.Fatal(err)
		}
		return dir, m.OperatorVersion
	}
	t.Fatalf("no mutant %s", name)
	return "", ""
}

func TestLintExitCodes(t *testing.T) {
	lintTestSource(t)
	if code, out, errOut := runLintCmd(t, newLintCmd()); code != exitOK || !strings.Contains(out, "clean") {
		t.Errorf("built-in tree: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	dir, _ := lintMutantDir(t, "healthcheck-guide-name")
	code, out, _ := runLintCmd(t, newLintCmd(), dir, "--format", "json")
	var report lint.Report
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("json output does not parse: %v\n%s", err, out)
	}
	if code != exitFailed || len(report.Findings) != 1 || report.Findings[0].Rule != "DFE003" {
		t.Errorf("mutant tree: exit %d, findings %+v", code, report.Findings)
	}
}

func TestLintBadInputExits2WithAClearMessage(t *testing.T) {
	src := lintTestSource(t)
	tampered := filepath.Join(t.TempDir(), "tampered.yaml")
	if err := os.WriteFile(tampered, []byte("kind: Namespace\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notTree := filepath.Join(t.TempDir(), "file.yaml")
	if err := os.WriteFile(notTree, []byte("a: b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	pin, _ := operator.Lookup(operator.DefaultVersion)
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown version", []string{"--operator-version", "v0.9.9"}, []string{"v0.9.9", "v1.5.0, v1.6.0, v1.6.1"}},
		{"sha256 mismatch", []string{"--operator-source", tampered}, []string{"sha256 mismatch", "expected " + pin.SHA256, "got ", tampered}},
		{"missing manifest", []string{"--operator-source", missing}, []string{missing, "--operator-source"}},
		{"version missing from source dir", []string{"--operator-source", t.TempDir()}, []string{filepath.Join(operator.DefaultVersion, operator.ManifestFile)}},
		{"tree path is a file", []string{notTree, "--operator-source", src}, []string{notTree, "not a directory"}},
		{"tree path missing", []string{missing, "--operator-source", src}, []string{missing}},
		{"bad format", []string{"--format", "xml"}, []string{"--format", "human or json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := runLintCmd(t, newLintCmd(), c.args...)
			if code != exitBadInput {
				t.Errorf("exit %d, want %d (stderr %q)", code, exitBadInput, errOut)
			}
			for _, w := range c.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("message %q lacks %q", errOut, w)
				}
			}
		})
	}
}

func TestLintRulesPrintsTheRegistry(t *testing.T) {
	code, out, _ := runLintCmd(t, newLintCmd(), "--rules")
	if code != exitOK || out != lint.RulesMarkdown() {
		t.Errorf("exit %d, output %q", code, out)
	}
}

func TestRenderPrintsRelocatedBundle(t *testing.T) {
	src := lintTestSource(t)
	code, out, errOut := runLintCmd(t, newRenderCmd(), "--operator-source", src, "--operator-version", "v1.6.0")
	if code != exitOK || !strings.Contains(out, "operator:v1.6.0") || strings.Contains(out, operator.UpstreamNamespace) {
		t.Errorf("exit %d, stderr %q, stdout has v1.6.0 image: %v", code, errOut, strings.Contains(out, "operator:v1.6.0"))
	}
	if code, _, errOut := runLintCmd(t, newRenderCmd(), "--operator-version", "latest"); code != exitBadInput || !strings.Contains(errOut, "latest") {
		t.Errorf("unknown version: exit %d, stderr %q", code, errOut)
	}
}
