package run

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// writeRecorder is a cluster client that records every write.
type writeRecorder struct {
	client.Client
	writes []string
}

func (w *writeRecorder) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	w.writes = append(w.writes, fmt.Sprintf("create %T %s", o, o.GetName()))
	return w.Client.Create(ctx, o, opts...)
}

func (w *writeRecorder) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	w.writes = append(w.writes, fmt.Sprintf("patch %T %s", o, o.GetName()))
	return w.Client.Patch(ctx, o, p, opts...)
}

func (w *writeRecorder) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	w.writes = append(w.writes, fmt.Sprintf("update %T %s", o, o.GetName()))
	return w.Client.Update(ctx, o, opts...)
}

func (w *writeRecorder) Delete(ctx context.Context, o client.Object, opts ...client.DeleteOption) error {
	w.writes = append(w.writes, fmt.Sprintf("delete %T %s", o, o.GetName()))
	return w.Client.Delete(ctx, o, opts...)
}

func (w *writeRecorder) Apply(ctx context.Context, ac runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	w.writes = append(w.writes, fmt.Sprintf("apply %T", ac))
	return w.Client.Apply(ctx, ac, opts...)
}

// fluxTierUntouched is the check: the Flux tier on a cluster the run does
// not own is recorded as not run, with FluxTierNotRun, and wrote nothing.
func fluxTierUntouched(rec *Record, writes []string) error {
	if len(writes) > 0 {
		return fmt.Errorf("the Flux tier wrote to a cluster the run does not own: %s", strings.Join(writes, "; "))
	}
	if got := rec.Tiers["flux"]; !strings.HasPrefix(got, "not run: "+FluxTierNotRun) {
		return fmt.Errorf("the Flux tier is %q, want not run with the reason %q", got, FluxTierNotRun)
	}
	if rec.Outcome == verdict.Failed || rec.Outcome == verdict.Blocked {
		return fmt.Errorf("a Flux tier that does not apply made the run %s", rec.Outcome)
	}
	return nil
}

func fluxCRD(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	u.SetName(name)
	return u
}

func TestTheFluxTierOnAnExistingClusterIsNotRunAndInstallsNothing(t *testing.T) {
	for _, tc := range []struct {
		name string
		objs []client.Object
		want string
	}{
		{"no Flux", nil, ""},
		{"the cluster's own Flux", []client.Object{fluxCRD(cluster.FluxCRDs[0]), fluxCRD(cluster.FluxCRDs[1])}, "the cluster's own Flux"},
		{"a half-installed Flux", []client.Object{fluxCRD(cluster.FluxCRDs[0])}, "half installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &writeRecorder{Client: fakecluster.Client(tc.objs...)}
			o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health"}}
			rec, err := Execute(context.Background(), Plan{Tiers: []Tier{existingFluxTier(o, func() client.Client { return w })}})
			if err != nil {
				t.Fatal(err)
			}
			if err := fluxTierUntouched(rec, w.writes); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rec.Tiers["flux"], tc.want) {
				t.Errorf("the reason %q does not say %q", rec.Tiers["flux"], tc.want)
			}
		})
	}
}

// Planted defect: a Flux tier that installs Flux (writes a CRD) on the
// user's cluster, as the run once did for specs that then all skipped.
func TestFluxTierUntouchedNamesAFluxInstalledOnTheUsersCluster(t *testing.T) {
	w := &writeRecorder{Client: fakecluster.Client()}
	installs := Tier{Name: "flux", LabelFilter: "health", Report: filepath.Join(t.TempDir(), "flux.json"),
		Before: []Step{{"flux: install", func(ctx context.Context) (string, error) {
			return "installed", w.Create(ctx, fluxCRD(cluster.FluxCRDs[0]))
		}}},
		Run: func(context.Context, string) error { return nil }}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{installs}})
	if err != nil {
		t.Fatal(err)
	}
	err = fluxTierUntouched(rec, w.writes)
	if err == nil || !strings.Contains(err.Error(), "wrote to a cluster the run does not own") || !strings.Contains(err.Error(), cluster.FluxCRDs[0]) {
		t.Fatalf("want the check to name the Flux CRD written to the user's cluster, got %v", err)
	}
}

// Planted defect: the tier recorded as run (no reason) on the user's cluster.
func TestFluxTierUntouchedNamesATierThatRan(t *testing.T) {
	rec := &Record{Tiers: map[string]string{"flux": "ran"}}
	err := fluxTierUntouched(rec, nil)
	if err == nil || !strings.Contains(err.Error(), `the Flux tier is "ran"`) {
		t.Fatalf("want the check to name the tier that ran, got %v", err)
	}
}
