package upgrade

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/snapshots"
)

// DatasetKeys is the upgrade's dataset size unless DFE2E_DATASET_KEYS sets
// one: every data type, checksummed, small enough to write and verify on
// each instance at every hop.
const DatasetKeys = 20_000

// DatasetSpec is the data suites' dataset at the upgrade's size.
func DatasetSpec(s config.Settings) (dataset.Spec, error) {
	ds, err := snapshots.DatasetSpec(s)
	if err != nil {
		return ds, err
	}
	if _, set, _ := s.DatasetKeysValue(); !set {
		ds.Keys = DatasetKeys
	}
	return ds, nil
}

// OnMaster runs fn with a client on the instance's master (found by its role
// label), through a port-forward: the operator's NetworkPolicy admits 6379
// from the instance's namespace only.
func OnMaster(ctx context.Context, c client.Client, cfg *rest.Config, cs kubernetes.Interface, name string, fn func(context.Context, *redis.Client) error) error {
	r, err := instance.Discover(ctx, c, fixture.Namespace, name)
	if err != nil {
		return err
	}
	if r.Master == nil {
		return fmt.Errorf("Dragonfly %s/%s has no pod labelled role=master", fixture.Namespace, name)
	}
	rc, closeAll, err := instance.Connect(ctx, cfg, cs, r.Master, 6379, 4)
	if err != nil {
		return err
	}
	defer closeAll()
	return fn(ctx, rc)
}
