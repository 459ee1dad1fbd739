package images

import (
	"context"
	"embed"
	"strings"
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

// rbacProxyImage is the sidecar on a distroless-like base: the binary, a CA
// bundle (it talks TLS to the API server), a writable /tmp and passwd/group
// entries for the nonroot user.
func rbacProxyImage() moduleImage {
	return moduleImage{
		name: "kube-rbac-proxy", version: RBACProxyVersion, ref: RBACProxyRef,
		module:    subFS(rbacProxyModule, "rbacproxymodule"),
		keyFields: []string{"kube-rbac-proxy", RBACProxyVersion, rbacProxyLDFlags()},
		ldflags:   rbacProxyLDFlags(), pkg: rbacProxyPkg, estimate: "≈17 min",
		user: rbacProxyUID + ":" + rbacProxyUID,
		extra: []File{
			{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"), Mode: 0o644},
			{Path: "/etc/group", Data: []byte("root:x:0:\nnonroot:x:65532:\n"), Mode: 0o644},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		},
	}
}

// EnsureRBACProxy returns an image archive (docker save format) of
// quay.io/brancz/kube-rbac-proxy:v0.16.0, building the binary (≈17 min on 2
// cold cores) and the archive when the cache lacks them.
func EnsureRBACProxy(ctx context.Context, logf Logf) (string, error) {
	return rbacProxyImage().ensure(ctx, logf)
}
