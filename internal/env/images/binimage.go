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
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
)

// The images of this project's own commands (registry, git server, load
// generator): one static binary on an empty base, run as nobody, tagged by
// the binary's hash, so that a rebuilt binary gets a new tag and kubelet
// never runs a stale one.

// nobodyUID is the user the command images run as.
const nobodyUID = 65534

// BuildCommand builds the command pkg (e.g. "./cmd/dfe2e-registry") of the
// Go module at moduleDir into out: static (CGO off) for linux/amd64 and
// without local paths (-trimpath), so that the same source builds the same
// binary in every checkout — its hash names its image.
func BuildCommand(ctx context.Context, moduleDir, pkg, out string) error {
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = moduleDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s in %s failed after %s: %w\n%s", pkg, moduleDir, time.Since(start).Round(time.Second), err, tail.Lines(string(b), 20))
	}
	if static, err := IsStatic(out); err != nil || !static {
		return fmt.Errorf("%s built at %s is not a static binary (err %v); its image has no libc", pkg, out, err)
	}
	return nil
}

// buildCommandIn is BuildCommand into a new file in dir; the caller removes it.
func buildCommandIn(ctx context.Context, moduleDir, pkg, dir string) (string, error) {
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(pkg)+"-")
	if err != nil {
		return "", err
	}
	tmp.Close()
	if err := BuildCommand(ctx, moduleDir, pkg, tmp.Name()); err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return tmp.Name(), nil
}

// BinaryImage is where the images of one command live.
type BinaryImage struct {
	Repo string // image repository, e.g. dfe2e.local/registry
	Dir  string // directory of the archives
	// Recipe names the archives, <Recipe>-<hash>.tar; beyond the newest
	// three they are removed.
	Recipe string
}

// Ensure returns the archive (docker save format) and reference of the
// image holding bin as /usr/local/bin/<name>, writing the archive when the
// cache lacks it.
func (b BinaryImage) Ensure(bin, name string, logf Logf) (archive, ref string, err error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	sum, err := contenthash.File(bin)
	if err != nil {
		return "", "", err
	}
	ref = b.Repo + ":" + sum[:16]
	archive = filepath.Join(b.Dir, b.Recipe+"-"+sum[:16]+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, ref, nil
	}
	if err := os.MkdirAll(b.Dir, 0o755); err != nil {
		return "", "", err
	}
	uid := strconv.Itoa(nobodyUID)
	a := Archive{
		Ref: ref,
		Files: []File{
			{Path: "/usr/local/bin/" + name, Src: bin, Mode: 0o755},
			{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
		},
		Entrypoint: []string{"/usr/local/bin/" + name},
		User:       uid + ":" + uid,
	}
	if err := WriteArchive(a, archive); err != nil {
		return "", "", fmt.Errorf("writing image %s: %w", ref, err)
	}
	logf("image %s written to %s", ref, archive)
	PruneArchives(b.Dir, b.Recipe, 3)
	return archive, ref, nil
}

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
