package kindconfig

import (
	"bytes"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
)

// Registry mirrors for the node's containerd. Pods whose images are pulled
// with imagePullPolicy Always (the Dragonfly CRD's default) never use images
// imported into the node, so an air-gapped cluster serves them from a mirror:
// containerd reads certs.d/<upstream host>/hosts.toml on every pull.

// CertsDir is where the node's containerd looks for per-registry hosts files.
const CertsDir = "/etc/containerd/certs.d"

// MirrorPatches are the containerd config patches that turn on CertsDir.
// kind applies a patch only when its version matches the node's config, so
// one patch per config layout: version 2 (containerd 1.6/1.7, the offline
// node image) and version 3 (containerd 2.x, kind's official images, which
// already set it).
var MirrorPatches = []string{
	`version = 2

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "` + CertsDir + `"
`,
	`version = 3

[plugins."io.containerd.cri.v1.images".registry]
  config_path = "` + CertsDir + `"
`,
}

// HostsTOML is containerd's hosts.toml for upstream host: pull and resolve
// through mirror first, then upstream itself (unreachable offline, so a
// missing image fails the pull with the upstream name in the event).
func HostsTOML(upstream, mirror string) string {
	return fmt.Sprintf("server = %q\n\n[host.%q]\n  capabilities = [\"pull\", \"resolve\"]\n", upstreamServer(upstream), strings.TrimRight(mirror, "/"))
}

// upstreamServer is the URL containerd falls back to; Docker Hub's pulls go
// to registry-1.docker.io, not docker.io.
func upstreamServer(host string) string {
	if host == "docker.io" {
		return "https://registry-1.docker.io"
	}
	return "https://" + host
}

// HostsFiles maps each upstream host to its hosts.toml path in the node and
// the file's content.
func HostsFiles(mirrors map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for host, mirror := range mirrors {
		if err := checkMirror(host, mirror); err != nil {
			return nil, err
		}
		out[path.Join(CertsDir, host, "hosts.toml")] = HostsTOML(host, mirror)
	}
	return out, nil
}

func checkMirror(host, mirror string) error {
	if host == "" || strings.ContainsAny(host, "/ \t\n\"'") || host == "." || host == ".." {
		return fmt.Errorf("registry mirror: %q is not a registry host (want e.g. docker.dragonflydb.io or host:port)", host)
	}
	u, err := url.Parse(mirror)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(mirror, "\"\n") {
		return fmt.Errorf("registry mirror for %s: %q is not an http(s) URL", host, mirror)
	}
	return nil
}

// clusterConfig is ClusterConfig plus what the options ask of the node.
func (o Options) clusterConfig() *v1alpha4.Cluster {
	c := ClusterConfig(o.Offline, o.nodes())
	if len(o.Mirrors) > 0 {
		c.ContainerdConfigPatches = append(c.ContainerdConfigPatches, MirrorPatches...)
	}
	return c
}

// writeMirrors writes the hosts files into every node. containerd reads them
// per pull, so no restart is needed; a reused cluster created without
// CertsDir in its config cannot use them, which is an error, not a silent
// pull from upstream.
func writeMirrors(ns []nodes.Node, mirrors map[string]string) error {
	if len(mirrors) == 0 {
		return nil
	}
	files, err := HostsFiles(mirrors)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, n := range ns {
		var cfg bytes.Buffer
		if err := n.Command("cat", "/etc/containerd/config.toml").SetStdout(&cfg).Run(); err != nil {
			return fmt.Errorf("reading the containerd config of node %s: %w", n.String(), err)
		}
		if !strings.Contains(cfg.String(), `config_path = "`+CertsDir+`"`) {
			return fmt.Errorf("node %s: containerd does not read %s (the cluster was created without registry mirrors); delete and recreate it", n.String(), CertsDir)
		}
		for _, p := range paths {
			// Write then rename, so a pull never reads half a file.
			script := `set -e; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; mv "$1.tmp" "$1"`
			if err := n.Command("sh", "-c", script, "sh", p).SetStdin(strings.NewReader(files[p])).Run(); err != nil {
				return fmt.Errorf("writing %s into node %s: %w", p, n.String(), err)
			}
		}
	}
	return nil
}

func (c *Cluster) applyMirrors() error {
	if len(c.o.Mirrors) == 0 {
		return nil
	}
	ns, err := c.kind.ListNodes(c.o.Name)
	if err != nil {
		return fmt.Errorf("listing the nodes of %q for registry mirrors: %w", c.o.Name, err)
	}
	if len(ns) == 0 {
		return fmt.Errorf("kind cluster %q has no nodes to write registry mirrors into", c.o.Name)
	}
	if err := writeMirrors(ns, c.o.Mirrors); err != nil {
		return err
	}
	hosts := make([]string, 0, len(c.o.Mirrors))
	for h := range c.o.Mirrors {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	c.o.logf()("node containerd pulls %s through registry mirrors", strings.Join(hosts, ", "))
	return nil
}
