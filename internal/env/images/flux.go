package images

import (
	"context"
	"embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// Flux controller images for clusters that reach no registry: each
// controller is built from its Go module by a build module of its own (a
// shared one would lift dependency versions past the controllers' pins),
// stored as data in fluxmodules/. Those modules repeat the controllers'
// replace directives that a dependent module otherwise ignores, and replace
// github.com/fluxcd/pkg/artifact v0.18.3 (refused by the module proxy) with
// v0.18.0 for source-controller.

//go:embed fluxmodules
var fluxModules embed.FS

// FluxController is one controller image built from Go modules.
type FluxController struct {
	Name, Version string
	Estimate      string // cold build on 2 cores
}

// Ref is the image name the Flux install manifests use.
func (c FluxController) Ref() string { return "ghcr.io/fluxcd/" + c.Name + ":" + c.Version }

// FluxControllers are the controllers of Flux v2.9.5 this project installs.
var FluxControllers = []FluxController{
	{Name: "source-controller", Version: "v1.9.5", Estimate: "≈8 min"},
	{Name: "kustomize-controller", Version: "v1.9.5", Estimate: "≈5 min"},
}

const fluxBuildFlags = "-trimpath -ldflags=-s -w"

func (c FluxController) image() moduleImage {
	return moduleImage{
		name: c.Name, version: c.Version, ref: c.Ref(),
		module:    subFS(fluxModules, "fluxmodules/"+c.Name),
		keyFields: []string{c.Name, c.Version, fluxBuildFlags},
		ldflags:   "-s -w", pkg: "github.com/fluxcd/" + c.Name, estimate: c.Estimate,
		user: "65534:65534",
		extra: []File{
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
			{Path: "/data/.keep", Data: []byte{}, Mode: 0o644},
		},
	}
}

// EnsureFluxImage returns an image archive (docker save format) of c,
// building the controller binary and the archive when the cache lacks them.
func EnsureFluxImage(ctx context.Context, c FluxController, logf Logf) (string, error) {
	return c.image().ensure(ctx, logf)
}

// EnsureFluxImages builds (or finds) every Flux controller image; one after
// the other, since each build already uses every core.
func EnsureFluxImages(ctx context.Context, logf Logf) ([]string, error) {
	var out []string
	for _, c := range FluxControllers {
		a, err := EnsureFluxImage(ctx, c, logf)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// GitServerRepo is the repository of the in-cluster git server image.
const GitServerRepo = "dfe2e.local/gitserver"

// EnsureGitServer builds cmd/dfe2e-gitserver of the module at root into an
// image archive tagged by the binary's hash, and returns archive and ref.
func EnsureGitServer(ctx context.Context, root string, logf Logf) (archive, ref string, err error) {
	work, err := os.MkdirTemp("", "dfe2e-gitserver-")
	if err != nil {
		return "", "", err
	}
	defer os.RemoveAll(work)
	bin := filepath.Join(work, "dfe2e-gitserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/dfe2e-gitserver")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/dfe2e-gitserver: %w\n%s", err, lastLines(out, 20))
	}
	sum, err := contenthash.File(bin)
	if err != nil {
		return "", "", err
	}
	ref = GitServerRepo + ":" + sum[:16]
	archive = filepath.Join(k8sbuild.CacheRoot(), "images", "gitserver-"+sum[:16]+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, ref, nil
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", "", err
	}
	a := Archive{Ref: ref, Files: []File{{Path: "/usr/local/bin/dfe2e-gitserver", Src: bin, Mode: 0o755}, {Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644}},
		Entrypoint: []string{"/usr/local/bin/dfe2e-gitserver"}, User: "65534:65534"}
	if err := WriteArchive(a, archive); err != nil {
		return "", "", err
	}
	logf("git server image %s written to %s", ref, strings.TrimPrefix(archive, k8sbuild.CacheRoot()+"/"))
	return archive, ref, nil
}
