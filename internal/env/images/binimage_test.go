package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BuildCommand makes a static binary of a module's command, and a command
// that does not compile is an error naming it with the compiler's words.
func TestBuildCommand(t *testing.T) {
	mod := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(mod, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/tool\n\ngo 1.22\n")
	write("cmd/ok/main.go", "package main\n\nimport \"net\"\n\nfunc main() { _, _ = net.LookupHost(\"localhost\") }\n")
	write("cmd/broken/main.go", "package main\n\nfunc main() { undefinedCall() }\n")
	out := filepath.Join(t.TempDir(), "ok")
	if err := BuildCommand(context.Background(), mod, "./cmd/ok", out); err != nil {
		t.Fatal(err)
	}
	// net pulls in cgo unless it is off: static proves CGO_ENABLED=0.
	if static, err := IsStatic(out); err != nil || !static {
		t.Fatalf("built binary static=%v, %v", static, err)
	}
	err := BuildCommand(context.Background(), mod, "./cmd/broken", filepath.Join(t.TempDir(), "broken"))
	if err == nil || !strings.Contains(err.Error(), "go build ./cmd/broken") || !strings.Contains(err.Error(), "undefinedCall") {
		t.Fatalf("err = %v; want the package and the compiler's message", err)
	}
}
