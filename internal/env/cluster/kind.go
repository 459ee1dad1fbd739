package cluster

import (
	"context"
	"fmt"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func init() {
	Register("kind", func() (Provider, error) { return &Kind{Path: config.FromEnv().KindKubeconfig}, nil })
}

// Kind connects to the disposable kind cluster that `dfe2e e2e` created.
// Creation and deletion stay with dfe2e e2e (kindconfig), which also cleans up
// on Ctrl-C; this provider only connects, so Stop does nothing.
type Kind struct{ Path string }

// Name implements Provider.
func (k *Kind) Name() string { return "kind" }

// Start implements Provider.
func (k *Kind) Start(ctx context.Context) (*Cluster, error) {
	if k.Path == "" {
		return nil, fmt.Errorf("kind provider: %s is not set — run the kind tier with `make e2e` (or `dfe2e e2e`), which creates the cluster and sets it; to use a cluster you manage, use %s=kubeconfig", config.EnvKindKubeconfig, config.EnvCluster)
	}
	c, err := (&Kubeconfig{Path: k.Path}).Start(ctx)
	if err != nil {
		return nil, err
	}
	c.Provider = k.Name()
	c.Disposable = true
	return c, nil
}

// Stop implements Provider.
func (k *Kind) Stop(context.Context) error { return nil }
