package images

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
)

// The loadgen image holds one static binary, runs as nobody, and is tagged
// by the binary's hash; a dynamically linked binary is refused (the image
// has no libc).
func TestLoadgenImageIsOneStaticBinaryRunAsNobody(t *testing.T) {
	t.Setenv("DFE2E_CACHE", t.TempDir())
	if _, err := EnsureLoadgen("/bin/ls", t.Logf); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("dynamic /bin/ls accepted or error unclear: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "tool")
	src := filepath.Join(t.TempDir(), "main.go")
	os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	img, err := EnsureLoadgen(bin, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := contenthash.File(bin)
	if img.Ref != LoadgenRepo+":"+sum[:16] {
		t.Errorf("ref %s; want the binary's hash as tag", img.Ref)
	}
	dir, m := extractSave(t, img.Archive)
	if len(m.Layers) != 1 {
		t.Fatalf("manifest %+v: want one layer", m)
	}
	var cfg struct {
		Config struct {
			User       string
			Entrypoint []string
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, m.Config))
	json.Unmarshal(raw, &cfg)
	if cfg.Config.User != "65534:65534" || strings.Join(cfg.Config.Entrypoint, " ") != "/usr/local/bin/dfe2e" {
		t.Errorf("config user %q entrypoint %v; want 65534:65534 and /usr/local/bin/dfe2e", cfg.Config.User, cfg.Config.Entrypoint)
	}
	var names []string
	walkLayers(t, dir, m.Layers[:1], func(h *tar.Header, _ io.Reader) { names = append(names, h.Name) })
	if got := strings.Join(names, " "); got != "tmp/ usr/ usr/local/ usr/local/bin/ usr/local/bin/dfe2e tmp/.keep" {
		t.Errorf("layer holds %s; want only the binary and /tmp", got)
	}
	// Older archives beyond the newest three are pruned.
	for i, name := range []string{"a", "b", "c"} {
		old := filepath.Join(filepath.Dir(img.Archive), loadgenRecipe+"-"+name+".tar")
		os.WriteFile(old, nil, 0o644)
		past := time.Now().Add(-time.Duration(i+1) * time.Hour)
		os.Chtimes(old, past, past)
	}
	PruneArchives(filepath.Dir(img.Archive), loadgenRecipe, 3)
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(img.Archive), loadgenRecipe+"-*.tar"))
	if len(left) != 3 {
		t.Errorf("after pruning: %v; want the newest three", left)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(img.Archive), loadgenRecipe+"-c.tar")); err == nil {
		t.Error("the oldest archive survived pruning")
	}
	again, err := EnsureLoadgen(bin, t.Logf)
	if err != nil || *again != *img {
		t.Errorf("second call: %+v %v; want the cached image", again, err)
	}
}
