package images

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// caCerts is the host's CA bundle, copied into the images built from Go
// modules (the upstream images carry one; they talk TLS to the API server
// and to remote sources).
var caCerts = "/etc/ssl/certs/ca-certificates.crt"

// moduleImage is an image of one upstream binary built from a pinned Go
// build module embedded in this package, for clusters that reach no
// registry. Binary and archive are cached under <name>-<version>-<key>,
// the key hashing the module, the build flags and the CA bundle.
type moduleImage struct {
	name, version string
	ref           string
	module        fs.FS // the build module's files (go.mod.txt, go.sum.txt)
	// keyFields open the key (name, version, flags); their text is part
	// of every cached entry's name.
	keyFields []string
	ldflags   string
	pkg       string
	estimate  string // cold build on 2 cores, for the progress line
	user      string
	// extra are the image's files after the binary and the CA bundle.
	extra []File
}

func (m moduleImage) key() (string, error) {
	k := contenthash.New(m.keyFields...)
	if err := k.Dir(m.module, "."); err != nil {
		return "", fmt.Errorf("no build module for %s: %w", m.name, err)
	}
	sum, err := contenthash.File(caCerts)
	if err != nil {
		return "", fmt.Errorf("CA bundle for the %s image: %w (install ca-certificates)", m.name, err)
	}
	k.Text(sum)
	return k.String(), nil
}

func (m moduleImage) binPath() string { return "/usr/local/bin/" + m.name }

// archive is the image around the built binary bin.
func (m moduleImage) archive(bin string) Archive {
	files := []File{
		{Path: m.binPath(), Src: bin, Mode: 0o755},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Src: caCerts, Mode: 0o644},
	}
	return Archive{Ref: m.ref, Files: append(files, m.extra...), Entrypoint: []string{m.binPath()}, User: m.user}
}

// ensure returns the image archive (docker save format), building the
// binary and writing the archive when the cache lacks them.
func (m moduleImage) ensure(ctx context.Context, logf Logf) (string, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	key, err := m.key()
	if err != nil {
		return "", err
	}
	entry := m.name + "-" + m.version + "-" + key
	archive := filepath.Join(k8sbuild.CacheRoot(), "images", entry+".tar")
	if _, err := os.Stat(archive); err == nil {
		return archive, nil
	}
	bin := filepath.Join(k8sbuild.CacheRoot(), "bin", entry, m.name)
	if _, err := os.Stat(bin); err != nil {
		if err := m.build(ctx, bin, logf); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(archive), 0o755); err != nil {
		return "", err
	}
	if err := WriteArchive(m.archive(bin), archive); err != nil {
		return "", fmt.Errorf("writing image %s: %w", m.ref, err)
	}
	logf("image %s written to %s", m.ref, archive)
	return archive, nil
}

func (m moduleImage) build(ctx context.Context, bin string, logf Logf) error {
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	tmp := bin + ".partial"
	what := m.name + " " + m.version + " (" + m.estimate + " on 2 cold cores)"
	if err := k8sbuild.GoBuild(ctx, m.module, what, m.ldflags, tmp, []string{m.pkg}, k8sbuild.Logf(logf)); err != nil {
		os.Remove(tmp)
		return err
	}
	if static, err := IsStatic(tmp); err != nil || !static {
		os.Remove(tmp)
		return fmt.Errorf("%s build at %s is not a static binary (err %v); the image has no libc", m.name, tmp, err)
	}
	return os.Rename(tmp, bin)
}

// subFS is dir of an embedded tree; dir is a constant path, so an error is
// a programming error.
func subFS(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
