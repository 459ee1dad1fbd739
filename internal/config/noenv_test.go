package config

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// envFuncs are the os functions that read or change the process
// environment; outside this package they would bypass Settings.
var envFuncs = map[string]bool{
	"Getenv": true, "LookupEnv": true, "Setenv": true, "Unsetenv": true,
	"Environ": true, "Clearenv": true, "ExpandEnv": true,
}

// environAllowed says where os.Environ() may stay outside this package: only
// where a child process inherits the environment, which passes settings on
// rather than reading them. Each entry is a file, the call os.Environ() is
// handed to there, and why.
var environAllowed = []struct{ file, into, why string }{
	{"*", "append→.Env", "an exec.Cmd inherits this process's environment (PATH, GOCACHE, …) plus a few variables of its own"},
	{"*", "syscall.Exec", "the process replaces itself with another program, which inherits its environment"},
	{"internal/data/dfstandin/main.go", "ParseArgs", "the stand-in is a container entrypoint emulating Dragonfly, which takes DFLY_* flags from its environment; those are the container's input, not dfe2e settings"},
}

// TestNoEnvironmentAccessOutsideConfig fails, listing file:line, wherever
// code other than this package touches the environment through os.
func TestNoEnvironmentAccessOutsideConfig(t *testing.T) {
	root := moduleRoot(t)
	var bad []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case "vendor", ".git", "testdata":
				return filepath.SkipDir
			}
			if rel == "internal/config" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		found, err := envCalls(path, rel)
		bad = append(bad, found...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("the environment is read or changed outside internal/config; use config.FromEnv() / Settings.Env() (t.Setenv in tests):\n  %s", strings.Join(bad, "\n  "))
	}
}

// envCalls returns file:line: call for each disallowed os environment call in
// one file. It parses rather than greps, so comments and strings do not count
// and every build tag's files are seen.
func envCalls(path, rel string) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	osName := ""
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == "os" {
			osName = "os"
			if imp.Name != nil {
				osName = imp.Name.Name
			}
		}
	}
	if osName == "" {
		return nil, nil
	}
	var out []string
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !envFuncs[sel.Sel.Name] {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != osName {
			return true
		}
		if sel.Sel.Name == "Environ" && environOK(rel, stack) {
			return true
		}
		out = append(out, fmt.Sprintf("%s:%d: os.%s", rel, fset.Position(call.Pos()).Line, sel.Sel.Name))
		return true
	})
	return out, nil
}

// environOK reports whether the os.Environ() call on top of stack is handed
// to one of environAllowed's calls.
func environOK(rel string, stack []ast.Node) bool {
	into := ""
	i := len(stack) - 1
	// Climb append(append(os.Environ(), …), …) chains: the first argument
	// of each append.
	for i > 0 {
		parent, ok := stack[i-1].(*ast.CallExpr)
		if !ok || !isIdent(parent.Fun, "append") || len(parent.Args) == 0 || parent.Args[0] != stack[i] {
			break
		}
		i--
		into = "append"
	}
	if i == 0 {
		return false
	}
	switch p := stack[i-1].(type) {
	case *ast.AssignStmt:
		if into == "append" && len(p.Lhs) == 1 && len(p.Rhs) == 1 {
			if s, ok := p.Lhs[0].(*ast.SelectorExpr); ok && s.Sel.Name == "Env" {
				into = "append→.Env"
			}
		}
	case *ast.CallExpr:
		if into != "" {
			return false
		}
		switch fn := p.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := fn.X.(*ast.Ident); ok {
				into = x.Name + "." + fn.Sel.Name
			}
		case *ast.Ident:
			into = fn.Name
		}
	}
	for _, a := range environAllowed {
		if a.into == into && (a.file == "*" || a.file == rel) {
			return true
		}
	}
	return false
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// moduleRoot walks up from the test's working directory to the go.mod of
// this module.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/dragonfly-e2e/dragonfly-e2e\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod of github.com/dragonfly-e2e/dragonfly-e2e above the working directory")
		}
		dir = parent
	}
}

// The checker itself: each forbidden form is found, each allowed one is not.
func TestEnvCallsChecker(t *testing.T) {
	src := `package p

import (
	"os"
	"os/exec"
	"syscall"
)

func f(cmd *exec.Cmd) {
	_ = os.Getenv("A")         // 10
	_, _ = os.LookupEnv("B")   // 11
	os.Setenv("C", "1")        // 12
	os.Unsetenv("C")           // 13
	for range os.Environ() {   // 14
	}
	cmd.Env = append(os.Environ(), "X=1")
	cmd.Env = append(append(os.Environ(), "X=1"), "Y=2")
	_ = syscall.Exec("/bin/true", nil, os.Environ())
	_ = ParseArgs(nil, os.Environ()) // 19: allowed only in the stand-in's main.go
	env := append(os.Environ(), "X=1") // 20: not handed to a Cmd
	_ = env
	// os.Getenv in a comment is fine
	_ = "os.Getenv in a string is fine"
}

func ParseArgs(a, b []string) error { return nil }
`
	path := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := envCalls(path, "x/p.go")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"x/p.go:10: os.Getenv", "x/p.go:11: os.LookupEnv", "x/p.go:12: os.Setenv", "x/p.go:13: os.Unsetenv",
		"x/p.go:14: os.Environ", "x/p.go:19: os.Environ", "x/p.go:20: os.Environ"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	got, _ = envCalls(path, "internal/data/dfstandin/main.go")
	for _, g := range got {
		if strings.Contains(g, ":19:") {
			t.Fatalf("ParseArgs(…, os.Environ()) is allowed in the stand-in's main.go: %v", got)
		}
	}
}
