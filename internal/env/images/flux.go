package images

import (
	"context"
	"embed"
	"os"
	"path/filepath"

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
	if err := BuildCommand(ctx, root, "./cmd/dfe2e-gitserver", bin); err != nil {
		return "", "", err
	}
	b := BinaryImage{Repo: GitServerRepo, Dir: filepath.Join(k8sbuild.CacheRoot(), "images"), Recipe: "gitserver"}
	return b.Ensure(bin, "dfe2e-gitserver", logf)
}
