// Package cluster gives the suites one Kubernetes API server to talk to and
// takes it down again, hiding which engine runs it.
//
// A Provider is selected by DFE2E_CLUSTER (envtest, kubeconfig; kind is added
// by its own file through Register). Start returns a Cluster: a *rest.Config
// plus a kubeconfig file for tools that want one. Every provider's Start ends
// with the same reachability probe, so a wrong or dead server fails fast with
// a message that says what to do instead of hanging the suite.
package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// DefaultProvider is used when config.EnvCluster is empty: it needs no Docker and no cluster.
const DefaultProvider = "envtest"

// Provider brings up (or connects to) one API server and tears it down.
type Provider interface {
	// Name is the value of DFE2E_CLUSTER that selects this provider.
	Name() string
	// Start returns a reachable cluster. On error nothing is left running.
	Start(ctx context.Context) (*Cluster, error)
	// Stop releases what Start created (processes, temp files, containers).
	// It is safe to call after a failed Start and more than once.
	Stop(ctx context.Context) error
}

// Cluster is what the suites get from a provider.
type Cluster struct {
	// Provider is the provider name, for reports.
	Provider string
	// Config talks to the API server as a cluster admin.
	Config *rest.Config
	// KubeconfigFile is a kubeconfig for the same identity (owned by the
	// provider; removed on Stop when the provider wrote it).
	KubeconfigFile string
	// Disposable is true when the cluster exists only for this run, so the
	// suites may apply cluster-scoped objects freely.
	Disposable bool
}

// Factory makes a provider from the environment.
type Factory func() (Provider, error)

var (
	registryMu sync.Mutex
	registry   = map[string]Factory{}
)

// Register adds a provider under name; call it from an init() in the file
// that implements the provider.
func Register(name string, f Factory) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("cluster: provider registered twice: " + name)
	}
	registry[name] = f
}

// Names lists the registered providers, sorted.
func Names() []string {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// FromEnv returns the provider DFE2E_CLUSTER names (DefaultProvider when unset).
func FromEnv() (Provider, error) {
	name := strings.TrimSpace(config.FromEnv().Cluster)
	if name == "" {
		name = DefaultProvider
	}
	return ByName(name)
}

// ByName returns the named provider or an error listing the known ones.
func ByName(name string) (Provider, error) {
	registryMu.Lock()
	f, ok := registry[name]
	registryMu.Unlock()
	if !ok {
		hint := ""
		if name == "kind" {
			hint = " (the kind provider is not built into this version yet)"
		}
		return nil, fmt.Errorf("%s=%q is not a known cluster provider%s: use one of %s", config.EnvCluster, name, hint, strings.Join(Names(), ", "))
	}
	return f()
}

// UnreachableError says which server did not answer and what to do.
type UnreachableError struct {
	Provider string
	Host     string
	Err      error
	Remedy   string
	// Waited names the timeout that ran out ("" when it failed before waiting).
	Waited wait.Name
}

func (e *UnreachableError) Error() string {
	msg := fmt.Sprintf("%s provider: API server %s is unreachable: %v — %s", e.Provider, e.Host, e.Err, e.Remedy)
	if e.Waited != "" {
		msg += fmt.Sprintf(" (waited %s=%s; a slow server needs a larger value in %s)", e.Waited, wait.Timeout(e.Waited), config.EnvTimeouts)
	}
	return msg
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// WaitReachable polls the API server's version endpoint until it answers or
// the named timeout passes. remedy is the advice put in the error.
func WaitReachable(ctx context.Context, provider string, cfg *rest.Config, timeout wait.Name, remedy string) error {
	c := rest.CopyConfig(cfg)
	if c.Timeout == 0 {
		// One request must not outlive the whole wait (a black-holed address).
		c.Timeout = wait.Timeout(timeout) / 3
	}
	dc, err := discovery.NewDiscoveryClientForConfig(c)
	if err != nil {
		return &UnreachableError{Provider: provider, Host: cfg.Host, Err: err, Remedy: remedy}
	}
	var lastErr error
	_, err = wait.For(ctx, "API server "+cfg.Host+" to answer /version", timeout, func(context.Context) (bool, string, error) {
		if _, err := dc.ServerVersion(); err != nil {
			lastErr = err
			return false, err.Error(), nil
		}
		return true, "", nil
	})
	if err != nil {
		if lastErr == nil {
			lastErr = err
		}
		return &UnreachableError{Provider: provider, Host: cfg.Host, Err: lastErr, Remedy: remedy, Waited: timeout}
	}
	return nil
}
