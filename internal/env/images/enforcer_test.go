package images

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The image holds the packages' files but their documentation, keeps their
// symlinks, adds the host libraries their binaries load, kube-router and the
// entrypoint.
func TestEnforcerFiles(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"usr/sbin", "usr/share/doc/iptables"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ls, err := os.ReadFile("/usr/bin/ls") // any dynamic host binary stands for xtables-nft-multi
	if err != nil {
		t.Skip("no /usr/bin/ls")
	}
	if err := os.WriteFile(filepath.Join(root, "usr/sbin/xtables-nft-multi"), ls, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("xtables-nft-multi", filepath.Join(root, "usr/sbin/iptables-nft-save")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share/doc/iptables/copyright"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "kube-router")
	if err := os.WriteFile(bin, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := enforcerFiles(context.Background(), root, bin)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]File{}
	for _, f := range files {
		by[f.Path] = f
	}
	if f := by["/usr/sbin/iptables-nft-save"]; f.Link != "xtables-nft-multi" {
		t.Errorf("symlink lost: %+v", f)
	}
	if _, ok := by["/usr/share/doc/iptables/copyright"]; ok {
		t.Error("documentation copied into the image")
	}
	if f := by[EnforcerKubeRouter]; f.Src != bin {
		t.Errorf("kube-router: %+v", f)
	}
	if f := by[EnforcerEntrypoint]; !strings.Contains(string(f.Data), "exec "+EnforcerKubeRouter) {
		t.Errorf("entrypoint does not exec kube-router: %q", f.Data)
	}
	libc := false
	for p := range by {
		libc = libc || strings.Contains(p, "libc.so")
	}
	if !libc {
		t.Errorf("no host libc for the packages' binaries in %v", files)
	}
}

// A package set without any dynamic binary cannot run: said, not built.
func TestEnforcerFilesNeedTheHostLibraries(t *testing.T) {
	root := t.TempDir()
	if _, err := enforcerFiles(context.Background(), root, "/bin/busybox"); err == nil || !strings.Contains(err.Error(), "no host library") {
		t.Fatalf("err = %v", err)
	}
}

// The key of the binary's build is the embedded module's: the module must
// pin kube-router at the version the image is named after.
func TestKubeRouterModulePinsTheVersion(t *testing.T) {
	b, err := kubeRouterModule.ReadFile("kuberoutermodule/go.mod.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "github.com/cloudnativelabs/kube-router/v2 "+KubeRouterVersion) {
		t.Fatalf("go.mod does not require kube-router %s:\n%s", KubeRouterVersion, b)
	}
}
