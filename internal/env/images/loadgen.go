package images

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// The load generator's image: one static dfe2e binary (CGO_ENABLED=0) on an
// empty base, run as nobody, for the in-cluster load Job. Built here when no
// registry is reachable, tagged by the binary's hash, so a rebuilt binary
// gets a new tag and kubelet never runs a stale one.
const (
	LoadgenRepo   = "dfe2e.local/dfe2e-loadgen"
	loadgenRecipe = "loadgen-v1"
	// LoadgenUID is the image's user (nobody).
	LoadgenUID = 65534
)

// LoadgenImage is a built loadgen image: its reference and docker-save archive.
type LoadgenImage struct{ Ref, Archive string }

// IsStatic reports whether the ELF file at path needs no dynamic loader.
func IsStatic(path string) (bool, error) {
	f, err := elf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// BuildStaticDfe2e builds ./cmd/dfe2e of the module at moduleDir with
// CGO_ENABLED=0 into the cache and returns the binary's path.
func BuildStaticDfe2e(ctx context.Context, moduleDir string, logf Logf) (string, error) {
	if _, err := os.Stat(filepath.Join(moduleDir, "cmd", "dfe2e")); err != nil {
		return "", fmt.Errorf("no cmd/dfe2e under %s: run from the dragonfly-e2e checkout, or give --image", moduleDir)
	}
	dir := filepath.Join(k8sbuild.CacheRoot(), "loadgen")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, ".dfe2e-static-")
	if err != nil {
		return "", err
	}
	tmp.Close()
	start := time.Now()
	logf("building a static dfe2e (CGO_ENABLED=0) for the load Job image")
	cmd := exec.CommandContext(ctx, "go", "build", "-ldflags=-s -w", "-o", tmp.Name(), "./cmd/dfe2e")
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("go build of a static dfe2e failed after %s: %w\n%s", time.Since(start).Round(time.Second), err, lastLines(out, 20))
	}
	logf("built a static dfe2e in %s", time.Since(start).Round(100*time.Millisecond))
	return tmp.Name(), nil
}

// EnsureLoadgen returns the image holding binary (a static dfe2e), writing
// its archive when the cache lacks it.
func EnsureLoadgen(binary string, logf Logf) (*LoadgenImage, error) {
	static, err := IsStatic(binary)
	if err != nil {
		return nil, fmt.Errorf("loadgen binary %s: %w", binary, err)
	}
	if !static {
		return nil, fmt.Errorf("loadgen binary %s is dynamically linked; the image has no libc: build it with CGO_ENABLED=0", binary)
	}
	sum, err := contenthash.File(binary)
	if err != nil {
		return nil, err
	}
	key := sum[:16]
	img := &LoadgenImage{Ref: LoadgenRepo + ":" + key,
		Archive: filepath.Join(k8sbuild.CacheRoot(), "loadgen", loadgenRecipe+"-"+key+".tar")}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	if err := os.MkdirAll(filepath.Dir(img.Archive), 0o755); err != nil {
		return nil, err
	}
	uid := strconv.Itoa(LoadgenUID)
	a := Archive{
		Ref: img.Ref,
		Files: []File{
			{Path: "/usr/local/bin/dfe2e", Src: binary, Mode: 0o755},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		},
		Entrypoint: []string{"/usr/local/bin/dfe2e"},
		User:       uid + ":" + uid,
	}
	if err := WriteArchive(a, img.Archive); err != nil {
		return nil, fmt.Errorf("writing the loadgen image %s: %w", img.Ref, err)
	}
	logf("built loadgen image %s at %s", img.Ref, img.Archive)
	PruneArchives(filepath.Dir(img.Archive), loadgenRecipe, 3)
	return img, nil
}

// PruneArchives keeps the newest keep archives named <recipe>-*.tar in dir:
// every rebuilt binary writes a new one (tens of MB each).
func PruneArchives(dir, recipe string, keep int) {
	paths, _ := filepath.Glob(filepath.Join(dir, recipe+"-*.tar"))
	type aged struct {
		path string
		mod  time.Time
	}
	var all []aged
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil {
			all = append(all, aged{p, st.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) })
	for i := keep; i < len(all); i++ {
		_ = os.Remove(all[i].path)
	}
}

// ModuleRoot is the directory of the go.mod governing dir ("" when none).
func ModuleRoot(ctx context.Context, dir string) string {
	cmd := exec.CommandContext(ctx, "go", "env", "GOMOD")
	cmd.Dir = dir
	out, err := cmd.Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return ""
	}
	return filepath.Dir(mod)
}
