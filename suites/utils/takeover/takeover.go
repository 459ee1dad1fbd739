// Package takeover judges a new master after it took over from a killed or
// replaced one: the acknowledged writes it lacks (RPO) and whether the
// dataset loaded before the takeover is intact on it.
package takeover

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
)

// Result is what the new master holds. The caller judges it:
// RPO.Judge(kill, bound) is the one loss judgement — failover.ReplicationLag
// after a kill, failover.NoLoss after a hand-over that waits for the
// replica — and Dataset.Err() names lost dataset keys.
type Result struct {
	RPO     failover.RPO
	Dataset *dataset.Report
}

// Check judges master through a port-forward to its port 6379.
func Check(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, master *corev1.Pod, log *failover.Log, ds dataset.Spec) (Result, error) {
	c, closeAll, err := instance.Connect(ctx, cfg, cs, master, 6379, 4)
	if err != nil {
		return Result{}, fmt.Errorf("connecting to the new master %s: %w", master.Name, err)
	}
	defer closeAll()
	return Judge(ctx, c, log, ds)
}

// Judge counts the acknowledged writes of log that c's server lacks, then
// verifies ds there. An error is one of reaching the server, not a loss.
func Judge(ctx context.Context, c *redis.Client, log *failover.Log, ds dataset.Spec) (Result, error) {
	rpo, err := failover.CountRPO(ctx, c, log)
	if err != nil {
		return Result{}, err
	}
	v, err := dataset.Verify(ctx, c, ds, dataset.Options{})
	if err != nil {
		return Result{RPO: rpo}, err
	}
	return Result{RPO: rpo, Dataset: v}, nil
}
