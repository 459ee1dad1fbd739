package images

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func TestRBACProxyBuildModulePinsUpstream(t *testing.T) {
	mod, err := rbacProxyModule.ReadFile("rbacproxymodule/go.mod.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mod), "require github.com/brancz/kube-rbac-proxy v0.16.0\n") {
		t.Fatalf("build module does not require kube-rbac-proxy v0.16.0:\n%s", mod)
	}
	if strings.Contains(string(mod), "replace") {
		t.Fatal("build module replaces modules; upstream v0.16.0 has no replace directives")
	}
	sum, _ := rbacProxyModule.ReadFile("rbacproxymodule/go.sum.txt")
	if !strings.Contains(string(sum), "github.com/brancz/kube-rbac-proxy v0.16.0 h1:npm8m0KDTsVJb3EWs9XGNzUHMmOxwsafEo1bPRXWZqI=") {
		t.Fatal("go.sum lacks kube-rbac-proxy v0.16.0's module hash")
	}
	if f := rbacProxyLDFlags(); !strings.Contains(f, "k8s.io/component-base/version.gitVersion=v0.16.0") {
		t.Fatalf("ldflags %q", f)
	}
	k1, err := rbacProxyImage().key()
	if err != nil {
		t.Skip(err) // no CA bundle on this machine
	}
	if k2, _ := rbacProxyImage().key(); k1 != k2 || len(k1) != 16 {
		t.Fatalf("key %q then %q", k1, k2)
	}
}

func TestRBACProxyArchive(t *testing.T) {
	if _, err := os.Stat(caCerts); err != nil {
		t.Skip("no CA bundle on this machine")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "kube-rbac-proxy")
	os.WriteFile(bin, []byte("binary"), 0o755)
	p := filepath.Join(dir, "img.tar")
	if err := WriteArchive(rbacProxyImage().archive(bin), p); err != nil {
		t.Fatal(err)
	}
	m, ents := readSaveManifest(t, p)
	if got := m.RepoTags; len(got) != 1 || got[0] != "quay.io/brancz/kube-rbac-proxy:v0.16.0" {
		t.Fatalf("RepoTags %v", got)
	}
	var cfg struct{ Config struct{ Entrypoint []string } }
	json.Unmarshal(ents[m.Config], &cfg)
	if !strings.Contains(string(ents[m.Config]), `"User":"65532:65532"`) || cfg.Config.Entrypoint[0] != "/usr/local/bin/kube-rbac-proxy" {
		t.Fatalf("config %s", ents[m.Config])
	}
	layer := readTar(t, strings.NewReader(string(ents[m.Layers[0]])))
	for _, f := range []string{"usr/local/bin/kube-rbac-proxy", "etc/ssl/certs/ca-certificates.crt", "etc/passwd", "tmp/.keep"} {
		if _, ok := layer[f]; !ok {
			t.Errorf("layer lacks %s", f)
		}
	}
}

// TestEnsureRBACProxyBuilds builds the image for real (≈17 min cold on 2
// cores, seconds with a warm Go build cache): DFE2E_IMAGE_BUILDS=1.
func TestEnsureRBACProxyBuilds(t *testing.T) {
	if on, err := config.FromEnv().ImageBuildsEnabled(); err != nil {
		t.Fatal(err)
	} else if !on {
		t.Skip("set DFE2E_IMAGE_BUILDS=1 to build kube-rbac-proxy from its Go module")
	}
	archive, err := EnsureRBACProxy(context.Background(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := rbacProxyImage().key()
	bin := filepath.Join(filepath.Dir(filepath.Dir(archive)), "bin", "kube-rbac-proxy-"+RBACProxyVersion+"-"+key, "kube-rbac-proxy")
	if static, err := IsStatic(bin); err != nil || !static {
		t.Fatalf("%s static=%v err=%v", bin, static, err)
	}
	out, _ := exec.Command(bin, "--version").CombinedOutput()
	if !strings.Contains(string(out), "kube-rbac-proxy v0.16.0") {
		t.Fatalf("%s --version: %s", bin, out)
	}
	again, err := EnsureRBACProxy(context.Background(), t.Logf)
	if err != nil || again != archive {
		t.Fatalf("second call: %s %v", again, err)
	}
}
