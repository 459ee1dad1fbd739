package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

func init() {
	Register("envtest", func() (Provider, error) { return &Envtest{}, nil })
}

// Envtest runs a real kube-apiserver and etcd as local processes
// (controller-runtime envtest): no Docker, no kubelet, no controllers — enough
// for apply, RBAC (authorization mode RBAC) and admission.
type Envtest struct {
	// AssetsDir overrides KUBEBUILDER_ASSETS. When both are empty the pinned
	// binaries are built (once, cached) with internal/env/k8sbuild.
	AssetsDir string
	// Logf receives progress lines (build, start); nil discards them.
	Logf func(format string, args ...any)

	env        *envtest.Environment
	kubeconfig string
}

// Name implements Provider.
func (e *Envtest) Name() string { return "envtest" }

func (e *Envtest) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

// assets finds the KUBEBUILDER_ASSETS directory, building it when missing.
func (e *Envtest) assets(ctx context.Context) (string, error) {
	dir := e.AssetsDir
	if dir == "" {
		dir = config.FromEnv().KubebuilderAssets
	}
	if dir == "" {
		e.logf("%s is not set: building (or reusing cached) kube-apiserver %s and etcd %s", config.EnvKubebuilderAssets, k8sbuild.KubernetesVersion, k8sbuild.EtcdVersion)
		return k8sbuild.EnvtestAssets(ctx, k8sbuild.Logf(e.logf))
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("envtest provider: %s=%s has no %s: run `go run ./cmd/dfe2e assets envtest` and export its output as %s, or unset it to build the pinned binaries", config.EnvKubebuilderAssets, dir, b, config.EnvKubebuilderAssets)
		}
	}
	return dir, nil
}

// Start implements Provider.
func (e *Envtest) Start(ctx context.Context) (*Cluster, error) {
	dir, err := e.assets(ctx)
	if err != nil {
		return nil, err
	}
	e.env = &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: wait.Timeout(wait.APIServerReady),
		ControlPlaneStopTimeout:  30 * time.Second,
	}
	// Explicit paths: envtest would otherwise let KUBEBUILDER_ASSETS win over AssetsDir.
	e.env.ControlPlane.GetAPIServer().Path = filepath.Join(dir, "kube-apiserver")
	e.env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(dir, "etcd")}
	start := time.Now()
	cfg, err := e.env.Start()
	if err != nil {
		stopErr := e.Stop(ctx)
		return nil, errors.Join(fmt.Errorf("envtest provider: starting kube-apiserver and etcd from %s failed (raise %s in DFE2E_TIMEOUTS on a slow machine, or rebuild the assets with `go run ./cmd/dfe2e assets envtest`): %w", dir, wait.APIServerReady, err), stopErr)
	}
	e.logf("envtest API server %s up in %s", cfg.Host, time.Since(start).Round(time.Millisecond))
	f, err := os.CreateTemp("", "dfe2e-envtest-kubeconfig-")
	if err == nil {
		_, err = f.Write(e.env.KubeConfig)
		err = errors.Join(err, f.Close())
		e.kubeconfig = f.Name()
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("envtest provider: writing kubeconfig: %w", err), e.Stop(ctx))
	}
	if err := WaitReachable(ctx, e.Name(), cfg, wait.APIServerReady, "the envtest API server started but does not answer; see its output with KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true"); err != nil {
		return nil, errors.Join(err, e.Stop(ctx))
	}
	return &Cluster{Provider: e.Name(), Config: cfg, KubeconfigFile: e.kubeconfig, Disposable: true}, nil
}

// Stop implements Provider.
func (e *Envtest) Stop(context.Context) error {
	var errs []error
	if e.env != nil {
		if err := e.env.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("envtest provider: stopping kube-apiserver/etcd: %w", err))
		}
		e.env = nil
	}
	if e.kubeconfig != "" {
		if err := os.Remove(e.kubeconfig); err != nil && !os.IsNotExist(err) {
			errs = append(errs, err)
		}
		e.kubeconfig = ""
	}
	return errors.Join(errs...)
}
