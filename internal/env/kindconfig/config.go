// Package kindconfig holds the kind cluster configuration of the e2e tier and
// a cluster provider on the sigs.k8s.io/kind library (no kind binary):
// create or reuse, kubeconfig, image loading, log export and deletion, with
// cleanup on Ctrl-C/SIGTERM.
package kindconfig

import (
	"fmt"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/podnet"
)

// DefaultClusterName is the kind cluster the e2e tier creates.
const DefaultClusterName = "dfe2e"

// DefaultNodes is the node count of `dfe2e e2e` without --nodes on a host
// without the memory for MultiNodeDefault (ChooseNodes): one control plane
// that also runs workloads.
const DefaultNodes = 1

// MaxNodes bounds --nodes: on a 2-core host each kind node adds a kubelet,
// containerd and kube-proxy, and beyond one control plane and three workers
// the control plane's own work starves.
const MaxNodes = 4

// CheckNodes rejects a node count outside 1..MaxNodes.
func CheckNodes(n int) error {
	if n < 1 || n > MaxNodes {
		return fmt.Errorf("--nodes %d: give 1 to %d (1 control plane + up to %d workers; the limit is this tier's, for a 2-core host)", n, MaxNodes, MaxNodes-1)
	}
	return nil
}

// ClusterConfig is the kind configuration for n nodes: one control plane
// (alone it also runs workloads; with workers kind taints it) and n-1
// workers. Offline node images carry no kindnetd (it is not on the Go
// proxy), so the default CNI is disabled and the image's bridge CNI config is
// used; with several nodes each node's containerd reads a per-node config
// instead (podnet), written once the controller-manager gave the node its
// pod range.
func ClusterConfig(offline bool, n int) *v1alpha4.Cluster {
	c := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
	}
	for i := 1; i < n; i++ {
		c.Nodes = append(c.Nodes, v1alpha4.Node{Role: v1alpha4.WorkerRole})
	}
	c.Networking.DisableDefaultCNI = offline
	if offline && n > 1 {
		c.Networking.PodSubnet = podnet.ClusterCIDR
		c.ContainerdConfigPatches = append(c.ContainerdConfigPatches, podnet.ContainerdPatch)
	}
	return c
}

// perNodeCNI reports whether the cluster's pod network is wired by podnet.
func (o Options) perNodeCNI() bool { return o.Offline && o.nodes() > 1 }

func (o Options) nodes() int {
	if o.Nodes == 0 {
		return DefaultNodes
	}
	return o.Nodes
}
