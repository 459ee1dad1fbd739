package images

import (
	"os"
	"strings"
	"testing"
)

// `make test` checks the host tools with hack/deps.sh before any test runs,
// so that EnsureStandIn in a test never finds one missing and installs it:
// the script must list every stand-in tool with the same package.
func TestDepsScriptListsStandInTools(t *testing.T) {
	b, err := os.ReadFile("../../../hack/deps.sh")
	if err != nil {
		t.Fatal(err)
	}
	for tool, pkg := range StandInTools {
		if !strings.Contains(string(b), "\n  "+tool+":"+pkg+"\n") {
			t.Errorf("hack/deps.sh does not list %s:%s", tool, pkg)
		}
	}
}
