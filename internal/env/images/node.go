package images

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/contenthash"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// nodeRecipe changes whenever the node assembly changes (it is part of the hash).
const nodeRecipe = "node-v1"

// Versions of the images the node carries. Names are the ones kubeadm 1.34
// and the storage manifest ask for, so nothing is pulled.
const (
	PauseVersion   = "3.10.1"
	KindVersion    = "v0.32.0"
	busyboxVersion = "1.35.0"
)

// OfflineStorageImages name the locally built provisioner and helper images.
var OfflineStorageImages = kindconfig.StorageImages{
	Provisioner: "docker.io/rancher/local-path-provisioner:" + LocalPathProvisioner.Version,
	Helper:      "dfe2e.local/busybox:" + busyboxVersion,
}

// BuildContainerLabel marks throw-away build containers (for cleanup).
const BuildContainerLabel = "io.dragonfly-e2e.build"

// NodeRepo is the repository of the locally built node images.
const NodeRepo = "dfe2e.local/kind-node"

// nodeInputs are every file and text that goes into the node image.
type nodeInputs struct {
	k8sDir, etcd, coredns, lpp, crictl, pause, busybox, rootfs, kindDir string
}

func (in nodeInputs) binaries() map[string]string {
	m := map[string]string{"etcd": in.etcd, "coredns": in.coredns, "local-path-provisioner": in.lpp,
		"crictl": in.crictl, "pause": in.pause, "busybox": in.busybox}
	for _, b := range k8sbuild.KubernetesBinaries {
		m[b] = filepath.Join(in.k8sDir, b)
	}
	return m
}

// BuildOfflineNode returns the reference of a node image for Kubernetes
// v1.34.4 built without any registry, building only what the caches lack.
func BuildOfflineNode(ctx context.Context, docker string, logf Logf) (string, error) {
	start := time.Now()
	in, err := gatherInputs(ctx, logf)
	if err != nil {
		return "", err
	}
	key, err := nodeKey(in)
	if err != nil {
		return "", err
	}
	ref := NodeRepo + ":" + k8sbuild.KubernetesVersion + "-" + key
	if imageLabel(ctx, docker, ref, hashLabel) == key {
		logf("node image %s is up to date (inputs unchanged)", ref)
		return ref, nil
	}
	logf("assembling node image %s", ref)
	if err := assembleNode(ctx, docker, in, ref, key, logf); err != nil {
		return "", err
	}
	logf("node image %s built in %s", ref, time.Since(start).Round(time.Second))
	pruneOld(ctx, docker, NodeRepo, ref, logf)
	return ref, nil
}

// pruneOld removes other tags of repo (node images of older inputs, ≈1.4 GB
// each); an image still used by a container stays.
func pruneOld(ctx context.Context, docker, repo, keep string, logf Logf) {
	out, err := exec.CommandContext(ctx, docker, "images", repo, "--format", "{{.Repository}}:{{.Tag}}").Output()
	if err != nil {
		return
	}
	for _, r := range strings.Fields(string(out)) {
		if r == keep {
			continue
		}
		if exec.CommandContext(ctx, docker, "rmi", r).Run() == nil {
			logf("removed outdated image %s", r)
		}
	}
}

func gatherInputs(ctx context.Context, logf Logf) (nodeInputs, error) {
	var in nodeInputs
	var err error
	klog := k8sbuild.Logf(logf)
	if in.k8sDir, err = k8sbuild.EnsureKubernetes(ctx, k8sbuild.KubernetesBinaries, klog); err != nil {
		return in, err
	}
	if in.etcd, err = k8sbuild.EnsureEtcd(ctx, klog); err != nil {
		return in, err
	}
	for _, t := range []struct {
		dst  *string
		tool GoTool
	}{{&in.crictl, Crictl}, {&in.lpp, LocalPathProvisioner}, {&in.coredns, CoreDNS}} {
		if *t.dst, err = EnsureGoTool(ctx, t.tool, logf); err != nil {
			return in, err
		}
	}
	if in.pause, err = EnsurePause(ctx, logf); err != nil {
		return in, err
	}
	in.busybox = "/bin/busybox"
	if in.rootfs, err = EnsureRootfs(ctx, logf); err != nil {
		return in, err
	}
	if in.kindDir, err = ModuleDir(ctx, "sigs.k8s.io/kind", KindVersion); err != nil {
		return in, err
	}
	return in, nil
}

