//go:build e2e

package suites

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/types"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// Suite-wide state, set once by BeforeSuite: one API server for every spec.
var (
	depth     Level
	provider  cluster.Provider
	envCfg    *envconf.Config
	envCtx    context.Context
	k8s       client.Client
	clientset kubernetes.Interface
	bundle    *operator.Bundle
)

// requestTimeout bounds every API request the specs make.
const requestTimeout = 30 * time.Second

func TestSuites(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "dragonfly-e2e suites")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	depth, err = Depth()
	must(err)
	must(wait.CheckEnv())
	provider, err = cluster.FromEnv()
	must(err)
	if e, ok := provider.(*cluster.Envtest); ok {
		// Straight to stderr: a first run builds kube-apiserver and etcd for
		// minutes, and that must not look like a hang.
		e.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s envtest: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	version := cmp.Or(config.FromEnv().OperatorVersion, operator.DefaultVersion)

	// e2e-framework steps, run in order as its env.Setup would.
	envCfg = envconf.New()
	envCtx = context.Background()
	for _, step := range []types.EnvFunc{cluster.Setup(provider), renderBundle(version), applyBundle} {
		envCtx, err = step(envCtx, envCfg)
		must(err)
	}
}, NodeTimeout(40*time.Minute)) // a first run builds kube-apiserver and etcd

var _ = AfterSuite(func(ctx SpecContext) {
	if provider != nil {
		_, err := cluster.Teardown(provider)(ctx, envCfg)
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(2*time.Minute))

// renderBundle renders the relocated operator bundle and makes the clients.
func renderBundle(version string) types.EnvFunc {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		c, ok := cluster.From(ctx)
		if !ok {
			return ctx, fmt.Errorf("renderBundle: no cluster in context (run cluster.Setup first)")
		}
		scheme := runtime.NewScheme()
		if err := clientgoscheme.AddToScheme(scheme); err != nil {
			return ctx, err
		}
		// No single request may hang a spec: the suite must stop, not stall.
		rc := rest.CopyConfig(c.Config)
		rc.Timeout = requestTimeout
		// client-go's default 5 QPS would pace the ~90 SubjectAccessReviews of
		// one RBAC pass over 18 s on a kubeconfig cluster (envtest sets its own).
		rc.QPS, rc.Burst = 100, 200
		var err error
		if k8s, err = client.New(rc, client.Options{Scheme: scheme}); err != nil {
			return ctx, err
		}
		if clientset, err = kubernetes.NewForConfig(rc); err != nil {
			return ctx, err
		}
		bundle, err = operator.Render(ctx, version, bundleSource())
		if err != nil {
			return ctx, fmt.Errorf("rendering operator %s: %w", version, err)
		}
		GinkgoWriter.Printf("operator %s rendered from %s: %d objects\n", bundle.Version, bundle.Origin, len(bundle.Objects))
		return ctx, nil
	}
}

// applyBundle is the install step: server-side apply, CRDs Established.
// The install specs then check what landed.
func applyBundle(ctx context.Context, _ *envconf.Config) (context.Context, error) {
	return ctx, installcheck.Apply(ctx, k8s, bundle.Objects)
}

// must fails the current node with err's own message (which says what to
// do) instead of a dump of the error's fields.
func must(err error) {
	GinkgoHelper()
	if err != nil {
		Fail(err.Error())
	}
}

// atLevel skips the current spec when its level is below the test depth.
func atLevel(l Level) {
	if r := SkipReason(l, depth); r != "" {
		Skip(r)
	}
}
