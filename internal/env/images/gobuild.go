package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
)

// GoTool is a static binary built with `go install <pkg>@<version>` from the
// Go module proxy (modules without replace directives only).
type GoTool struct {
	Name, Pkg, Version string
	// Estimate is shown in the progress line of a cold build.
	Estimate string
}

// The component binaries built from Go modules for the offline node image.
var (
	CoreDNS              = GoTool{Name: "coredns", Pkg: "github.com/coredns/coredns", Version: "v1.12.1", Estimate: "≈5 min"}
	LocalPathProvisioner = GoTool{Name: "local-path-provisioner", Pkg: "github.com/rancher/local-path-provisioner", Version: "v0.0.30", Estimate: "≈3.5 min"}
	Crictl               = GoTool{Name: "crictl", Pkg: "sigs.k8s.io/cri-tools/cmd/crictl", Version: "v1.34.0", Estimate: "≈2 min"}
)

const goToolFlags = "-trimpath -ldflags=-s -w"

// EnsureGoTool returns the path of t's binary, building it into the
// content-addressed cache when missing.
func EnsureGoTool(ctx context.Context, t GoTool, logf Logf) (string, error) {
	h := sha256.Sum256([]byte(t.Pkg + "@" + t.Version + "\x00" + goToolFlags))
	dir := filepath.Join(k8sbuild.CacheRoot(), "bin", t.Name+"-"+t.Version+"-"+hex.EncodeToString(h[:])[:12])
	bin := filepath.Join(dir, t.Name)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	start := time.Now()
	logf("building %s %s from Go modules (%s on 2 cold cores; cached afterwards)", t.Name, t.Version, t.Estimate)
	tmp, err := os.MkdirTemp("", "dfe2e-gotool-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	gobin := filepath.Join(tmp, "bin")
	cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", "-ldflags=-s -w", t.Pkg+"@"+t.Version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+gobin, "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s@%s failed after %s: %w\n%s", t.Pkg, t.Version, time.Since(start).Round(time.Second), err, tail.Lines(string(out), 30))
	}
	built := filepath.Join(gobin, filepath.Base(t.Pkg))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(built, bin); err != nil {
		return "", fmt.Errorf("go install %s produced no %s: %w", t.Pkg, built, err)
	}
	logf("built %s in %s", t.Name, time.Since(start).Round(time.Second))
	return bin, nil
}

// ModuleDir downloads (once) module@version through the Go proxy and returns
// its directory in the module cache; used for files that ship inside modules
// (pause.c in k8s.io/kubernetes, kind's node-image files).
func ModuleDir(ctx context.Context, module, version string) (string, error) {
	tmp, err := os.MkdirTemp("", "dfe2e-moddl-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	_ = json.Unmarshal(out, &info)
	if err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return info.Dir, nil
}

// EnsurePause compiles Kubernetes' pause.c statically (gcc) into the cache.
func EnsurePause(ctx context.Context, logf Logf) (string, error) {
	dir, err := ModuleDir(ctx, "k8s.io/kubernetes", k8sbuild.KubernetesVersion)
	if err != nil {
		return "", err
	}
	src := filepath.Join(dir, "build", "pause", "linux", "pause.c")
	sum, err := contenthash.File(src)
	if err != nil {
		return "", fmt.Errorf("pause.c not found in the k8s.io/kubernetes module: %w", err)
	}
	out := filepath.Join(k8sbuild.CacheRoot(), "bin", "pause-"+PauseVersion+"-"+sum[:12], "pause")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	logf("compiling pause %s from pause.c (gcc -static)", PauseVersion)
	cmd := exec.CommandContext(ctx, "gcc", "-Os", "-static", "-DVERSION=v"+PauseVersion, "-o", out+".partial", src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("gcc -static pause.c: %w: %s", err, b)
	}
	return out, os.Rename(out+".partial", out)
}
