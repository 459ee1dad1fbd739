package images

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
)

// Node root filesystem: Debian bookworm with systemd and Debian's container
// runtime (containerd 1.6, runc 1.1, CNI plugins 1.1) — the packages a kind
// node needs, from the Debian archive instead of a registry.
const (
	debianSuite = "bookworm"
	// rootfsRecipe changes whenever the way the tarball is made changes.
	rootfsRecipe = "rootfs-v1"
)

var rootfsPackages = []string{
	"systemd", "systemd-sysv", "dbus", "conntrack", "iptables", "nftables", "iproute2", "ethtool",
	"util-linux", "mount", "kmod", "libseccomp2", "pigz", "bash", "ca-certificates", "curl", "jq",
	"procps", "e2fsprogs", "containerd", "runc", "containernetworking-plugins", "socat",
}

// aptDir holds the host's apt sources; tests point it at a temporary tree.
var aptDir = "/etc/apt"

// debianMirror is the Debian archive debootstrap fetches from:
// $DFE2E_DEBIAN_MIRROR, else the host's own apt source for the suite's main
// component — the archive this machine is already set up to reach. It is
// deliberately not part of rootfsKey: the same packages from another mirror
// make the same root filesystem, and a new key means a cold rebuild.
func debianMirror() (string, error) {
	if m := strings.TrimSpace(config.FromEnv().DebianMirror); m != "" {
		return m, nil
	}
	return aptMirror(aptDir, debianSuite)
}

// aptMirror returns the first URI, in apt's own reading order, of an enabled
// binary ("deb") source under dir that serves suite itself (not its -updates
// or -security suites, which are not complete archives) with component main.
func aptMirror(dir, suite string) (string, error) {
	files := []string{filepath.Join(dir, "sources.list")}
	parts, err := os.ReadDir(filepath.Join(dir, "sources.list.d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	for _, e := range parts { // ReadDir sorts by name, as apt reads them
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources")) {
			files = append(files, filepath.Join(dir, "sources.list.d", n))
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		parse := parseOneLineSources
		if strings.HasSuffix(f, ".sources") {
			parse = parseDeb822Sources
		}
		for _, s := range parse(string(b)) {
			if u := s.uriFor(suite); u != "" {
				return u, nil
			}
		}
	}
	return "", fmt.Errorf("no Debian archive serving %s main in the apt sources under %s (sources.list, sources.list.d/*.list, sources.list.d/*.sources): set DFE2E_DEBIAN_MIRROR to the URL of a Debian archive that serves %s (e.g. http://<your-mirror>/debian)", suite, dir, suite)
}

// aptSource is one apt source entry, in either file format.
type aptSource struct {
	types, uris, suites, components []string
	disabled                        bool
}

// uriFor is the entry's first URI debootstrap can fetch from when the entry
// serves suite's main component, else "".
func (s aptSource) uriFor(suite string) string {
	if s.disabled || !slices.Contains(s.types, "deb") || !slices.Contains(s.suites, suite) || !slices.Contains(s.components, "main") {
		return ""
	}
	for _, u := range s.uris {
		// Only schemes debootstrap fetches; apt transports (cdrom:, mirror+…) are not.
		if strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "file:") {
			return u
		}
	}
	return ""
}

// parseOneLineSources reads the one-line format:
// "deb [option=value ...] uri suite component...", "#" starting a comment.
func parseOneLineSources(text string) []aptSource {
	var out []aptSource
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			continue
		}
		typ, rest := line[:i], strings.TrimSpace(line[i:])
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		out = append(out, aptSource{types: []string{typ}, uris: f[:1], suites: f[1:2], components: f[2:]})
	}
	return out
}

// parseDeb822Sources reads the deb822 format: stanzas of "Field: value"
// separated by blank lines, indented continuation lines, "#" comment lines,
// "Enabled: no" turning a stanza off.
func parseDeb822Sources(text string) []aptSource {
	var out []aptSource
	fields := map[string]string{}
	last := ""
	flush := func() {
		if len(fields) > 0 {
			out = append(out, aptSource{
				types: strings.Fields(fields["types"]), uris: strings.Fields(fields["uris"]),
				suites: strings.Fields(fields["suites"]), components: strings.Fields(fields["components"]),
				disabled: strings.EqualFold(strings.TrimSpace(fields["enabled"]), "no"),
			})
		}
		fields, last = map[string]string{}, ""
	}
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if last != "" {
				fields[last] += " " + strings.TrimSpace(line)
			}
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(k))
			fields[last] = strings.TrimSpace(v)
		}
	}
	flush()
	return out
}

func rootfsKey() string {
	k := contenthash.New(rootfsRecipe, debianSuite)
	k.Text(strings.Join(rootfsPackages, ","))
	return k.String()
}

// EnsureRootfs returns a tarball of the node root filesystem, running
// debootstrap when the cache lacks it (≈3 min cold; .debs are cached too).
func EnsureRootfs(ctx context.Context, logf Logf) (string, error) {
	key := rootfsKey()
	out := filepath.Join(k8sbuild.CacheRoot(), "rootfs", debianSuite+"-"+key+".tar")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	mirror, err := debianMirror()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return "", err
	}
	debs := filepath.Join(k8sbuild.CacheRoot(), "debootstrap-debs")
	if err := os.MkdirAll(debs, 0o755); err != nil {
		return "", err
	}
	work, err := os.MkdirTemp(filepath.Dir(out), ".debootstrap-")
	if err != nil {
		return "", err
	}
	// An interrupted debootstrap leaves /proc and /sys mounted in the target:
	// unmount them before removing the directory.
	defer func() { unmountUnder(work); os.RemoveAll(work) }()
	start := time.Now()
	logf("debootstrap %s node root filesystem from %s (≈3 min cold)", debianSuite, mirror)
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--cache-dir="+debs,
		"--include="+strings.Join(rootfsPackages, ","), debianSuite, filepath.Join(work, "root"), mirror)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap failed after %s: %w\n%s", time.Since(start).Round(time.Second), err, tail.Lines(string(b), 30))
	}
	// Device nodes, package caches and lists are not part of an image.
	cmd = exec.CommandContext(ctx, "tar", "--numeric-owner", "--xattrs", "-C", filepath.Join(work, "root"),
		"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./var/cache/apt/archives/*.deb",
		"--exclude=./var/lib/apt/lists/*", "-cf", out+".partial", ".")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(out + ".partial")
		return "", fmt.Errorf("tar of the root filesystem: %w: %s", err, b)
	}
	if err := os.Rename(out+".partial", out); err != nil {
		return "", err
	}
	logf("node root filesystem ready in %s", time.Since(start).Round(time.Second))
	return out, nil
}

// unmountUnder lazily unmounts every mount point below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return
	}
	defer f.Close()
	var mps []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], dir+"/") {
			mps = append(mps, fields[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		_ = syscall.Unmount(mp, syscall.MNT_DETACH)
	}
}
