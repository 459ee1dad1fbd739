// Package nodes puts images on nodes and restarts kind nodes.
package nodes

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// EnsureImage loads a locally built archive into each kind node that lacks
// the image; on other clusters (provider is not "kind") a node without it
// is a blocked message naming the remedy.
func EnsureImage(ctx context.Context, c client.Reader, provider, ref, archive string, logf func(string, ...any)) (blocked string, err error) {
	var nodes corev1.NodeList
	if err := c.List(ctx, &nodes); err != nil {
		return "", err
	}
	for _, n := range nodes.Items {
		if imagepull.OnNode(n, ref) {
			continue
		}
		if provider != "kind" {
			return verdict.BlockedMessage("image "+ref+" is not on node "+n.Name, "import "+archive+" into the node's containerd (ctr -n k8s.io images import "+archive+" on the node; for a kind cluster: kind load image-archive "+archive+"), then run again"), nil
		}
		start := time.Now()
		if err := standin.LoadIntoKindNode(ctx, standin.DockerBinary(), n.Name, archive); err != nil {
			return "", err
		}
		logf("loaded %s into kind node %s in %s\n", ref, n.Name, time.Since(start).Round(time.Millisecond))
	}
	return "", nil
}

// RestartKind restarts the container of kind node node (kind names the
// container after the node), re-routes a per-node pod network (the restart
// empties the node's routes) and waits until the node is Ready again.
func RestartKind(ctx context.Context, c client.Reader, node string) error {
	out, err := exec.CommandContext(ctx, standin.DockerBinary(), "restart", node).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker restart %s: %w: %s", node, err, out)
	}
	if err := Rewire(ctx, c, node); err != nil {
		return err
	}
	_, err = wait.For(ctx, "kind node "+node+" to be Ready after its container restarted", wait.NodeRestarted, func(ctx context.Context) (bool, string, error) {
		return Ready(ctx, c, node)
	})
	return err
}

// Ready is a wait condition: node's Ready condition is True.
func Ready(ctx context.Context, c client.Reader, node string) (bool, string, error) {
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
		return false, err.Error(), nil
	}
	for _, cd := range n.Status.Conditions {
		if cd.Type == corev1.NodeReady {
			return cd.Status == corev1.ConditionTrue, "Ready=" + string(cd.Status), nil
		}
	}
	return false, "no Ready condition", nil
}
