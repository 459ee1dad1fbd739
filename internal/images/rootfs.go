package images

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/k8sbuild"
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

// debianMirror is $DFE2E_DEBIAN_MIRROR or deb.debian.org.
func debianMirror() string {
	if m := os.Getenv("DFE2E_DEBIAN_MIRROR"); m != "" {
		return m
	}
	return "http://deb.debian.org/debian"
}

func rootfsKey() string {
	h := sha256.Sum256([]byte(rootfsRecipe + "\x00" + debianSuite + "\x00" + strings.Join(rootfsPackages, ",")))
	return hex.EncodeToString(h[:])[:16]
}

// EnsureRootfs returns a tarball of the node root filesystem, running
// debootstrap when the cache lacks it (≈3 min cold; .debs are cached too).
func EnsureRootfs(ctx context.Context, logf Logf) (string, error) {
	key := rootfsKey()
	out := filepath.Join(k8sbuild.CacheRoot(), "rootfs", debianSuite+"-"+key+".tar")
	if _, err := os.Stat(out); err == nil {
		return out, nil
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
	logf("debootstrap %s node root filesystem from %s (≈3 min cold)", debianSuite, debianMirror())
	cmd := exec.CommandContext(ctx, "debootstrap", "--variant=minbase", "--cache-dir="+debs,
		"--include="+strings.Join(rootfsPackages, ","), debianSuite, filepath.Join(work, "root"), debianMirror())
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("debootstrap failed after %s: %w\n%s", time.Since(start).Round(time.Second), err, lastLines(b, 30))
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