// nodeKey hashes every input: binaries by content, the rootfs by its recipe
// key, and the texts written into the node.
func nodeKey(in nodeInputs) (string, error) {
	k := contenthash.New(nodeRecipe, k8sbuild.KubernetesVersion, KindVersion, filepath.Base(in.rootfs))
	bins := in.binaries()
	names := make([]string, 0, len(bins))
	for n := range bins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sum, err := contenthash.File(bins[n])
		if err != nil {
			return "", err
		}
		k.Fields(n + "=" + sum)
	}
	k.Fields(containerdConfig, cniConfig, nodeSetupScript, string(kindconfig.StorageManifest(OfflineStorageImages)))
	return k.String(), nil
}

// componentArchives describes the images imported into the node's containerd.
func componentArchives(in nodeInputs) []Archive {
	v := k8sbuild.KubernetesVersion
	bin := func(name, src string) File { return File{Path: "/usr/local/bin/" + name, Src: src, Mode: 0o755} }
	tmp := File{Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644}
	var out []Archive
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		out = append(out, Archive{Ref: "registry.k8s.io/" + c + ":" + v, Files: []File{bin(c, filepath.Join(in.k8sDir, c)), tmp}})
	}
	// kube-proxy programs iptables: it gets the node's Debian rootfs underneath.
	out = append(out, Archive{Ref: "registry.k8s.io/kube-proxy:" + v, BaseLayers: []string{in.rootfs},
		Files: []File{bin("kube-proxy", filepath.Join(in.k8sDir, "kube-proxy"))}})
	out = append(out,
		Archive{Ref: "registry.k8s.io/etcd:" + k8sbuild.EtcdVersion + "-0", Files: []File{bin("etcd", in.etcd), tmp}},
		Archive{Ref: "registry.k8s.io/coredns/coredns:" + CoreDNS.Version, Files: []File{{Path: "/coredns", Src: in.coredns, Mode: 0o755}, tmp}, Entrypoint: []string{"/coredns"}},
		Archive{Ref: "registry.k8s.io/pause:" + PauseVersion, Files: []File{{Path: "/pause", Src: in.pause, Mode: 0o755}}, Entrypoint: []string{"/pause"}},
		Archive{Ref: OfflineStorageImages.Provisioner, Files: []File{{Path: "/usr/bin/local-path-provisioner", Src: in.lpp, Mode: 0o755}, tmp}, Entrypoint: []string{"local-path-provisioner"}},
		Archive{Ref: OfflineStorageImages.Helper, Files: busyboxFiles(in.busybox), Entrypoint: []string{"/bin/sh"}},
	)
	return out
}

func busyboxFiles(src string) []File {
	fs := []File{{Path: "/bin/busybox", Src: src, Mode: 0o755}, {Path: "/tmp/.keep", Data: []byte{}, Mode: 0o644}}
	for _, a := range []string{"sh", "mkdir", "rm", "ls", "cat", "echo", "sleep", "test", "touch", "df"} {
		fs = append(fs, File{Path: "/bin/" + a, Link: "busybox"})
	}
	return fs
}

