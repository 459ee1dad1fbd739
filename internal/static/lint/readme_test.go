package lint

import (
	"os"
	"strings"
	"testing"
)

// The rule table in the top-level README is generated from the registry
// (`dfe2e lint --rules`); this keeps the two from drifting.
func TestReadmeHasTheRuleTable(t *testing.T) {
	b, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatalf("reading README.md: %v", err)
	}
	if !strings.Contains(string(b), strings.TrimSpace(RulesMarkdown())) {
		t.Fatal("README.md's rule table differs from the registry: paste the output of `go run ./cmd/dfe2e lint --rules` between the lint-rules markers")
	}
}
