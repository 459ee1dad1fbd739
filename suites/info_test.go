package suites

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

// InfoPrefix starts the skip message of a spec that only reports (a
// least-privilege report, "no webhook ships"): such a spec could not fail,
// so it must not add to the pass count. The run report shows the message
// as the skip reason.
const InfoPrefix = "info: "

// infoReason is the skip message of a spec whose findings are all info.
func infoReason(fs []finding.Finding) string {
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.Message)
	}
	return InfoPrefix + strings.Join(msgs, "; ")
}

// infoOnlyCalls are checks whose outcome, in the spec that calls them, is a
// report that cannot fail. Each spec calling one must end in an info skip;
// the value says when ("always", or the argument that makes it report-only).
var infoOnlyCalls = map[string]string{
	"rbaccheck.Excess": "always",
	// On the bundle under test, which ships no webhook: the finding "none
	// ships" is info. The planted webhook mutants call it on their own
	// objects and stay real, failing specs.
	"admissioncheck.CheckWebhooks": "bundle.Objects",
}

// The e2e specs carry a build tag, so they are read as source here: a spec
// that only reports must say so in its skip, never pass.
func TestReportOnlySpecsEndAsInfoSkips(t *testing.T) {
	fset := token.NewFileSet()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			it, ok := n.(*ast.CallExpr)
			if !ok || calleeName(it) != "It" || len(it.Args) < 2 {
				return true
			}
			title := literalText(it.Args[0])
			var reportOnly []string
			infoSkip := false
			ast.Inspect(it, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				name := calleeName(c)
				if when, ok := infoOnlyCalls[name]; ok && (when == "always" || mentions(c, when)) {
					reportOnly = append(reportOnly, name)
				}
				if name == "Skip" && len(c.Args) == 1 && isInfoMessage(c.Args[0]) {
					infoSkip = true
				}
				return true
			})
			pos := fset.Position(it.Pos())
			if strings.Contains(title, "[info]") && !infoSkip {
				t.Errorf("%s: spec %q says [info] but does not end in Skip(InfoPrefix+…)", pos, title)
			}
			for _, c := range reportOnly {
				checked[c] = true
				if !infoSkip {
					t.Errorf("%s: spec %q calls %s, which only reports here, and would count as passed: end it in Skip(InfoPrefix+…) or infoReason", pos, title, c)
				}
				if infoOnlyCalls[c] == "always" && !strings.Contains(title, "[info]") {
					t.Errorf("%s: spec %q only reports (%s): its title must say [info]", pos, title, c)
				}
			}
			return true
		})
	}
	for c := range infoOnlyCalls {
		if !checked[c] {
			t.Errorf("no spec calls %s as a report: update infoOnlyCalls", c)
		}
	}
}

func calleeName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

// literalText joins the string literals of a title expression.
func literalText(e ast.Expr) string {
	var b strings.Builder
	ast.Inspect(e, func(n ast.Node) bool {
		if l, ok := n.(*ast.BasicLit); ok && l.Kind == token.STRING {
			s, _ := strconv.Unquote(l.Value)
			b.WriteString(s)
		}
		return true
	})
	return b.String()
}

// isInfoMessage: InfoPrefix + …, or infoReason(…).
func isInfoMessage(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.BinaryExpr:
		for x.Op == token.ADD {
			l, ok := x.X.(*ast.BinaryExpr)
			if !ok {
				break
			}
			x = l
		}
		id, ok := x.X.(*ast.Ident)
		return ok && id.Name == "InfoPrefix"
	case *ast.CallExpr:
		return calleeName(x) == "infoReason"
	}
	return false
}

// mentions reports whether the selector sel (e.g. "bundle.Objects") occurs in n.
func mentions(n ast.Node, sel string) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if x, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := x.X.(*ast.Ident); ok && id.Name+"."+x.Sel.Name == sel {
				found = true
			}
		}
		return !found
	})
	return found
}
