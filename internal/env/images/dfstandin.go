package images

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dfstandin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
)

// The Dragonfly-contract stand-in image: the redis-server stand-in's files
// plus the static dfe2e-dfstandin entrypoint, which takes Dragonfly's args
// and behaves where the operator relies on Dragonfly (see
// internal/data/dfstandin). Laid out like the official image — user dfly
// 999:999, WORKDIR /data, /usr/local/bin/healthcheck.sh, redis-cli, nc —
// under its own name, so nothing mistakes it for Dragonfly. Give it to the
// operator as spec.image or --dragonfly-image.
const (
	DragonflyStandInRepo = "dfe2e.local/dragonfly-contract-standin"
	dfStandInRecipe      = "dfstandin-v1"
	// DragonflyStandInUID is the official image's dfly user.
	DragonflyStandInUID = 999
	dfStandInEntrypoint = "/usr/local/bin/dfe2e-dfstandin"
)

// EnsureDragonflyStandIn builds the entrypoint (CGO off) from this module,
// and returns the image archive, writing it when the cache lacks one with
// the same content.
func EnsureDragonflyStandIn(ctx context.Context, logf Logf) (*StandInImage, error) {
	if err := preflight.EnsureTools(ctx, preflight.Logf(logf), StandInTools); err != nil {
		return nil, err
	}
	return ensureDragonflyStandIn(ctx, logf, "/bin/busybox")
}

