package registry

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
)

// ImageRepo is the repository of the registry image; its tag is a hash of
// the binary, so a changed registry never runs from a stale image.
const ImageRepo = "dfe2e.local/registry"

const imageRecipe = "registry-v1"

// EnsureImage builds cmd/dfe2e-registry of the checkout at source (static,
// CGO off) and returns the image archive (docker save format) and its
// reference, writing the archive when the cache lacks it.
func EnsureImage(ctx context.Context, source string, logf Logf) (archive, ref string, err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	work, err := os.MkdirTemp("", "dfe2e-registry-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "dfe2e-registry")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/dfe2e-registry")
	cmd.Dir = source
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/dfe2e-registry in %s failed after %s: %w\n%s", source, time.Since(start).Round(time.Second), err, out)
	}
	if static, err := images.IsStatic(bin); err != nil || !static {
		return "", "", fmt.Errorf("dfe2e-registry is not a static binary (err %v); its image has no libc", err)
	}
	sum, err := contenthash.File(bin)
	if err != nil {
		return "", "", err
	}
	ref = ImageRepo + ":" + sum[:16]
	archive = filepath.Join(k8sbuild.CacheRoot(), "images", imageRecipe+"-"+sum[:16]+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, ref, nil
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", "", err
	}
	a := images.Archive{
		Ref: ref,
		Files: []images.File{
			{Path: "/usr/local/bin/dfe2e-registry", Src: bin, Mode: 0o755},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		},
		Entrypoint: []string{"/usr/local/bin/dfe2e-registry"},
		User:       "65534:65534",
	}
	if err := images.WriteArchive(a, archive); err != nil {
		return "", "", fmt.Errorf("writing the registry image %s: %w", ref, err)
	}
	logf("registry image %s written to %s", ref, strings.TrimPrefix(archive, k8sbuild.CacheRoot()+"/"))
	images.PruneArchives(filepath.Dir(archive), imageRecipe, 3)
	return archive, ref, nil
}

// HostsToml is containerd's certs.d/<upstreamHost>/hosts.toml pulling
// through mirrorURL.
func HostsToml(upstreamHost, mirrorURL string) string {
	return kindconfig.HostsTOML(upstreamHost, mirrorURL)
}

// HostsTomlFiles maps every upstream host to its hosts.toml path in a node
// (/etc/containerd/certs.d/<host>/hosts.toml) and content.
func HostsTomlFiles(mirrorURL string, upstreamHosts ...string) (map[string]string, error) {
	m := map[string]string{}
	for _, h := range upstreamHosts {
		m[h] = mirrorURL
	}
	return kindconfig.HostsFiles(m)
}
