package hosttools

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

type fakeT struct{ fatal, skip string }

func (f *fakeT) Helper()                        {}
func (f *fakeT) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeT) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...) }

func TestRequireFailsWithTheFixUnlessSkippingIsAllowed(t *testing.T) {
	tools := map[string]string{"dfe2e-no-such-tool": "no-such-package", "/no/such/file": "other-package", "go": "golang"}
	t.Setenv(config.EnvAllowMissingTools, "")
	var f fakeT
	Require(&f, tools)
	if f.skip != "" || !strings.Contains(f.fatal, "/no/such/file, dfe2e-no-such-tool") ||
		!strings.Contains(f.fatal, "no-such-package other-package") || !strings.Contains(f.fatal, "make deps") || strings.Contains(f.fatal, "golang") {
		t.Fatalf("fatal %q skip %q", f.fatal, f.skip)
	}
	t.Setenv(config.EnvAllowMissingTools, "1")
	f = fakeT{}
	Require(&f, tools)
	if f.fatal != "" || !strings.Contains(f.skip, "make deps") {
		t.Fatalf("fatal %q skip %q", f.fatal, f.skip)
	}
	f = fakeT{}
	Require(&f, map[string]string{"go": "golang"})
	if f.fatal != "" || f.skip != "" {
		t.Fatalf("present tool: fatal %q skip %q", f.fatal, f.skip)
	}
}
