// Package k8sbuild builds pinned Kubernetes and etcd binaries from Go modules
// into a content-addressed cache, for machines that reach the Go module proxy
// but no release download site (air-gapped CI, this project's own machines).
//
// The build modules (go.mod + go.sum, pinned) ship as data in modules/; a
// cache entry is keyed by their hash and the build flags, so a warm run
// rebuilds nothing and a change of pin never reuses stale binaries.
package k8sbuild

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
)

// Pinned versions. Kubernetes 1.34 is the newest whose kubelet still runs on
// cgroup v1 by default (these VMs are cgroup v1); etcd is the version kubeadm
// 1.34 expects.
const (
	KubernetesVersion = "v1.34.4"
	EtcdVersion       = "3.6.5"
)

//go:embed modules
var modules embed.FS

// Binaries that the kubernetes build module can produce.
var KubernetesBinaries = []string{
	"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy",
	"kubelet", "kubeadm", "kubectl",
}

// CacheRoot is where dragonfly-e2e keeps everything it builds or fetches:
// $DFE2E_CACHE, else $XDG_CACHE_HOME/dragonfly-e2e, else ~/.cache/dragonfly-e2e.
func CacheRoot() string { return config.FromEnv().CacheRoot() }

// versionLDFlags stamps the version kubeadm and the components report; kubeadm
// refuses to run with the default "v0.0.0-master" stamp.
func versionLDFlags() string {
	parts := strings.SplitN(strings.TrimPrefix(KubernetesVersion, "v"), ".", 3)
	flags := []string{"-s", "-w"}
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+KubernetesVersion,
			"-X", pkg+".gitMajor="+parts[0],
			"-X", pkg+".gitMinor="+parts[1],
			"-X", pkg+".gitCommit=0000000000000000000000000000000000000000",
			"-X", pkg+".gitTreeState=clean",
			"-X", pkg+".buildDate=2026-01-01T00:00:00Z",
		)
	}
	return strings.Join(flags, " ")
}

// moduleHash hashes the files of one build module plus the flags used with it.
func moduleHash(name, flags string) (string, error) {
	k := contenthash.New()
	if err := k.Dir(modules, "modules/"+name); err != nil {
		return "", err
	}
	k.Text(flags)
	return k.String(), nil
}

// Logf receives progress lines.
type Logf func(format string, args ...any)

// EnsureKubernetes returns a directory holding the named Kubernetes binaries,
// building any that the cache lacks. Names must come from KubernetesBinaries.
func EnsureKubernetes(ctx context.Context, names []string, logf Logf) (string, error) {
	for _, n := range names {
		if !contains(KubernetesBinaries, n) {
			return "", fmt.Errorf("k8sbuild: unknown Kubernetes binary %q (known: %s)", n, strings.Join(KubernetesBinaries, ", "))
		}
	}
	flags := versionLDFlags()
	key, err := moduleHash("kubernetes", flags)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheRoot(), "bin", "kubernetes-"+KubernetesVersion+"-"+key)
	var pkgs []string
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			pkgs = append(pkgs, "k8s.io/kubernetes/cmd/"+n)
		}
	}
	if len(pkgs) == 0 {
		return dir, nil
	}
	return dir, build(ctx, "kubernetes", dir, flags, pkgs, logf)
}

// EnsureEtcd returns the path of an etcd binary, building it if needed.
func EnsureEtcd(ctx context.Context, logf Logf) (string, error) {
	flags := "-s -w"
	key, err := moduleHash("etcd", flags)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheRoot(), "bin", "etcd-"+EtcdVersion+"-"+key)
	bin := filepath.Join(dir, "etcd")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := build(ctx, "etcd", dir, flags, []string{"."}, logf); err != nil {
		return "", err
	}
	// "go build ." names the output after the module's last path element.
	if err := os.Rename(filepath.Join(dir, "etcdbuild"), bin); err != nil {
		return "", fmt.Errorf("k8sbuild: etcd build produced no binary: %w", err)
	}
	return bin, nil
}

// EnvtestAssets returns a KUBEBUILDER_ASSETS directory (kube-apiserver and
// etcd side by side), building what is missing.
func EnvtestAssets(ctx context.Context, logf Logf) (string, error) {
	k8sDir, err := EnsureKubernetes(ctx, []string{"kube-apiserver"}, logf)
	if err != nil {
		return "", err
	}
	etcd, err := EnsureEtcd(ctx, logf)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(CacheRoot(), "envtest", filepath.Base(k8sDir)+"_"+filepath.Base(filepath.Dir(etcd)))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for name, target := range map[string]string{"kube-apiserver": filepath.Join(k8sDir, "kube-apiserver"), "etcd": etcd} {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func build(ctx context.Context, module, outDir, ldflags string, pkgs []string, logf Logf) error {
	sub, err := fs.Sub(modules, "modules/"+module)
	if err != nil {
		return err
	}
	// A directory of this build's own: two runs building the same key at
	// once (a CI job and a developer's run) must not remove each other's
	// half-built binaries.
	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return err
	}
	tmpOut, err := os.MkdirTemp(filepath.Dir(outDir), filepath.Base(outDir)+".partial-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmpOut, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(tmpOut)
	// Keep binaries already built for this key.
	if prev, err := os.ReadDir(outDir); err == nil {
		for _, e := range prev {
			_ = os.Link(filepath.Join(outDir, e.Name()), filepath.Join(tmpOut, e.Name()))
		}
	}
	if err := GoBuild(ctx, sub, module, ldflags, tmpOut+string(os.PathSeparator), pkgs, logf); err != nil {
		return err
	}
	_ = os.RemoveAll(outDir)
	if err := os.MkdirAll(filepath.Dir(outDir), 0o755); err != nil {
		return err
	}
	return os.Rename(tmpOut, outDir)
}

// GoBuild lays out a pinned build module (its files stored with a .txt
// suffix, so that the go tool does not take them for part of this module) in a
// temporary directory and runs `go build -trimpath -ldflags ldflags -o out pkgs…`
// there with cgo off. It is the one way this project builds other projects'
// binaries from the Go module proxy (Kubernetes, etcd, Flux controllers).
func GoBuild(ctx context.Context, mod fs.FS, what, ldflags, out string, pkgs []string, logf Logf) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if _, err := exec.LookPath("go"); err != nil {
		return fmt.Errorf("building %s needs the Go toolchain on PATH (install Go ≥ 1.24): %w", what, err)
	}
	work, err := os.MkdirTemp("", "dfe2e-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	entries, err := fs.ReadDir(mod, ".")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := fs.ReadFile(mod, e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(work, strings.TrimSuffix(e.Name(), ".txt")), b, 0o644); err != nil {
			return err
		}
	}
	start := time.Now()
	logf("building %s from Go modules: %s (cached afterwards)", what, strings.Join(pkgs, " "))
	args := append([]string{"build", "-trimpath", "-ldflags", ldflags, "-o", out}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of %s failed after %s: %w\n%s", what, time.Since(start).Round(time.Second), err, tail.Lines(string(b), 40))
	}
	logf("built %s in %s", what, time.Since(start).Round(time.Second))
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
