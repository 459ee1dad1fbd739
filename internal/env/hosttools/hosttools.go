// Package hosttools lets tests demand the host commands `make deps`
// installs. Tests never install anything themselves: a missing tool fails
// the test with the command that fixes it, so a run cannot pass with those
// tests silently unexercised.
package hosttools

import (
	"os"
	"os/exec"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// TB is the part of testing.TB that Require uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
}

// Missing returns, sorted, the tools absent from this host: a name is looked
// up on PATH, an absolute path must exist.
func Missing(tools ...string) []string {
	var out []string
	for _, tool := range tools {
		if strings.HasPrefix(tool, "/") {
			if _, err := os.Stat(tool); err == nil {
				continue
			}
		} else if _, err := exec.LookPath(tool); err == nil {
			continue
		}
		out = append(out, tool)
	}
	sort.Strings(out)
	return out
}

// Require fails t unless every tool exists (tool → the Debian package that
// provides it); with DFE2E_ALLOW_MISSING_TOOLS=1 it skips t instead, for a
// deliberately partial run on a machine without the tools.
func Require(t TB, tools map[string]string) {
	t.Helper()
	names := make([]string, 0, len(tools))
	for tool := range tools {
		names = append(names, tool)
	}
	missing := Missing(names...)
	if len(missing) == 0 {
		return
	}
	pkgs := map[string]bool{}
	var list []string
	for _, m := range missing {
		if p := tools[m]; p != "" && !pkgs[p] {
			pkgs[p] = true
			list = append(list, p)
		}
	}
	sort.Strings(list)
	msg := "missing host tools: " + strings.Join(missing, ", ")
	if len(list) > 0 {
		msg += " (Debian packages: " + strings.Join(list, " ") + ")"
	}
	msg += "; install them with `make deps` (root or sudo)"
	allow, err := config.FromEnv().AllowMissingToolsEnabled()
	if err != nil {
		t.Fatalf("%s; and %v", msg, err)
	}
	if allow {
		t.Skipf("%s — skipped because %s=1", msg, config.EnvAllowMissingTools)
		return
	}
	t.Fatalf("%s, or set %s=1 to skip the tests that need them", msg, config.EnvAllowMissingTools)
}
