package rbaccheck

import (
	"os"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// The permissions table in suites/README.md is generated from Needed; this
// keeps the doc from drifting. Regenerate with DFE2E_WRITE_DOCS=1.
func TestSuitesReadmeHasTheNeededTable(t *testing.T) {
	const path = "../../../suites/README.md"
	const begin, end = "<!-- needed-permissions:begin -->\n", "<!-- needed-permissions:end -->"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q … %q markers", path, begin, end)
	}
	if got := doc[i+len(begin) : j]; got != Markdown() {
		write, err := config.FromEnv().WriteDocsEnabled()
		if err != nil {
			t.Fatal(err)
		}
		if write {
			if err := os.WriteFile(path, []byte(doc[:i+len(begin)]+Markdown()+doc[j:]), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Fatalf("%s: the needed-permissions table is stale; run DFE2E_WRITE_DOCS=1 go test ./internal/checks/rbaccheck", path)
	}
}