// ensureDragonflyStandIn takes busybox from the given host file.
func ensureDragonflyStandIn(ctx context.Context, logf Logf, busybox string) (*StandInImage, error) {
	cwd, _ := os.Getwd()
	mod := ModuleRoot(ctx, cwd)
	if mod == "" {
		return nil, fmt.Errorf("the Dragonfly stand-in's entrypoint builds from the dragonfly-e2e module: run inside its checkout")
	}
	dir := filepath.Join(k8sbuild.CacheRoot(), "dfstandin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bin, err := buildDfStandIn(ctx, mod, dir, logf)
	if err != nil {
		return nil, err
	}
	defer os.Remove(bin)
	files, err := dfStandInFiles(ctx, bin, busybox)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(dir, "base-"+dfStandInRecipe+".tar")
	if err := writeDfStandInBase(base); err != nil {
		return nil, err
	}
	key, err := dfStandInKey(base, bin, files)
	if err != nil {
		return nil, err
	}
	img := &StandInImage{Ref: DragonflyStandInRepo + ":" + key,
		Package: "redis-tools " + debVersion(ctx, "redis-tools"),
		Archive: filepath.Join(dir, key+".tar")}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	uid := fmt.Sprint(DragonflyStandInUID)
	a := Archive{Ref: img.Ref, BaseLayers: []string{base}, Files: files,
		Entrypoint: []string{dfStandInEntrypoint}, User: uid + ":" + uid}
	tmp := img.Archive + ".tmp"
	if err := WriteArchive(a, tmp); err != nil {
		return nil, fmt.Errorf("writing the Dragonfly stand-in image %s: %w", img.Ref, err)
	}
	// Archive has no WORKDIR or CMD; the official image's are set here.
	err = rewriteImageConfig(tmp, img.Archive, func(c map[string]any) {
		c["WorkingDir"] = "/data"
		c["Cmd"] = []string{"dragonfly", "--logtostderr"}
	})
	os.Remove(tmp)
	if err != nil {
		return nil, err
	}
	logf("built Dragonfly-contract stand-in image %s (%s) at %s", img.Ref, img.Package, img.Archive)
	return img, nil
}

// dfStandInKey hashes the recipe, the base layer, the entrypoint and every
// file of the image.
func dfStandInKey(base, bin string, files []File) (string, error) {
	k := contenthash.New(dfStandInRecipe)
	for _, p := range []string{base, bin} {
		sum, err := contenthash.File(p)
		if err != nil {
			return "", err
		}
		k.Fields(sum)
	}
	if err := addFiles(k, files, true); err != nil {
		return "", err
	}
	return k.String(), nil
}

// buildDfStandIn builds ./cmd/dfe2e-dfstandin static into dir.
func buildDfStandIn(ctx context.Context, mod, dir string, logf Logf) (string, error) {
	start := time.Now()
	bin, err := buildCommandIn(ctx, mod, "./cmd/dfe2e-dfstandin", dir)
	if err != nil {
		return "", err
	}
	logf("built the Dragonfly stand-in entrypoint in %s", time.Since(start).Round(100*time.Millisecond))
	return bin, nil
}

// dfStandInFiles: the redis stand-in's files (redis-server, redis-cli, their
// libraries, busybox) plus the entrypoint, the probe script and the busybox
// tools the official image's script and users rely on.
func dfStandInFiles(ctx context.Context, bin, busybox string) ([]File, error) {
	files, err := standInFiles(ctx)
	if err != nil {
		return nil, err
	}
	byPath := map[string]File{}
	for _, f := range files {
		if f.Src == "/bin/busybox" {
			f.Src = busybox
		}
		byPath[f.Path] = f
	}
	byPath[dfStandInEntrypoint] = File{Path: dfStandInEntrypoint, Src: bin, Mode: 0o755}
	byPath["/usr/local/bin/healthcheck.sh"] = File{Path: "/usr/local/bin/healthcheck.sh", Data: []byte(dfstandin.HealthcheckScript), Mode: 0o755}
	for _, a := range []string{"timeout", "nc", "netstat", "head", "tr"} {
		byPath["/bin/"+a] = File{Path: "/bin/" + a, Link: "busybox"}
	}
	return sortedFiles(byPath), nil
}

// writeDfStandInBase writes the layer File cannot express: /data owned by
// dfly (the working directory and default snapshot dir without a volume)
// and the passwd/group entries naming uid 999.
func writeDfStandInBase(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	id := DragonflyStandInUID
	hdrs := []struct {
		h    tar.Header
		data string
	}{
		{tar.Header{Name: "data/", Mode: 0o755, Uid: id, Gid: id, Typeflag: tar.TypeDir}, ""},
		{tar.Header{Name: "etc/", Mode: 0o755, Typeflag: tar.TypeDir}, ""},
		{tar.Header{Name: "etc/passwd", Mode: 0o644, Typeflag: tar.TypeReg}, "root:x:0:0:root:/root:/bin/sh\ndfly:x:999:999:dfly:/data:/bin/sh\n"},
		{tar.Header{Name: "etc/group", Mode: 0o644, Typeflag: tar.TypeReg}, "root:x:0:\ndfly:x:999:\n"},
	}
	for _, e := range hdrs {
		h := e.h
		h.ModTime, h.Size = epoch, int64(len(e.data))
		if err := tw.WriteHeader(&h); err != nil {
			f.Close()
			return err
		}
		if _, err := io.WriteString(tw, e.data); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// rewriteImageConfig copies a docker-save archive, letting edit change the
// image's runtime config; the config file is renamed to its new digest.
// The archive is a few MB, so it is held in memory.
func rewriteImageConfig(src, dst string, edit func(map[string]any)) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	type entry struct {
		h    *tar.Header
		data []byte
	}
	var entries []entry
	var manifest []map[string]any
	tr := tar.NewReader(in)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(data, &manifest); err != nil {
				return err
			}
			continue
		}
		entries = append(entries, entry{h, data})
	}
	if len(manifest) != 1 {
		return fmt.Errorf("%s: want one image in manifest.json", src)
	}
	cfgName, _ := manifest[0]["Config"].(string)
	for i, e := range entries {
		if e.h.Name != cfgName {
			continue
		}
		var cfg map[string]any
		if err := json.Unmarshal(e.data, &cfg); err != nil {
			return err
		}
		c, ok := cfg["config"].(map[string]any)
		if !ok {
			return fmt.Errorf("%s: image config without a config object", src)
		}
		edit(c)
		raw, _ := json.Marshal(cfg)
		sum := sha256.Sum256(raw)
		manifest[0]["Config"] = hex.EncodeToString(sum[:]) + ".json"
		h := *e.h
		h.Name, h.Size = manifest[0]["Config"].(string), int64(len(raw))
		entries[i] = entry{&h, raw}
	}
	raw, _ := json.Marshal(manifest)
	entries = append(entries, entry{&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(raw)), ModTime: epoch, Typeflag: tar.TypeReg}, raw})
	out, err := os.Create(dst + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(dst + ".tmp")
	tw := tar.NewWriter(out)
	for _, e := range entries {
		if err := tw.WriteHeader(e.h); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(dst+".tmp", dst)
}
