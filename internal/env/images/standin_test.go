package images

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/hosttools"
)

// The stand-in image must run redis-server with nothing but its own files:
// unpack it and start the server chrooted into it.
func TestStandInImageRunsRedisServerAlone(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for chroot")
	}
	// Checked here so that EnsureStandIn finds every tool and installs nothing.
	hosttools.Require(t, StandInTools)
	t.Setenv("DFE2E_CACHE", t.TempDir())
	img, err := EnsureStandIn(context.Background(), t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(img.Ref, StandInRepo+":") || !strings.Contains(img.Package, "redis-tools") {
		t.Fatalf("ref %s package %s", img.Ref, img.Package)
	}
	root := t.TempDir()
	unpackImage(t, img.Archive, root)
	out, err := exec.Command("chroot", root, "/usr/bin/redis-server", "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Redis server v=") {
		t.Fatalf("redis-server in the image: %v: %s", err, out)
	}
	out, err = exec.Command("chroot", root, "/bin/sh", "-c", "ls / && redis-cli --version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "redis-cli") {
		t.Fatalf("shell and redis-cli in the image: %v: %s", err, out)
	}
	// Cached by content: a second call reuses the archive.
	again, err := EnsureStandIn(context.Background(), t.Logf)
	if err != nil || again.Ref != img.Ref || again.Archive != img.Archive {
		t.Fatalf("second build: %+v %v", again, err)
	}
}

// unpackImage extracts every layer of a docker-save archive into root.
func unpackImage(t *testing.T, archive, root string) {
	t.Helper()
	dir, m := extractSave(t, archive)
	walkLayers(t, dir, m.Layers, func(h *tar.Header, tr io.Reader) {
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, os.FileMode(h.Mode))
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode))
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(w, tr)
			w.Close()
		}
	})
}
