package registry

import (
	"context"
	"os"
	"path/filepath"

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
	if err := images.BuildCommand(ctx, source, "./cmd/dfe2e-registry", bin); err != nil {
		return "", "", err
	}
	b := images.BinaryImage{Repo: ImageRepo, Dir: filepath.Join(k8sbuild.CacheRoot(), "images"), Recipe: imageRecipe}
	return b.Ensure(bin, "dfe2e-registry", images.Logf(logf))
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
