package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// The load generator's image: one static dfe2e binary (CGO_ENABLED=0) on an
// empty base, run as nobody, for the in-cluster load Job. Built here when no
// registry is reachable, tagged by the binary's hash, so a rebuilt binary
// gets a new tag and kubelet never runs a stale one.
const (
	LoadgenRepo   = "dfe2e.local/dfe2e-loadgen"
	loadgenRecipe = "loadgen-v1"
	// LoadgenUID is the image's user (nobody).
	LoadgenUID = nobodyUID
)

// LoadgenImage is a built loadgen image: its reference and docker-save archive.
type LoadgenImage struct{ Ref, Archive string }

// BuildStaticDfe2e builds ./cmd/dfe2e of the module at moduleDir with
// CGO_ENABLED=0 into the cache and returns the binary's path.
func BuildStaticDfe2e(ctx context.Context, moduleDir string, logf Logf) (string, error) {
	if _, err := os.Stat(filepath.Join(moduleDir, "cmd", "dfe2e")); err != nil {
		return "", fmt.Errorf("no cmd/dfe2e under %s: run from the dragonfly-e2e checkout, or give --image", moduleDir)
	}
	dir := filepath.Join(k8sbuild.CacheRoot(), "loadgen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	start := time.Now()
	logf("building a static dfe2e (CGO_ENABLED=0) for the load Job image")
	bin, err := buildCommandIn(ctx, moduleDir, "./cmd/dfe2e", dir)
	if err != nil {
		return "", err
	}
	logf("built a static dfe2e in %s", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// EnsureLoadgen returns the image holding binary (a static dfe2e), writing
// its archive when the cache lacks it.
func EnsureLoadgen(binary string, logf Logf) (*LoadgenImage, error) {
	static, err := IsStatic(binary)
	if err != nil {
		return nil, fmt.Errorf("loadgen binary %s: %w", binary, err)
	}
	if !static {
		return nil, fmt.Errorf("loadgen binary %s is dynamically linked; the image has no libc: build it with CGO_ENABLED=0", binary)
	}
	b := BinaryImage{Repo: LoadgenRepo, Dir: filepath.Join(k8sbuild.CacheRoot(), "loadgen"), Recipe: loadgenRecipe}
	archive, ref, err := b.Ensure(binary, "dfe2e", logf)
	if err != nil {
		return nil, err
	}
	return &LoadgenImage{Ref: ref, Archive: archive}, nil
}

// ModuleRoot is the directory of the go.mod governing dir ("" when none).
func ModuleRoot(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return ""
	}
	return filepath.Dir(mod)
}
