// Package podnet wires the pod network of a multi-node offline kind cluster.
// The offline node image carries one bridge CNI config on the whole cluster
// pod range (there is no kindnetd): fine for one node, but two nodes would
// hand out the same pod IPs and could not reach each other's pods. So each
// node gets its own config on the range the controller-manager gave it
// (spec.podCIDR) in a directory the node's containerd is pointed at, and
// every node routes the other nodes' ranges via their node IPs — what
// kindnetd does on kind's official images. The node image is not changed.
package podnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
)

// ClusterCIDR is the cluster's pod range: kind's default podSubnet, the range
// of the node image's own bridge config too.
const ClusterCIDR = "10.244.0.0/16"

// ConfDir is where the node's containerd reads CNI configs on a multi-node
// cluster; the image's single-node config stays, unread, in /etc/cni/net.d.
// A node without a file here reports NetworkNotReady, so no pod lands on it
// before its range is known.
const ConfDir = "/etc/cni/net.d/dfe2e"

// ConfPath is the node's own bridge config.
const ConfPath = ConfDir + "/10-dfe2e-bridge.conflist"

// ContainerdPatch points the CRI plugin of the offline node's containerd
// (version-2 config) at ConfDir. kind applies it when it creates the node and
// restarts containerd, which creates the directory and watches it.
const ContainerdPatch = `version = 2

[plugins."io.containerd.grpc.v1.cri".cni]
  conf_dir = "` + ConfDir + `"
`

// masqComment marks this package's masquerade rule, so it is added once.
const masqComment = "dfe2e-podnet"

// Node is one node's part of the pod network.
type Node struct {
	Name    string // the node (and its kind container)
	IP      string // its address on the kind network
	PodCIDR string // spec.podCIDR
}

// Check rejects a node list that cannot be wired: a missing or malformed
// address or range, a range outside cluster, two nodes on one range or
// address.
func Check(ns []Node, cluster string) error {
	if len(ns) == 0 {
		return fmt.Errorf("pod network: no nodes")
	}
	cl, err := netip.ParsePrefix(cluster)
	if err != nil {
		return fmt.Errorf("pod network: cluster range %q: %w", cluster, err)
	}
	seenIP, seenCIDR := map[string]string{}, map[netip.Prefix]string{}
	for _, n := range ns {
		if n.Name == "" {
			return fmt.Errorf("pod network: a node without a name (%+v)", n)
		}
		ip, err := netip.ParseAddr(n.IP)
		if err != nil || !ip.Is4() {
			return fmt.Errorf("pod network: node %s has no IPv4 address (%q)", n.Name, n.IP)
		}
		if n.PodCIDR == "" {
			return fmt.Errorf("pod network: node %s has no spec.podCIDR yet (the controller-manager allocates it)", n.Name)
		}
		p, err := netip.ParsePrefix(n.PodCIDR)
		if err != nil || p != p.Masked() {
			return fmt.Errorf("pod network: node %s: spec.podCIDR %q is not a network prefix", n.Name, n.PodCIDR)
		}
		if !cl.Contains(p.Addr()) || p.Bits() < cl.Bits() {
			return fmt.Errorf("pod network: node %s: spec.podCIDR %s is outside the cluster range %s", n.Name, p, cl)
		}
		for q, other := range seenCIDR {
			if q.Overlaps(p) {
				return fmt.Errorf("pod network: nodes %s and %s have overlapping pod ranges %s and %s", other, n.Name, q, p)
			}
		}
		if other, ok := seenIP[n.IP]; ok {
			return fmt.Errorf("pod network: nodes %s and %s share the address %s", other, n.Name, n.IP)
		}
		seenIP[n.IP], seenCIDR[p] = n.Name, n.Name
	}
	return nil
}

// BridgeConf is a node's CNI config: the node image's bridge and portmap
// chain on the node's own range. ipMasq is off: traffic between pods keeps
// its pod source address (NetworkPolicy sees the real peer); the masquerade
// for traffic leaving the cluster range is the node's rule (Script).
func BridgeConf(podCIDR string) (string, error) {
	p, err := netip.ParsePrefix(podCIDR)
	if err != nil || p != p.Masked() || !p.Addr().Is4() {
		return "", fmt.Errorf("pod network: %q is not an IPv4 network prefix", podCIDR)
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "dfe2e-bridge",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": []any{[]any{map[string]any{"subnet": p.String()}}},
					"routes": []any{map[string]any{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]any{"portMappings": true}},
		},
	}
	b, err := json.MarshalIndent(conf, "", "  ")
	if err != nil {
		return "", err
	}
	return string(b) + "\n", nil
}

// Script is what runs on node self: a route to every other node's range via
// that node's address (replace: a restarted node may have a new address), and
// one masquerade rule for its pods' traffic leaving the cluster range.
func Script(self Node, all []Node, cluster string) string {
	others := append([]Node(nil), all...)
	sort.Slice(others, func(i, j int) bool { return others[i].Name < others[j].Name })
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, o := range others {
		if o.Name == self.Name {
			continue
		}
		fmt.Fprintf(&b, "ip route replace %s via %s\n", o.PodCIDR, o.IP)
	}
	rule := fmt.Sprintf("POSTROUTING -s %s ! -d %s -m comment --comment %s -j MASQUERADE", self.PodCIDR, cluster, masqComment)
	fmt.Fprintf(&b, "iptables -t nat -C %s 2>/dev/null || iptables -t nat -A %s\n", rule, rule)
	return b.String()
}

// Exec runs args in node's container with stdin (nil: none).
type Exec func(ctx context.Context, node string, stdin io.Reader, args ...string) error

// Apply writes each node's CNI config (write and rename: containerd never
// reads half a file) and runs its routes script. It is idempotent, so it
// also repairs the routes after a node container restarted.
func Apply(ctx context.Context, run Exec, ns []Node, cluster string) error {
	if err := Check(ns, cluster); err != nil {
		return err
	}
	for _, n := range ns {
		conf, err := BridgeConf(n.PodCIDR)
		if err != nil {
			return err
		}
		write := `set -e; mkdir -p "$(dirname "$1")"; cat > "$1.tmp"; mv "$1.tmp" "$1"`
		if err := run(ctx, n.Name, strings.NewReader(conf), "sh", "-c", write, "sh", ConfPath); err != nil {
			return fmt.Errorf("writing the CNI config (pod range %s) into node %s: %w", n.PodCIDR, n.Name, err)
		}
	}
	for _, n := range ns {
		if err := run(ctx, n.Name, nil, "sh", "-c", Script(n, ns, cluster)); err != nil {
			return fmt.Errorf("routing the other nodes' pod ranges on node %s: %w", n.Name, err)
		}
	}
	return nil
}

// Parse reads lines of "name address podCIDR" (kubectl's jsonpath output of
// the nodes); a node without a podCIDR yet has two fields and an empty range.
func Parse(out string) []Node {
	var ns []Node
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		n := Node{Name: f[0], IP: f[1]}
		if len(f) > 2 {
			n.PodCIDR = f[2]
		}
		ns = append(ns, n)
	}
	return ns
}

// NodesJSONPath is the kubectl jsonpath Parse reads: name, InternalIP,
// spec.podCIDR per node.
const NodesJSONPath = `{range .items[*]}{.metadata.name} {.status.addresses[?(@.type=="InternalIP")].address} {.spec.podCIDR}{"\n"}{end}`