// assembleNode: rootfs image → build container → node files and images →
// images imported into the node's containerd → docker commit. (docker
// commit cannot set STOPSIGNAL; kind removes nodes with SIGKILL anyway.)
func assembleNode(ctx context.Context, docker string, in nodeInputs, ref, key string, logf Logf) error {
	work, err := os.MkdirTemp(filepath.Join(k8sbuild.CacheRoot()), ".node-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	base := "dfe2e.local/node-rootfs:" + strings.TrimSuffix(filepath.Base(in.rootfs), ".tar")
	if imageLabel(ctx, docker, base, hashLabel) != filepath.Base(in.rootfs) {
		t := time.Now()
		logf("importing the root filesystem as %s", base)
		if _, err := run(ctx, docker, "import", "--change", "LABEL "+hashLabel+"="+filepath.Base(in.rootfs), in.rootfs, base); err != nil {
			return err
		}
		logf("imported root filesystem in %s", time.Since(t).Round(time.Second))
	}

	t := time.Now()
	archives := componentArchives(in)
	var files []File
	for _, a := range archives {
		name := strings.NewReplacer("/", "_", ":", "_").Replace(a.Ref) + ".tar"
		p := filepath.Join(work, name)
		if err := WriteArchive(a, p); err != nil {
			return fmt.Errorf("writing image %s: %w", a.Ref, err)
		}
		files = append(files, File{Path: "/kind/images/" + name, Src: p, Mode: 0o644})
	}
	logf("wrote %d component images in %s", len(archives), time.Since(t).Round(time.Second))

	nf, err := nodeFiles(in)
	if err != nil {
		return err
	}
	files = append(files, nf...)
	layer := filepath.Join(work, "node-layer.tar")
	if err := writeLayer(layer, files); err != nil {
		return err
	}

	suffix := make([]byte, 4)
	rand.Read(suffix)
	name := "dfe2e-node-build-" + hex.EncodeToString(suffix)
	if _, err := run(ctx, docker, "run", "-d", "--privileged", "--name", name, "--label", BuildContainerLabel+"=node",
		"--network", "none", "--entrypoint", "sleep", base, "infinity"); err != nil {
		return err
	}
	// Removed even when ctx is cancelled (Ctrl-C).
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = run(c, docker, "rm", "-f", "-v", name)
	}()
	t = time.Now()
	if err := runStdin(ctx, layer, docker, "cp", "-", name+":/"); err != nil {
		return fmt.Errorf("copying node files into the build container: %w", err)
	}
	if _, err := run(ctx, docker, "exec", name, "bash", "-euc", nodeSetupScript); err != nil {
		return err
	}
	if _, err := run(ctx, docker, "exec", "-d", name, "sh", "-c", "containerd >/var/log/containerd-build.log 2>&1"); err != nil {
		return err
	}
	if _, err := wait.For(ctx, "containerd in the node-image build container to answer", wait.NodeImageStep, func(ctx context.Context) (bool, string, error) {
		out, err := run(ctx, docker, "exec", name, "ctr", "version")
		return err == nil, strings.TrimSpace(out), nil
	}); err != nil {
		return err
	}
	for _, f := range files {
		if !strings.HasPrefix(f.Path, "/kind/images/") {
			continue
		}
		if _, err := run(ctx, docker, "exec", name, "ctr", "--namespace=k8s.io", "images", "import",
			"--label=io.cri-containerd.pinned=pinned", "--all-platforms", "--no-unpack", "--digests", f.Path); err != nil {
			return fmt.Errorf("importing %s into the node's containerd: %w", filepath.Base(f.Path), err)
		}
	}
	if out, err := run(ctx, docker, "exec", name, "ctr", "--namespace=k8s.io", "images", "ls", "-q"); err == nil {
		var named []string
		for _, r := range strings.Fields(out) {
			if !strings.HasPrefix(r, "sha256:") && !strings.HasPrefix(r, "import-") {
				named = append(named, r)
			}
		}
		logf("node containerd holds %d images: %s", len(named), strings.Join(named, " "))
	}
	if _, err := run(ctx, docker, "exec", name, "sh", "-c", "pkill containerd; while pgrep -x containerd >/dev/null; do sleep 0.2; done; rm -rf /kind/images /var/log/containerd-build.log"); err != nil {
		return err
	}
	logf("imported images into the node's containerd in %s", time.Since(t).Round(time.Second))
	if _, err := run(ctx, docker, "commit",
		"--change", `ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]`,
		"--change", `CMD []`,
		"--change", "ENV container=docker",
		"--change", "ENV "+defaultPath,
		"--change", "LABEL "+hashLabel+"="+key,
		name, ref); err != nil {
		return err
	}
	return nil
}

