package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/dragonfly-e2e/dragonfly-e2e"

// notPublic are the module's top-level folders whose packages may use
// internal/: the binaries, the suites, and internal itself.
var notPublic = []string{"internal", "cmd", "suites"}

// testMayImport is what the tests of a public package may reach under
// internal/: only config, because a test that needs a setting (an offline
// source, a host tool switch) has no other way to read the environment
// (TestNoEnvironmentAccessOutsideConfig). Test files never reach a user of
// the package.
var testMayImport = map[string]bool{"internal/config": true}

// tagSets are the build-tag sets the rule is checked under, so a file behind
// a tag cannot hide an import.
var tagSets = []string{"", "e2e,kind"}

type listed struct {
	ImportPath   string
	Imports      []string
	Deps         []string
	TestImports  []string
	XTestImports []string
}

// TestPublicPackagesImportNoInternal fails, naming the package and the
// internal package it reaches, when a top-level public package (loadgen,
// reports, operator, verdict, fixtures, …) depends on internal/ — directly or
// through another package. Those packages are importable from outside the
// module, where internal/ is not.
func TestPublicPackagesImportNoInternal(t *testing.T) {
	var bad []string
	for _, tags := range tagSets {
		pkgs := list(t, tags)
		bad = append(bad, violations(pkgs)...)
	}
	bad = unique(bad)
	if len(bad) > 0 {
		t.Fatalf("public packages must not depend on %s/internal/...: take the value as a parameter or an option the caller fills, or move the code under internal/:\n  %s",
			module, strings.Join(bad, "\n  "))
	}
}

// list runs `go list -deps -test` over the module: every package with its
// transitive dependencies and its tests' imports.
func list(t *testing.T, tags string) map[string]listed {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	args := []string{"list", "-deps", "-test", "-json=ImportPath,Imports,Deps,TestImports,XTestImports"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.Command(goBin, append(args, module+"/...")...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	pkgs := map[string]listed{}
	dec := json.NewDecoder(&out)
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list: %v", err)
		}
		// -test adds the test variants ("p [p.test]", "p.test"); the plain
		// entries carry TestImports and XTestImports already.
		if !strings.Contains(p.ImportPath, " ") && !strings.HasSuffix(p.ImportPath, ".test") {
			pkgs[p.ImportPath] = p
		}
	}
	return pkgs
}

// violations lists, for every public package, each internal package its
// code depends on and each one its tests depend on beyond testMayImport.
func violations(pkgs map[string]listed) []string {
	var bad []string
	for path, p := range pkgs {
		if !public(path) {
			continue
		}
		for _, in := range reached(pkgs, p.Imports) {
			bad = append(bad, short(path)+" imports "+in)
		}
		for _, in := range reached(pkgs, append(append([]string{}, p.TestImports...), p.XTestImports...)) {
			if !testMayImport[strings.Fields(in)[0]] {
				bad = append(bad, short(path)+" (tests) import "+in)
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// reached is every internal package among imports and their dependencies,
// each as "internal/x" or "internal/x (via y)".
func reached(pkgs map[string]listed, imports []string) []string {
	var out []string
	for _, imp := range imports {
		if isInternal(imp) {
			out = append(out, short(imp))
			continue
		}
		for _, d := range pkgs[imp].Deps {
			if isInternal(d) {
				out = append(out, short(d)+" (via "+short(imp)+")")
			}
		}
	}
	return out
}

func public(path string) bool {
	rel, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return false
	}
	top, _, _ := strings.Cut(rel, "/")
	for _, n := range notPublic {
		if top == n {
			return false
		}
	}
	return true
}

func isInternal(path string) bool { return strings.HasPrefix(path, module+"/internal/") }

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

func unique(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// The checker itself: direct and indirect internal imports of code are
// found, a test's internal/config is allowed and anything else is not, and
// packages outside the public folders are ignored.
func TestViolationsChecker(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	pkgs := map[string]listed{
		m("pub"):           {ImportPath: m("pub"), Imports: []string{"fmt", m("pub/sub")}, TestImports: []string{m("internal/config")}},
		m("pub/sub"):       {ImportPath: m("pub/sub"), Imports: []string{m("helper")}, Deps: []string{m("helper"), m("internal/wait")}},
		m("helper"):        {ImportPath: m("helper"), Imports: []string{m("internal/wait")}, Deps: []string{m("internal/wait")}},
		m("other"):         {ImportPath: m("other"), XTestImports: []string{m("internal/kube/x")}},
		m("internal/y"):    {ImportPath: m("internal/y"), Imports: []string{m("internal/wait")}},
		m("cmd/tool"):      {ImportPath: m("cmd/tool"), Imports: []string{m("internal/wait")}},
		m("internal/wait"): {ImportPath: m("internal/wait")},
	}
	got := strings.Join(violations(pkgs), "\n")
	want := strings.Join([]string{
		"helper imports internal/wait",
		"other (tests) import internal/kube/x",
		"pub imports internal/wait (via pub/sub)",
		"pub/sub imports internal/wait (via helper)",
	}, "\n")
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
