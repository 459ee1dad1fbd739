package cluster

import (
	"context"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

func init() {
	Register("kubeconfig", func() (Provider, error) {
		return &Kubeconfig{Context: config.FromEnv().KubeContext}, nil
	})
}

// Kubeconfig uses an existing cluster through KUBECONFIG (or ~/.kube/config)
// and its current context (or DFE2E_KUBE_CONTEXT). It creates nothing, so Stop does nothing; the
// suites remove the objects they create.
type Kubeconfig struct {
	// Path overrides the loading rules (KUBECONFIG, then ~/.kube/config).
	Path string
	// Context overrides the current context.
	Context string
}

// Name implements Provider.
func (k *Kubeconfig) Name() string { return "kubeconfig" }

// Start implements Provider.
func (k *Kubeconfig) Start(ctx context.Context) (*Cluster, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.Path != "" {
		rules.ExplicitPath = k.Path
	}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.Context})
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig provider: no usable kubeconfig (KUBECONFIG=%q): %w — point KUBECONFIG at your cluster's kubeconfig, or use %s=envtest to run against a local API server", config.FromEnv().Kubeconfig, err, config.EnvCluster)
	}
	file := k.Path
	if file == "" {
		file = rules.GetDefaultFilename()
	}
	remedy := "check that the cluster is running and that KUBECONFIG and its current context point at it, or use " + config.EnvCluster + "=envtest"
	if err := WaitReachable(ctx, k.Name(), cfg, wait.APIServerReachable, remedy); err != nil {
		return nil, err
	}
	return &Cluster{Provider: k.Name(), Config: cfg, KubeconfigFile: file}, nil
}

// Stop implements Provider.
func (k *Kubeconfig) Stop(context.Context) error { return nil }
