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
	"path/filepath"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// The operator's kube-rbac-proxy sidecar, built from its Go module for
// clusters that reach no registry. The build module (rbacproxymodule/)
// requires only kube-rbac-proxy, so its dependencies resolve to upstream's
// pins (upstream has no replace directives).

//go:embed rbacproxymodule
var rbacProxyModule embed.FS

// Upstream release of the sidecar the operator manifests name.
const (
	RBACProxyVersion = "v0.16.0"
	rbacProxyCommit  = "f0895cf3cac8d4feb32bed558909dc590c25432f" // tag v0.16.0
	RBACProxyRef     = "quay.io/brancz/kube-rbac-proxy:" + RBACProxyVersion
	rbacProxyPkg     = "github.com/brancz/kube-rbac-proxy/cmd/kube-rbac-proxy"
	// rbacProxyUID is upstream's distroless nonroot user.
	rbacProxyUID = "65532"
)

// rbacProxyLDFlags stamps the version the way upstream's Makefile does, so
// --version and the startup log report v0.16.0 rather than v0.0.0-master.
func rbacProxyLDFlags() string {
	return strings.Join([]string{"-s", "-w",
		"-X", "k8s.io/component-base/version.gitVersion=" + RBACProxyVersion,
		"-X", "k8s.io/component-base/version.gitCommit=" + rbacProxyCommit,
		"-X", "k8s.io/component-base/version/verflag.programName=kube-rbac-proxy",
	}, " ")
}

// rbacProxyKey hashes the build module, the flags and the CA bundle.
func rbacProxyKey() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "kube-rbac-proxy\x00%s\x00%s\x00", RBACProxyVersion, rbacProxyLDFlags())
	for _, f := range []string{"go.mod.txt", "go.sum.txt"} {
		b, err := rbacProxyModule.ReadFile("rbacproxymodule/" + f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	sum, err := fileSHA256(caCerts)
	if err != nil {
		return "", fmt.Errorf("CA bundle for the kube-rbac-proxy image: %w (install ca-certificates)", err)
	}
	io.WriteString(h, sum)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// rbacProxyArchive is the image's files on a distroless-like base: the
// binary, a CA bundle (it talks TLS to the API server), a writable /tmp and
// passwd/group entries for the nonroot user.
func rbacProxyArchive(bin string) Archive {
	return Archive{
		Ref: RBACProxyRef,
		Files: []File{
			{Path: "/usr/local/bin/kube-rbac-proxy", Src: bin, Mode: 0o755},
			{Path: "/etc/ssl/certs/ca-certificates.crt", Src: caCerts, Mode: 0o644},
			{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), Mode: 0o644},
			{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:65532:\n"), Mode: 0o644},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		},
		Entrypoint: []string{"/usr/local/bin/kube-rbac-proxy"},
		User:       rbacProxyUID + ":" + rbacProxyUID,
	}
}

// EnsureRBACProxy returns an image archive (docker save format) of
// quay.io/brancz/kube-rbac-proxy:v0.16.0, building the binary (≈17 min on 2
// cold cores) and the archive when the cache lacks them.
func EnsureRBACProxy(ctx context.Context, logf Logf) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	key, err := rbacProxyKey()
	if err != nil {
		return "", err
	}
	archive := filepath.Join(k8sbuild.CacheRoot(), "images", "kube-rbac-proxy-"+RBACProxyVersion+"-"+key+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, nil
	}
	bin := filepath.Join(k8sbuild.CacheRoot(), "bin", "kube-rbac-proxy-"+RBACProxyVersion+"-"+key, "kube-rbac-proxy")
	if _, err := os.Stat(bin); err != nil {
		if err := buildRBACProxy(ctx, bin, logf); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", err
	}
	if err := WriteArchive(rbacProxyArchive(bin), archive); err != nil {
		return "", fmt.Errorf("writing image %s: %w", RBACProxyRef, err)
	}
	logf("image %s written to %s", RBACProxyRef, archive)
	return archive, nil
}

func buildRBACProxy(ctx context.Context, bin string, logf Logf) error {
	sub, err := fs.Sub(rbacProxyModule, "rbacproxymodule")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	tmp := bin + ".partial"
	if err := k8sbuild.GoBuild(ctx, sub, "kube-rbac-proxy "+RBACProxyVersion+" (≈17 min on 2 cold, shared cores)", rbacProxyLDFlags(), tmp, []string{rbacProxyPkg}, k8sbuild.Logf(logf)); err != nil {
		os.Remove(tmp)
		return err
	}
	if static, err := IsStatic(tmp); err != nil || !static {
		os.Remove(tmp)
		return fmt.Errorf("kube-rbac-proxy build at %s is not a static binary (err %v); the image has no libc", tmp, err)
	}
	return os.Rename(tmp, bin)
}
