package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
)

// TestEnsureImage builds cmd/dfe2e-registry into an image archive tagged by
// the binary's hash; a second call finds it.
func TestEnsureImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/dfe2e-registry")
	}
	root := images.ModuleRoot(context.Background(), ".")
	if root == "" {
		t.Skip("not in a checkout")
	}
	t.Setenv("DFE2E_CACHE", t.TempDir())
	archive, ref, err := EnsureImage(context.Background(), root, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ref, ImageRepo+":") || len(ref) != len(ImageRepo)+1+16 {
		t.Fatalf("ref %s", ref)
	}
	if !strings.HasPrefix(filepath.Base(archive), "registry-v1-") {
		t.Fatalf("archive %s", archive)
	}
	st, err := os.Stat(archive)
	if err != nil {
		t.Fatal(err)
	}
	a2, r2, err := EnsureImage(context.Background(), root, t.Logf)
	if err != nil || a2 != archive || r2 != ref {
		t.Fatalf("second call: %s %s %v", a2, r2, err)
	}
	if st2, _ := os.Stat(archive); !st2.ModTime().Equal(st.ModTime()) {
		t.Fatal("archive rewritten")
	}
}
