package images

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
)

// The NetworkPolicy enforcer of offline clusters, whose bridge CNI enforces
// nothing: kube-router's network-policy controller alone (built from its Go
// module) with the iptables and ipset it drives, taken from Debian's
// packages (apt-get download, never installed on the host: a host iptables
// would change how dockerd sets up its networks). Cached by the hash of the
// binary's build module, every .deb and every other file in it.

//go:embed kuberoutermodule
var kubeRouterModule embed.FS

const (
	KubeRouterVersion = "v2.1.0"
	kubeRouterPkg     = "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router"
	// EnforcerRepo is this project's image, not upstream's (whose base and
	// iptables wrapper differ): its own name keeps the two apart.
	EnforcerRepo   = "dfe2e.local/netpol-enforcer"
	enforcerRecipe = "netpol-enforcer-v1"
	// EnforcerEntrypoint picks the node's iptables backend, then execs
	// kube-router with the container's args.
	EnforcerEntrypoint = "/usr/local/bin/netpol-enforcer"
	// EnforcerKubeRouter is the binary's path in the image.
	EnforcerKubeRouter = "/usr/local/bin/kube-router"
)

// EnforcerDebs are the Debian packages whose files the image holds:
// iptables (both backends' multi-call binaries and every xtables match
// kube-router uses: set, physdev, conntrack, comment, mark, multiport,
// limit, NFLOG, REJECT), ipset and their libraries. libc comes from the host
// (the same bookworm release), as in the stand-in images.
var EnforcerDebs = []string{"iptables", "ipset", "libipset13", "libxtables12", "libip4tc2", "libip6tc2",
	"libnftnl11", "libnetfilter-conntrack3", "libnfnetlink0", "libmnl0"}

// enforcerScript runs as the container's entrypoint. The node's own rules
// (kubelet, kube-proxy) are in one iptables backend; kube-router's chains
// go beside them, so that one `iptables-save` on the node shows them all.
// The kernel runs both backends' hooks, so either would filter; this keeps
// the node readable.
const enforcerScript = `#!/bin/sh
set -e
legacy=$(iptables-legacy-save 2>/dev/null | grep -c '^-' || true)
nft=$(iptables-nft-save 2>/dev/null | grep -c '^-' || true)
mode=nft
if [ "${legacy:-0}" -gt "${nft:-0}" ]; then mode=legacy; fi
for t in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
  ln -sf xtables-$mode-multi /usr/sbin/$t
done
echo "netpol-enforcer: iptables $mode backend (node rules: legacy ${legacy:-0}, nft ${nft:-0})"
exec ` + EnforcerKubeRouter + ` "$@"
`

// EnforcerImage is the built enforcer image.
type EnforcerImage struct {
	Ref, Archive string
	// Packages are the .deb files it was made of (name_version_arch.deb).
	Packages []string
}

func kubeRouterLDFlags() string {
	return "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=" + KubeRouterVersion +
		" -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=dfe2e-module-build"
}

// kubeRouterBuild is the binary's cached build (no archive of its own: the
// enforcer image wraps it).
func kubeRouterBuild() moduleImage {
	return moduleImage{
		name: "kube-router", version: KubeRouterVersion,
		module:    subFS(kubeRouterModule, "kuberoutermodule"),
		keyFields: []string{"kube-router", KubeRouterVersion, kubeRouterLDFlags()},
		ldflags:   kubeRouterLDFlags(), pkg: kubeRouterPkg, estimate: "≈8 min",
	}
}

// EnsureEnforcer returns the enforcer image archive, building kube-router
// (minutes, once) and downloading the packages (once) when the cache lacks
// them.
func EnsureEnforcer(ctx context.Context, logf Logf) (*EnforcerImage, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	kr := kubeRouterBuild()
	modKey := contenthash.New(kr.keyFields...)
	if err := modKey.Dir(kr.module, "."); err != nil {
		return nil, err
	}
	bin := filepath.Join(k8sbuild.CacheRoot(), "bin", "kube-router-"+KubeRouterVersion+"-"+modKey.String(), "kube-router")
	if _, err := os.Stat(bin); err != nil {
		if err := kr.build(ctx, bin, logf); err != nil {
			return nil, err
		}
	}
	dir := filepath.Join(k8sbuild.CacheRoot(), "netpol-enforcer")
	debs, err := downloadDebs(ctx, filepath.Join(dir, "debs"), EnforcerDebs, logf)
	if err != nil {
		return nil, err
	}
	root, err := extractDebs(ctx, dir, debs)
	if err != nil {
		return nil, err
	}
	files, err := enforcerFiles(ctx, root, bin)
	if err != nil {
		return nil, err
	}
	k := contenthash.New(enforcerRecipe)
	if err := addFiles(k, files, true); err != nil {
		return nil, err
	}
	key := k.String()
	img := &EnforcerImage{Ref: EnforcerRepo + ":" + KubeRouterVersion + "-" + key, Archive: filepath.Join(dir, enforcerRecipe+"-"+key+".tar")}
	for _, d := range debs {
		img.Packages = append(img.Packages, filepath.Base(d))
	}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	a := Archive{Ref: img.Ref, Files: files, Entrypoint: []string{EnforcerEntrypoint},
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}}
	if err := WriteArchive(a, img.Archive); err != nil {
		return nil, fmt.Errorf("writing the enforcer image %s: %w", img.Ref, err)
	}
	PruneArchives(dir, enforcerRecipe, 3)
	logf("built NetworkPolicy enforcer image %s (kube-router %s, %s) at %s", img.Ref, KubeRouterVersion, strings.Join(img.Packages, " "), img.Archive)
	return img, nil
}