// nodeFiles are kind's node-image files (from the kind module), the
// Kubernetes binaries and this project's containerd, CNI and storage config.
func nodeFiles(in nodeInputs) ([]File, error) {
	var fs []File
	base := filepath.Join(in.kindDir, "images", "base", "files")
	err := filepath.Walk(base, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(p, base)
		if strings.HasPrefix(rel, "/LICENSES") || rel == "/etc/containerd/config.toml" {
			return nil
		}
		mode := int64(0o644)
		if strings.HasPrefix(rel, "/usr/local/bin/") || strings.HasPrefix(rel, "/kind/bin/") {
			mode = 0o755
		}
		fs = append(fs, File{Path: rel, Src: p, Mode: mode})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading kind's node-image files from %s: %w", base, err)
	}
	for _, b := range []string{"kubelet", "kubeadm", "kubectl"} {
		fs = append(fs, File{Path: "/usr/bin/" + b, Src: filepath.Join(in.k8sDir, b), Mode: 0o755})
	}
	fs = append(fs,
		File{Path: "/usr/local/bin/crictl", Src: in.crictl, Mode: 0o755},
		File{Path: "/etc/containerd/config.toml", Data: []byte(containerdConfig), Mode: 0o644},
		File{Path: "/etc/cni/net.d/10-dfe2e-bridge.conflist", Data: []byte(cniConfig), Mode: 0o644},
		File{Path: "/kind/version", Data: []byte(k8sbuild.KubernetesVersion + "\n"), Mode: 0o644},
		File{Path: "/kind/manifests/default-storage.yaml", Data: kindconfig.StorageManifest(OfflineStorageImages), Mode: 0o644},
	)
	return fs, nil
}

// containerdConfig is a version-2 config for Debian's containerd 1.6.
// restrict_oom_score_adj: without CAP_SYS_RESOURCE (these VMs) runc cannot
// lower oom_score_adj and every pod sandbox would fail.
const containerdConfig = `version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.1"
  tolerate_missing_hugepages_controller = true
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = true
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
`

// cniConfig replaces kindnetd (not on the Go proxy): Debian's bridge plugin
// on kind's default pod subnet. Single node only; no NetworkPolicy.
const cniConfig = `{
  "cniVersion": "0.4.0",
  "name": "dfe2e-bridge",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/16"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`

// nodeSetupScript turns the Debian rootfs into a kind node: the service
// layout kind's entrypoint expects (systemd as init, only containerd, kubelet
// and the mount fix-up enabled).
const nodeSetupScript = `chmod 755 /kind /kind/bin
find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
  /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
  /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
grep -q '^ReadKMsg=no' /etc/systemd/journald.conf || echo ReadKMsg=no >> /etc/systemd/journald.conf
ln -sf /usr/lib/systemd/systemd /sbin/init
ln -sf /usr/bin/containerd /usr/local/bin/containerd
systemctl enable kubelet.service containerd.service undo-mount-hacks.service
systemctl mask systemd-binfmt.service
mkdir -p /etc/kubernetes/manifests /opt/cni /var/local-path-provisioner
ln -sfn /usr/lib/cni /opt/cni/bin
`

func run(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(shortArgs(args), " "), err, tail.Lines(string(out), 20))
	}
	return string(out), nil
}

func runStdin(ctx context.Context, file, name string, args ...string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = f
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, tail.Lines(string(out), 20))
	}
	return nil
}

func shortArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if len(a) > 80 {
			a = a[:77] + "..."
		}
		out[i] = a
	}
	return out
}

// imageLabel returns label of a local image ("" when absent).
func imageLabel(ctx context.Context, docker, ref, label string) string {
	out, err := exec.CommandContext(ctx, docker, "image", "inspect", "--format", "{{index .Config.Labels \""+label+"\"}}", ref).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
