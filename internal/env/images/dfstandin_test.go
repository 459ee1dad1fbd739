package images

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dfstandin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/hosttools"
)

// The Dragonfly-contract stand-in image: our static entrypoint as
// ENTRYPOINT, the official image's user, WORKDIR, CMD and probe script, and
// redis-server with its libraries.
func TestDragonflyStandInImage(t *testing.T) {
	hosttools.Require(t, StandInTools)
	t.Setenv("DFE2E_CACHE", t.TempDir())
	busybox := "/bin/busybox"
	img, err := ensureDragonflyStandIn(context.Background(), t.Logf, busybox)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(img.Ref, DragonflyStandInRepo+":") || strings.Contains(img.Ref, "dragonflydb") {
		t.Fatalf("ref %s", img.Ref)
	}
	dir, m := extractSave(t, img.Archive)
	if len(m.RepoTags) != 1 || m.RepoTags[0] != img.Ref {
		t.Fatalf("manifest %+v: want the one tag %s", m, img.Ref)
	}
	raw, err := os.ReadFile(filepath.Join(dir, m.Config))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Config struct {
			Entrypoint, Cmd []string
			User            string
			WorkingDir      string
		} `json:"config"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if strings.Join(c.Entrypoint, " ") != "/usr/local/bin/dfe2e-dfstandin" || c.User != "999:999" ||
		c.WorkingDir != "/data" || strings.Join(c.Cmd, " ") != "dragonfly --logtostderr" {
		t.Fatalf("image config %+v", c)
	}

	type entry struct {
		typ  byte
		uid  int
		mode int64
		link string
		data []byte
	}
	files := map[string]entry{}
	walkLayers(t, dir, m.Layers, func(h *tar.Header, tr io.Reader) {
		var data []byte
		if h.Name == "usr/local/bin/healthcheck.sh" || h.Name == "etc/passwd" {
			data, _ = io.ReadAll(tr)
		}
		files[strings.TrimSuffix(h.Name, "/")] = entry{h.Typeflag, h.Uid, h.Mode, h.Linkname, data}
	})
	for _, p := range []string{"usr/local/bin/dfe2e-dfstandin", "usr/bin/redis-server", "usr/bin/redis-cli", "bin/busybox"} {
		if e, ok := files[p]; !ok || e.typ != tar.TypeReg || e.mode&0o111 == 0 {
			t.Errorf("%s missing or not executable: %+v", p, e)
		}
	}
	for _, p := range []string{"bin/sh", "bin/grep", "bin/timeout", "bin/nc"} {
		if e := files[p]; e.typ != tar.TypeSymlink || e.link != "busybox" {
			t.Errorf("%s is not a busybox link: %+v", p, e)
		}
	}
	if e := files["usr/local/bin/healthcheck.sh"]; string(e.data) != dfstandin.HealthcheckScript || e.mode&0o111 == 0 {
		t.Errorf("healthcheck.sh: %+v", e)
	}
	if e := files["data"]; e.typ != tar.TypeDir || e.uid != 999 {
		t.Errorf("/data is not dfly's directory: %+v", e)
	}
	if !strings.Contains(string(files["etc/passwd"].data), "dfly:x:999:999") {
		t.Errorf("no dfly user: %q", files["etc/passwd"].data)
	}
	bin := filepath.Join(t.TempDir(), "entrypoint")
	extract(t, filepath.Join(dir, m.Layers[len(m.Layers)-1]), "usr/local/bin/dfe2e-dfstandin", bin)
	if static, err := IsStatic(bin); err != nil || !static {
		t.Errorf("the entrypoint in the image is not static: %v", err)
	}
	if out, err := exec.Command(bin, "dragonfly", "--version").CombinedOutput(); err != nil || !strings.Contains(string(out), "not Dragonfly") {
		t.Errorf("entrypoint --version: %v %s", err, out)
	}
	if os.Geteuid() == 0 {
		root := t.TempDir()
		unpackImage(t, img.Archive, root)
		out, err := exec.Command("chroot", root, "/bin/sh", "-c", "cd /data && redis-server --version && dfe2e-dfstandin --version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "not Dragonfly") {
			t.Errorf("running in the image: %v %s", err, out)
		}
	}

	again, err := ensureDragonflyStandIn(context.Background(), t.Logf, busybox)
	if err != nil || again.Ref != img.Ref || again.Archive != img.Archive {
		t.Fatalf("second build is not the cached one: %+v %v", again, err)
	}
}

func extract(t *testing.T, layer, name, dst string) {
	t.Helper()
	f, err := os.Open(layer)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in %s: %v", name, layer, err)
		}
		if h.Name == name {
			out, _ := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
			io.Copy(out, tr)
			out.Close()
			return
		}
	}
}