// downloadDebs fetches each package's .deb into dir unless one is there,
// and returns them sorted. apt-get download installs nothing.
func downloadDebs(ctx context.Context, dir string, pkgs []string, logf Logf) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var missing []string
	for _, p := range pkgs {
		if m, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb")); len(m) == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		if _, err := exec.LookPath("apt-get"); err != nil {
			return nil, fmt.Errorf("the NetworkPolicy enforcer image needs the Debian packages %s and there is no apt-get: put their .deb files in %s", strings.Join(missing, " "), dir)
		}
		logf("downloading Debian packages for the enforcer image: %s", strings.Join(missing, " "))
		download := func() ([]byte, error) {
			cmd := exec.CommandContext(ctx, "apt-get", append([]string{"download", "-q"}, missing...)...)
			cmd.Dir = dir
			return cmd.CombinedOutput()
		}
		out, err := download()
		if err != nil && os.Geteuid() == 0 {
			// A fresh machine may have no package lists yet.
			logf("apt-get download failed; updating the package lists once and retrying")
			if uout, uerr := exec.CommandContext(ctx, "apt-get", "update", "-qq").CombinedOutput(); uerr != nil {
				return nil, fmt.Errorf("apt-get update: %w\n%s", uerr, uout)
			}
			out, err = download()
		}
		if err != nil {
			return nil, fmt.Errorf("apt-get download %s in %s: %w\n%s(as root, run apt-get update first if the package lists are missing)", strings.Join(missing, " "), dir, err, out)
		}
	}
	var debs []string
	for _, p := range pkgs {
		m, _ := filepath.Glob(filepath.Join(dir, p+"_*.deb"))
		if len(m) != 1 {
			return nil, fmt.Errorf("want one %s_*.deb in %s, found %d: remove the extra ones", p, dir, len(m))
		}
		debs = append(debs, m[0])
	}
	sort.Strings(debs)
	return debs, nil
}

// extractDebs unpacks the debs into a root named by their hashes (once).
func extractDebs(ctx context.Context, dir string, debs []string) (string, error) {
	k := contenthash.New("debs")
	for _, d := range debs {
		sum, err := contenthash.File(d)
		if err != nil {
			return "", err
		}
		k.Fields(filepath.Base(d) + "=" + sum)
	}
	root := filepath.Join(dir, "root-"+k.String())
	if _, err := os.Stat(root); err == nil {
		return root, nil
	}
	tmp := root + ".partial"
	os.RemoveAll(tmp)
	for _, d := range debs {
		if out, err := exec.CommandContext(ctx, "dpkg-deb", "-x", d, tmp).CombinedOutput(); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("dpkg-deb -x %s: %w: %s", d, err, out)
		}
	}
	return root, os.Rename(tmp, root)
}

// enforcerFiles: the packages' files (documentation left out), the host
// libraries they link that the packages do not hold, busybox, kube-router
// and the entrypoint.
func enforcerFiles(ctx context.Context, root, bin string) ([]File, error) {
	byPath := map[string]File{}
	var elfs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
		if strings.HasPrefix(rel, "/usr/share/") {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			byPath[rel] = File{Path: rel, Link: target}
			return nil
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		byPath[rel] = File{Path: rel, Src: p, Mode: int64(st.Mode().Perm())}
		if st.Mode()&0o111 != 0 || strings.HasSuffix(rel, ".so") {
			elfs = append(elfs, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	host, err := hostLibs(ctx, root, elfs)
	if err != nil {
		return nil, err
	}
	for path, src := range host {
		if _, ok := byPath[path]; !ok {
			byPath[path] = File{Path: path, Src: src, Mode: 0o755}
		}
	}
	for _, f := range busyboxFiles("/bin/busybox") {
		byPath[f.Path] = f
	}
	for _, a := range []string{"grep", "ln", "sysctl"} {
		byPath["/bin/"+a] = File{Path: "/bin/" + a, Link: "busybox"}
	}
	byPath[EnforcerKubeRouter] = File{Path: EnforcerKubeRouter, Src: bin, Mode: 0o755}
	byPath[EnforcerEntrypoint] = File{Path: EnforcerEntrypoint, Data: []byte(enforcerScript), Mode: 0o755}
	// kube-router and iptables take the node's lock file (mounted over this).
	byPath["/run/.keep"] = File{Path: "/run/.keep", Data: []byte{}, Mode: 0o644}
	return sortedFiles(byPath), nil
}

// hostLibs are the libraries the ELF files load from outside root (libc
// and the loader), found by ldd with root's library directories first.
func hostLibs(ctx context.Context, root string, elfs []string) (map[string]string, error) {
	libDirs := []string{filepath.Join(root, "usr/lib/x86_64-linux-gnu"), filepath.Join(root, "lib/x86_64-linux-gnu")}
	libs := map[string]string{}
	for _, e := range elfs {
		cmd := exec.CommandContext(ctx, "ldd", e)
		cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+strings.Join(libDirs, ":"))
		out, err := cmd.Output()
		if err != nil {
			continue // a script or data file: ldd says "not a dynamic executable"
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			var path string
			switch {
			case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
				return nil, fmt.Errorf("%s needs %s, which neither the packages nor the host have", e, f[0])
			case len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "/"):
				path = f[2]
			case len(f) >= 1 && strings.HasPrefix(f[0], "/"):
				path = f[0]
			default:
				continue
			}
			if strings.HasPrefix(path, root) {
				continue
			}
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return nil, fmt.Errorf("library %s of %s: %w", path, e, err)
			}
			libs[path] = real
		}
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd found no host library for the packages' binaries in %s", root)
	}
	return libs, nil
}
