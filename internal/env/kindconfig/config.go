// Package kindconfig holds the kind cluster configuration of the e2e tier and
// a cluster provider on the sigs.k8s.io/kind library (no kind binary):
// create or reuse, kubeconfig, image loading, log export and deletion, with
// cleanup on Ctrl-C/SIGTERM.
package kindconfig

import (
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// DefaultClusterName is the kind cluster the e2e tier creates.
const DefaultClusterName = "dfe2e"

// ClusterConfig is the kind configuration: one control-plane node that also
// runs workloads. Offline node images carry no kindnetd (it is not on the Go
// proxy), so the default CNI is disabled and the image's bridge CNI config is
// used instead.
func ClusterConfig(offline bool) *v1alpha4.Cluster {
	c := &v1alpha4.Cluster{
		TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
		Nodes:    []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole}},
	}
	c.Networking.DisableDefaultCNI = offline
	return c
}
