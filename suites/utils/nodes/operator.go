package nodes

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

// Cordon marks node unschedulable (on) or schedulable again (off).
func Cordon(ctx context.Context, c client.Client, node string, on bool) error {
	var n corev1.Node
	if err := c.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
		return err
	}
	patch := client.MergeFrom(n.DeepCopy())
	n.Spec.Unschedulable = on
	return c.Patch(ctx, &n, patch)
}

// OperatorOn is the node of the operator's Ready pod ("" when none is Ready).
func OperatorOn(ctx context.Context, c client.Reader) (string, error) {
	pods, err := operatorpods.List(ctx, c)
	if err != nil {
		return "", err
	}
	for i := range pods {
		if pods[i].DeletionTimestamp == nil && instance.PodReady(&pods[i]) {
			return pods[i].Spec.NodeName, nil
		}
	}
	return "", nil
}

// MoveOperatorOff makes the operator run on another node than node: node is
// cordoned, the operator's pods on it deleted, and once a new operator pod is
// Ready elsewhere (DeploymentAvailable) the node is uncordoned. A failed node
// must be seen by a running operator: one that dies with the node waits for
// its own eviction (5 minutes of not-ready toleration) before it can act,
// which measures Kubernetes, not the operator's failover. Returns whether it
// moved anything.
func MoveOperatorOff(ctx context.Context, c client.Client, node string) (moved bool, err error) {
	on, err := OperatorOn(ctx, c)
	if err != nil || on != node {
		return false, err
	}
	if err := Cordon(ctx, c, node, true); err != nil {
		return false, fmt.Errorf("cordoning %s: %w", node, err)
	}
	defer func() {
		if uerr := Cordon(context.WithoutCancel(ctx), c, node, false); uerr != nil && err == nil {
			err = fmt.Errorf("uncordoning %s: %w", node, uerr)
		}
	}()
	pods, err := operatorpods.List(ctx, c)
	if err != nil {
		return false, err
	}
	for i := range pods {
		if pods[i].Spec.NodeName == node {
			if err := c.Delete(ctx, &pods[i]); client.IgnoreNotFound(err) != nil {
				return false, err
			}
		}
	}
	_, err = wait.For(ctx, "an operator pod to be Ready on another node than "+node, wait.DeploymentAvailable, func(ctx context.Context) (bool, string, error) {
		on, err := OperatorOn(ctx, c)
		if err != nil {
			return false, err.Error(), nil
		}
		return on != "" && on != node, "operator Ready on " + orNone(on), nil
	})
	return err == nil, err
}
