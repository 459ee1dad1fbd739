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

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
)

func readTar(t *testing.T, r io.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
		if h.Typeflag == tar.TypeSymlink {
			out[h.Name] = []byte("->" + h.Linkname)
		}
	}
}

// walkLayers calls fn for every entry of the image's layers (files under dir,
// as an unpacked docker save), in order.
func walkLayers(t *testing.T, dir string, layers []string, fn func(h *tar.Header, r io.Reader)) {
	t.Helper()
	for _, l := range layers {
		f, err := os.Open(filepath.Join(dir, l))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(f)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Close()
				t.Fatal(err)
			}
			fn(h, tr)
		}
		f.Close()
	}
}

// saveManifest is the one entry of a docker save manifest.json.
type saveManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// extractSave unpacks the docker-save archive at path (with tar, as docker
// load would read it) and returns the directory and its one manifest entry.
func extractSave(t *testing.T, path string) (string, saveManifest) {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xf", path, "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var man []saveManifest
	if err := json.Unmarshal(raw, &man); err != nil || len(man) != 1 {
		t.Fatalf("manifest.json: %v %s", err, raw)
	}
	return dir, man[0]
}

// readSaveManifest reads the archive at path and decodes its manifest.json.
func readSaveManifest(t *testing.T, path string) (saveManifest, map[string][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ents := readTar(t, f)
	var man []saveManifest
	if err := json.Unmarshal(ents["manifest.json"], &man); err != nil || len(man) != 1 {
		t.Fatalf("manifest.json: %v %s", err, ents["manifest.json"])
	}
	return man[0], ents
}

func TestWriteArchiveIsLoadableDockerSaveFormat(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tool")
	os.WriteFile(bin, []byte("#!binary"), 0o755)
	a := Archive{Ref: "registry.k8s.io/pause:3.10.1", Entrypoint: []string{"/pause"},
		Files: []File{{Path: "/pause", Src: bin, Mode: 0o755}, {Path: "/bin/sh", Link: "busybox"}}}
	p := filepath.Join(dir, "img.tar")
	if err := WriteArchive(a, p); err != nil {
		t.Fatal(err)
	}
	m, ents := readSaveManifest(t, p)
	if m.RepoTags[0] != a.Ref || len(m.Layers) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	var cfg struct {
		Config struct{ Entrypoint, Env []string }
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	json.Unmarshal(ents[m.Config], &cfg)
	if cfg.Config.Entrypoint[0] != "/pause" || !strings.HasPrefix(cfg.RootFS.DiffIDs[0], "sha256:"+strings.TrimSuffix(m.Layers[0], "/layer.tar")) {
		t.Fatalf("config %+v vs layers %v", cfg, m.Layers)
	}
	layer := readTar(t, strings.NewReader(string(ents[m.Layers[0]])))
	if string(layer["pause"]) != "#!binary" || string(layer["bin/sh"]) != "->busybox" {
		t.Fatalf("layer content: %v", layer)
	}
	// Same inputs, same bytes: caches keyed by input hashes stay valid.
	p2 := filepath.Join(dir, "img2.tar")
	WriteArchive(a, p2)
	s1, _ := contenthash.File(p)
	s2, _ := contenthash.File(p2)
	if s1 != s2 {
		t.Fatal("archive not reproducible")
	}
}
