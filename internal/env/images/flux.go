package images

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

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

// caCerts is the host's CA bundle, copied into the controller images (the
// upstream images carry one; remote Git/OCI sources need it).
var caCerts = "/etc/ssl/certs/ca-certificates.crt"

const fluxBuildFlags = "-trimpath -ldflags=-s -w"

// fluxKey hashes a controller's build module, the flags and the CA bundle.
func fluxKey(c FluxController) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", c.Name, c.Version, fluxBuildFlags)
	for _, f := range []string{"go.mod.txt", "go.sum.txt"} {
		b, err := fluxModules.ReadFile("fluxmodules/" + c.Name + "/" + f)
		if err != nil {
			return "", fmt.Errorf("no build module for %s: %w", c.Name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	sum, err := fileSHA256(caCerts)
	if err != nil {
		return "", fmt.Errorf("CA bundle for the Flux images: %w (install ca-certificates)", err)
	}
	io.WriteString(h, sum)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// EnsureFluxImage returns an image archive (docker save format) of c,
// building the controller binary and the archive when the cache lacks them.
func EnsureFluxImage(ctx context.Context, c FluxController, logf Logf) (string, error) {
	key, err := fluxKey(c)
	if err != nil {
		return "", err
	}
	archive := filepath.Join(k8sbuild.CacheRoot(), "images", c.Name+"-"+c.Version+"-"+key+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, nil
	}
	bin := filepath.Join(k8sbuild.CacheRoot(), "bin", c.Name+"-"+c.Version+"-"+key, c.Name)
	if _, err := os.Stat(bin); err != nil {
		if err := buildFluxController(ctx, c, bin, logf); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", err
	}
	a := Archive{
		Ref: c.Ref(),
		Files: []File{
			{Path: "/usr/local/bin/" + c.Name, Src: bin, Mode: 0o755},
			{Path: "/etc/ssl/certs/ca-certificates.crt", Src: caCerts, Mode: 0o644},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
			{Path: "/data/.keep", Data: []byte{}, Mode: 0o644},
		},
		Entrypoint: []string{"/usr/local/bin/" + c.Name},
		User:       "65534:65534",
	}
	if err := WriteArchive(a, archive); err != nil {
		return "", fmt.Errorf("writing image %s: %w", c.Ref(), err)
	}
	logf("image %s written to %s", c.Ref(), archive)
	return archive, nil
}

func buildFluxController(ctx context.Context, c FluxController, bin string, logf Logf) error {
	sub, err := fs.Sub(fluxModules, "fluxmodules/"+c.Name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	tmp := bin + ".partial"
	if err := k8sbuild.GoBuild(ctx, sub, c.Name+" "+c.Version+" ("+c.Estimate+" on 2 cold cores)", "-s -w", tmp, []string{"github.com/fluxcd/" + c.Name}, k8sbuild.Logf(logf)); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, bin)
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
	sum, err := fileSHA256(bin)
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
