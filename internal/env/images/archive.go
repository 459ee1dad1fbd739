package images

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
)

// File is one regular file (or symlink when Link is set) of an image layer.
type File struct {
	Path string // absolute path inside the image, e.g. /usr/local/bin/etcd
	Src  string // host file to copy (for regular files)
	Data []byte // inline content (when Src is empty)
	Mode int64
	Link string // symlink target
}

// Archive describes a single-platform linux/amd64 image written in the
// `docker save` format, which both `docker load` and `ctr images import` read.
type Archive struct {
	Ref        string   // full reference, e.g. registry.k8s.io/pause:3.10.1
	BaseLayers []string // existing layer tarballs (e.g. a root filesystem), bottom first
	Files      []File   // the top layer
	Entrypoint []string
	Env        []string
	User       string // numeric uid[:gid]; empty: root
}

// defaultPath is the PATH every built image carries.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// epoch fixes timestamps so identical inputs give identical archives.
var epoch = time.Unix(0, 0).UTC()

// WriteArchive writes a to path (atomically: a temp file renamed at the end).
func WriteArchive(a Archive, path string) error {
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".archive-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	top := filepath.Join(tmpDir, "top.tar")
	if err := writeLayer(top, a.Files); err != nil {
		return err
	}
	layers := append(append([]string{}, a.BaseLayers...), top)
	type layerInfo struct{ path, digest, name string }
	var infos []layerInfo
	for _, l := range layers {
		d, err := contenthash.File(l)
		if err != nil {
			return err
		}
		infos = append(infos, layerInfo{l, d, d + "/layer.tar"})
	}
	diffIDs := make([]string, len(infos))
	layerNames := make([]string, len(infos))
	for i, l := range infos {
		diffIDs[i] = "sha256:" + l.digest
		layerNames[i] = l.name
	}
	env := append([]string{defaultPath}, a.Env...)
	cfg := map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      epoch.Format(time.RFC3339),
		"config":       imageConfig(a, env),
		"rootfs":       map[string]any{"type": "layers", "diff_ids": diffIDs},
	}
	cfgJSON, _ := json.Marshal(cfg)
	cs := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(cs[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{a.Ref}, "Layers": layerNames}})

	out := filepath.Join(tmpDir, "image.tar")
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	addBytes := func(name string, b []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	for _, l := range infos {
		if err := tw.WriteHeader(&tar.Header{Name: l.digest + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
		if err := addFile(tw, l.name, l.path, 0o644); err != nil {
			return err
		}
	}
	if err := addBytes(cfgName, cfgJSON); err != nil {
		return err
	}
	if err := addBytes("manifest.json", manifest); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out, path)
}

// writeLayer writes files (with their parent directories) as a layer tarball.
func writeLayer(path string, files []File) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dirs := map[string]bool{}
	var dirList []string
	for _, fl := range files {
		for d := filepath.Dir(fl.Path); d != "/" && d != "."; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				dirList = append(dirList, d)
			}
		}
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		mode := int64(0o755)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d[1:] + "/", Mode: mode, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	for _, fl := range files {
		name := fl.Path[1:]
		switch {
		case fl.Link != "":
			err = tw.WriteHeader(&tar.Header{Name: name, Linkname: fl.Link, Mode: 0o777, ModTime: epoch, Typeflag: tar.TypeSymlink})
		case fl.Src != "":
			err = addFile(tw, name, fl.Src, fl.Mode)
		default:
			if err = tw.WriteHeader(&tar.Header{Name: name, Mode: fl.Mode, Size: int64(len(fl.Data)), ModTime: epoch, Typeflag: tar.TypeReg}); err == nil {
				_, err = tw.Write(fl.Data)
			}
		}
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, name, src string, mode int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if mode == 0 {
		mode = int64(st.Mode().Perm())
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: st.Size(), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}

// imageConfig is the image's runtime config; User is set only when given, so
// images without one keep their previous digest.
func imageConfig(a Archive, env []string) map[string]any {
	c := map[string]any{"Env": env, "Entrypoint": a.Entrypoint, "WorkingDir": "/"}
	if a.User != "" {
		c["User"] = a.User
	}
	return c
}
