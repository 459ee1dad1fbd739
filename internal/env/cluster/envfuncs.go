package cluster

import (
	"context"
	"errors"
	"fmt"

	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/pkg/envconf"
	"sigs.k8s.io/e2e-framework/pkg/types"
)

type ctxKey struct{}

// Setup is an e2e-framework environment step: it starts p, stores the
// Cluster in the context and points cfg at it (kubeconfig file and client).
func Setup(p Provider) types.EnvFunc {
	return func(ctx context.Context, cfg *envconf.Config) (context.Context, error) {
		c, err := p.Start(ctx)
		if err != nil {
			return ctx, err
		}
		kc, err := klient.New(c.Config)
		if err != nil {
			return ctx, errors.Join(fmt.Errorf("%s provider: making a client: %w", p.Name(), err), p.Stop(ctx))
		}
		cfg.WithKubeconfigFile(c.KubeconfigFile).WithClient(kc)
		return context.WithValue(ctx, ctxKey{}, c), nil
	}
}

// Teardown is the matching Finish step: it stops p.
func Teardown(p Provider) types.EnvFunc {
	return func(ctx context.Context, _ *envconf.Config) (context.Context, error) {
		return ctx, p.Stop(ctx)
	}
}

// From returns the Cluster that Setup stored in ctx.
func From(ctx context.Context) (*Cluster, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Cluster)
	return c, ok
}
