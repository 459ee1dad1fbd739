package instance

import (
	"context"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
)

// Connect opens a port-forward to pod's port and a dataset client of pool
// connections through it; closeAll closes the client, then the forward.
func Connect(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, pod *corev1.Pod, port, pool int) (c *redis.Client, closeAll func(), err error) {
	f, err := PortForward(ctx, cfg, cs, pod.Namespace, pod.Name, port)
	if err != nil {
		return nil, nil, err
	}
	c, err = dataset.Connect(ctx, f.Addr, "", pool)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return c, func() { c.Close(); f.Close() }, nil
}
