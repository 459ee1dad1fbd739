package kindconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// inotifyMin are the host's inotify limits a kind node needs beside others
// (kind's documented values). Every node runs a kubelet, containerd and
// kube-proxy that each hold inotify instances, all counted against root on
// the host; Debian's 128 instances run out with two or three clusters of a
// few nodes, and then kube-proxy exits with "too many open files": the
// node's Service IPs stop answering (measured: local-path-provisioner on a
// 4-node control plane could not reach the API server and no claim bound).
// kind's 512 instances ran out too, with eleven nodes of five clusters side
// by side: a new node's systemd exited at boot ("Failed to create control
// group inotify object: Too many open files") and kubeadm init was killed,
// so the floor is 8192, which costs nothing until used.
var inotifyMin = []struct {
	key string
	min int
}{
	{"fs/inotify/max_user_instances", 8192},
	{"fs/inotify/max_user_watches", 524288},
}

// ensureInotify raises the inotify limits under sysctlDir (/proc/sys) that
// are below inotifyMin, saying so; where it may not write them (not root)
// the error gives the command that does.
func ensureInotify(sysctlDir string, logf Logf) error {
	if sysctlDir == "" {
		return nil
	}
	var fix []string
	for _, l := range inotifyMin {
		p := filepath.Join(sysctlDir, l.key)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // not Linux, or no such limit: nothing to raise
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			return fmt.Errorf("%s: %q is not a number", p, strings.TrimSpace(string(b)))
		}
		if cur >= l.min {
			continue
		}
		name := strings.ReplaceAll(l.key, "/", ".")
		if err := os.WriteFile(p, []byte(strconv.Itoa(l.min)), 0o644); err != nil {
			fix = append(fix, fmt.Sprintf("%s=%d", name, l.min))
			continue
		}
		logf("host: raised %s from %d to %d (kind nodes' kubelets, containerd and kube-proxy share the host's inotify limits)", name, cur, l.min)
	}
	if len(fix) > 0 {
		return fmt.Errorf("the host's inotify limits are too low for kind nodes (kube-proxy would exit with \"too many open files\") and this process may not raise them; run: sudo sysctl -w %s", strings.Join(fix, " "))
	}
	return nil
}
