package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
)

// The redis-server stand-in image: Debian's redis-server and redis-cli (the
// host's installed bookworm packages) with exactly the shared libraries they
// link, plus busybox for a shell and ls. A few MB, built without any
// registry, cached by the hash of every file in it.
const (
	StandInRepo   = "dfe2e.local/redis-standin"
	standinRecipe = "standin-v1"
)

// StandInTools are the host commands (or files) the stand-in is made of and
// the Debian packages that provide them.
var StandInTools = map[string]string{
	"redis-server": "redis-server",
	"redis-cli":    "redis-tools",
	"/bin/busybox": "busybox-static",
	"ldd":          "libc-bin",
}

// StandInImage is a built stand-in image (the redis-server stand-in or the
// Dragonfly-contract one): its reference and docker-save archive.
type StandInImage struct {
	Ref     string
	Archive string
	// Package is the Debian package version of the redis-server inside.
	Package string
}

// EnsureStandIn returns the stand-in image archive, building it when the
// cache lacks it (missing host packages are installed first).
func EnsureStandIn(ctx context.Context, logf Logf) (*StandInImage, error) {
	if err := preflight.EnsureTools(ctx, preflight.Logf(logf), StandInTools); err != nil {
		return nil, err
	}
	files, err := standInFiles(ctx)
	if err != nil {
		return nil, err
	}
	key, err := standInKey(files)
	if err != nil {
		return nil, err
	}
	pkg := debVersion(ctx, "redis-tools")
	tag := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(pkg, "_") + "-" + key
	img := &StandInImage{Ref: StandInRepo + ":" + tag, Package: "redis-tools " + pkg,
		Archive: filepath.Join(k8sbuild.CacheRoot(), "standin", key+".tar")}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	if err := os.MkdirAll(filepath.Dir(img.Archive), 0o755); err != nil {
		return nil, err
	}
	a := Archive{Ref: img.Ref, Files: files, Entrypoint: []string{"/usr/bin/redis-server"}}
	if err := WriteArchive(a, img.Archive); err != nil {
		return nil, fmt.Errorf("writing the stand-in image %s: %w", img.Ref, err)
	}
	logf("built stand-in image %s (%s) at %s", img.Ref, img.Package, img.Archive)
	return img, nil
}

// standInKey hashes the recipe and every file of the image.
func standInKey(files []File) (string, error) {
	k := contenthash.New(standinRecipe)
	if err := addFiles(k, files, false); err != nil {
		return "", err
	}
	return k.String(), nil
}

// addFiles adds each file to k as path=digest: the SHA-256 of its source,
// its link target, or (inline) the SHA-256 of its inline content. The redis
// stand-in's key leaves inline content out (its one inline file is the
// empty /tmp/.keep): counting it would rename every cached stand-in.
func addFiles(k *contenthash.Key, files []File, inline bool) error {
	for _, f := range files {
		sum := f.Link
		switch {
		case f.Src != "":
			var err error
			if sum, err = contenthash.File(f.Src); err != nil {
				return err
			}
		case f.Link == "" && inline:
			s := sha256.Sum256(f.Data)
			sum = hex.EncodeToString(s[:])
		}
		k.Fields(f.Path + "=" + sum)
	}
	return nil
}

// sortedFiles are the files of byPath in path order.
func sortedFiles(byPath map[string]File) []File {
	out := make([]File, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// standInFiles are the image's files, sorted by path.
func standInFiles(ctx context.Context) ([]File, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	// Debian ships redis-server as a symlink to redis-check-rdb; redis picks
	// its mode from argv[0], so the image gets the real file under the
	// server's name.
	if server, err = filepath.EvalSymlinks(server); err != nil {
		return nil, err
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, err
	}
	byPath := map[string]File{
		"/usr/bin/redis-server": {Path: "/usr/bin/redis-server", Src: server, Mode: 0o755},
		"/usr/bin/redis-cli":    {Path: "/usr/bin/redis-cli", Src: cli, Mode: 0o755},
		"/tmp/.keep":            {Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644},
	}
	for _, bin := range []string{server, cli} {
		libs, err := sharedLibs(ctx, bin)
		if err != nil {
			return nil, err
		}
		for path, src := range libs {
			byPath[path] = File{Path: path, Src: src, Mode: 0o755}
		}
	}
	for _, f := range busyboxFiles("/bin/busybox") {
		byPath[f.Path] = f
	}
	for _, a := range []string{"grep", "stat", "du", "wc", "find", "sync"} {
		byPath["/bin/"+a] = File{Path: "/bin/" + a, Link: "busybox"}
	}
	return sortedFiles(byPath), nil
}

// sharedLibs maps each library path bin loads (as ldd names it) to the real
// file behind it.
func sharedLibs(ctx context.Context, bin string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, "ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", bin, err)
	}
	libs := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		var path string
		switch {
		case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
			path = f[2]
		case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
			path = f[0] // the dynamic loader
		default:
			continue
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, fmt.Errorf("library %s of %s: %w", path, bin, err)
		}
		libs[path] = real
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s listed no libraries", bin)
	}
	return libs, nil
}

func debVersion(ctx context.Context, pkg string) string {
	out, err := exec.CommandContext(ctx, "dpkg-query", "-W", "-f=${Version}", pkg).Output()
	if err != nil || len(out) == 0 {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
