package images

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// The cache keys of the built images, pinned for fixed inputs. A key is the
// name of a cache entry: when one of these changes, every machine rebuilds
// that image cold (the node image and the Flux and kube-rbac-proxy builds take
// 10–30 minutes each). A refactoring must leave them all unchanged; a change
// of inputs that is meant updates the pinned value here.
func TestCacheKeysArePinned(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The CA bundle is the host's; a fixed one makes the keys comparable.
	old := caCerts
	caCerts = write("ca.crt", "a fixed CA bundle\n")
	t.Cleanup(func() { caCerts = old })

	k8sDir := filepath.Join(dir, "k8s")
	for _, b := range k8sbuild.KubernetesBinaries {
		write(filepath.Join("k8s", b), "content of "+b)
	}
	node := nodeInputs{k8sDir: k8sDir, etcd: write("etcd", "content of etcd"), coredns: write("coredns", "content of coredns"),
		lpp: write("lpp", "content of lpp"), crictl: write("crictl", "content of crictl"), pause: write("pause", "content of pause"),
		busybox: write("busybox", "content of busybox"), rootfs: "/x/bookworm-0123456789abcdef.tar", kindDir: "/nowhere"}

	files := []File{
		{Path: "/bin/busybox", Src: write("bb", "busybox binary"), Mode: 0o755},
		{Path: "/bin/sh", Link: "busybox"},
		{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		{Path: "/usr/local/bin/healthcheck.sh", Data: []byte("#!/bin/sh\nexit 0\n"), Mode: 0o755},
	}
	base, bin := write("base.tar", "base layer"), write("entrypoint", "entrypoint binary")

	for _, c := range []struct {
		name, want string
		key        func() (string, error)
	}{
		{"Flux source-controller", "bdb6a96f335363a5", func() (string, error) { return FluxControllers[0].image().key() }},
		{"Flux kustomize-controller", "635d56ad2a240971", func() (string, error) { return FluxControllers[1].image().key() }},
		{"kube-rbac-proxy", "48cd23f809e0d358", rbacProxyImage().key},
		{"node root filesystem", "eb4812e694f22463", func() (string, error) { return rootfsKey(), nil }},
		{"node image", "038e2f03238184a9", func() (string, error) { return nodeKey(node) }},
		{"redis stand-in", "eccc3bbe56bc675b", func() (string, error) { return standInKey(files) }},
		{"Dragonfly-contract stand-in", "bd365f42c9ceed5d", func() (string, error) { return dfStandInKey(base, bin, files) }},
	} {
		got, err := c.key()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("cache key of the %s image is %s, pinned %s: every cached build of it is rebuilt; if its inputs changed on purpose, pin the new key", c.name, got, c.want)
		}
	}
}
