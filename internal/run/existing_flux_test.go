package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
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
// not own is recorded as not run, with the reason want, and wrote nothing.
func fluxTierUntouched(rec *Record, writes []string, want string) error {
	if len(writes) > 0 {
		return fmt.Errorf("the Flux tier wrote to a cluster the run does not own: %s", strings.Join(writes, "; "))
	}
	if got := rec.Tiers["flux"]; !strings.HasPrefix(got, "not run: "+want) {
		return fmt.Errorf("the Flux tier is %q, want not run with the reason %q", got, want)
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

// sharedFluxManifests is the offline flux2 copy on this project's machines.
func sharedFluxManifests(t *testing.T) string {
	dir := config.FromEnv().FluxManifests
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "upstream", "flux", flux.Version, "manifests")
	}
	abs, _ := filepath.Abs(dir)
	if _, err := os.Stat(abs); err != nil {
		t.Skipf("no offline Flux manifests (%s): set %s", abs, config.EnvFluxManifests)
	}
	return abs
}

// testFluxEnv is a fluxTierEnv on c whose install and suites only record
// that they were called.
func testFluxEnv(c client.Client) (*fluxTierEnv, *[]config.Settings, *bool) {
	var ran []config.Settings
	installed := false
	return &fluxTierEnv{client: func() client.Client { return c }, runID: "20261202-000000-abcdef",
		settings: func() config.Settings { return config.Settings{RunID: "20261202-000000-abcdef"} },
		install: func(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
			installed = true
			return nil
		},
		run: func(ctx context.Context, report string, s config.Settings) error { ran = append(ran, s); return nil },
	}, &ran, &installed
}

func TestTheFluxTierOnAnExistingClusterIsNotRunAndInstallsNothingWhen(t *testing.T) {
	both := []client.Object{fluxCRD(cluster.FluxCRDs[0]), fluxCRD(cluster.FluxCRDs[1])}
	for _, tc := range []struct {
		name       string
		objs       []client.Object
		skip       bool
		image      string
		want, also string
	}{
		{"the cluster has its own Flux and no --git-server-image", both, false, "", GitServerImageNeeded, "--git-server-image"},
		{"Flux is half installed", []client.Object{fluxCRD(cluster.FluxCRDs[0])}, false, "reg.example/gitserver:1", "Flux is half installed", cluster.FluxCRDs[1]},
		{"no Flux and --skip-flux-install", nil, true, "reg.example/gitserver:1", FluxSkipInstallNotRun, "--skip-flux-install"},
		{"no Flux and no --git-server-image", nil, false, "", GitServerImageNeeded, "dfe2e flux-images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &writeRecorder{Client: fakecluster.Client(tc.objs...)}
			fe, ran, installed := testFluxEnv(w)
			o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health"}}
			o.Existing.SkipFluxInstall, o.Existing.GitServerImage = tc.skip, tc.image
			rec, err := Execute(context.Background(), Plan{Tiers: []Tier{existingFluxTier(o, fe)}, Teardown: []Teardown{removeFlux(fe, nil)}})
			if err != nil {
				t.Fatal(err)
			}
			if err := fluxTierUntouched(rec, w.writes, tc.want); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(rec.Tiers["flux"], tc.also) {
				t.Errorf("the reason %q does not say %q", rec.Tiers["flux"], tc.also)
			}
			if *installed || len(*ran) > 0 {
				t.Errorf("installed Flux (%v) or ran the suites (%d times) although the tier is not run", *installed, len(*ran))
			}
		})
	}
}

func TestTheFluxTierInstallsFluxLabelledWhenAbsentAndTellsTheSuites(t *testing.T) {
	dir := sharedFluxManifests(t)
	w := &writeRecorder{Client: fakecluster.Client()}
	fe, ran, _ := testFluxEnv(w)
	var labelled bool
	fe.install = func(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
		// What the real install creates goes through c: it must label.
		ns := &corev1.Namespace{}
		ns.Name = flux.Namespace
		if err := c.Create(ctx, ns); err != nil {
			return err
		}
		labelled = ns.Labels[cluster.RunLabel] == fe.runID
		return nil
	}
	o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health", Manifests: dir}}
	o.Existing.GitServerImage = "reg.example/gitserver:1"
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{existingFluxTier(o, fe)}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Tiers["flux"] != "ran" {
		t.Fatalf("flux tier %q, want ran", rec.Tiers["flux"])
	}
	if !labelled {
		t.Errorf("the install's client does not label what it creates with %s=%s", cluster.RunLabel, fe.runID)
	}
	if len(fe.installed) == 0 {
		t.Errorf("the tier does not keep what it installed for the removal")
	}
	var detail string
	for _, s := range rec.Steps {
		if strings.HasPrefix(s.Name, "flux: install Flux") {
			detail = s.Detail
		}
	}
	for _, want := range []string{"installed Flux " + flux.Version, "source-controller", "CustomResourceDefinition", "removed at the end"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the install step says %q, not %q", detail, want)
		}
	}
	if len(*ran) != 1 {
		t.Fatalf("suites ran %d times, want 1", len(*ran))
	}
	s := (*ran)[0]
	if mode, err := s.FluxTierValue(); err != nil || mode != config.FluxTierRunInstalled {
		t.Errorf("the suites are told Flux tier mode %q (%v), want %q", s.FluxTier, err, config.FluxTierRunInstalled)
	}
	if s.GitServerImage != o.Existing.GitServerImage || s.RunID != fe.runID {
		t.Errorf("the suites are told git server %q and run id %q", s.GitServerImage, s.RunID)
	}
}

// Planted defect: a Flux tier that installs Flux (writes a CRD) while it
// records the tier as not run.
func TestFluxTierUntouchedNamesAFluxInstalledOnTheUsersCluster(t *testing.T) {
	w := &writeRecorder{Client: fakecluster.Client()}
	installs := Tier{Name: "flux", LabelFilter: "health", Report: filepath.Join(t.TempDir(), "flux.json"),
		Before: []Step{{"flux: install", func(ctx context.Context) (string, error) {
			if err := w.Create(ctx, fluxCRD(cluster.FluxCRDs[0])); err != nil {
				return "", err
			}
			return "", &NotRunError{Why: FluxSkipInstallNotRun}
		}}},
		Run: func(context.Context, string) error { return nil }}
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{installs}})
	if err != nil {
		t.Fatal(err)
	}
	err = fluxTierUntouched(rec, w.writes, FluxSkipInstallNotRun)
	if err == nil || !strings.Contains(err.Error(), "wrote to a cluster the run does not own") || !strings.Contains(err.Error(), cluster.FluxCRDs[0]) {
		t.Fatalf("want the check to name the Flux CRD written to the user's cluster, got %v", err)
	}
}

// Planted defect: the tier recorded as run (no reason) on the user's cluster.
func TestFluxTierUntouchedNamesATierThatRan(t *testing.T) {
	rec := &Record{Tiers: map[string]string{"flux": "ran"}}
	err := fluxTierUntouched(rec, nil, FluxSkipInstallNotRun)
	if err == nil || !strings.Contains(err.Error(), `the Flux tier is "ran"`) {
		t.Fatalf("want the check to name the tier that ran, got %v", err)
	}
}

// uncoveredInstall lists what applying objs (server-side: patch) and
// removing them needs that needs does not cover, as "verb resource.group".
func uncoveredInstall(objs []*unstructured.Unstructured, needs []cluster.Access) []string {
	have := map[string]bool{}
	for _, n := range needs {
		have[n.String()] = true
	}
	var out []string
	for _, o := range objs {
		gv, _ := schema.ParseGroupVersion(o.GetAPIVersion())
		plural := strings.ToLower(o.GetKind())
		if strings.HasSuffix(plural, "y") {
			plural = strings.TrimSuffix(plural, "y") + "ies"
		} else {
			plural += "s"
		}
		for _, v := range []string{"create", "patch", "get", "delete"} {
			a := cluster.Access{Verb: v, Group: gv.Group, Resource: plural}
			if !have[a.String()] {
				out = append(out, a.String())
			}
		}
	}
	return out
}

func TestThePreflightAsksForEverythingTheFluxInstallDoes(t *testing.T) {
	objs, err := flux.Render(flux.Options{ManifestsDir: sharedFluxManifests(t)})
	if err != nil {
		t.Fatal(err)
	}
	// The tier's own Flux objects too.
	objs = append(objs, fluxCRD("x"), &unstructured.Unstructured{Object: map[string]any{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository"}},
		&unstructured.Unstructured{Object: map[string]any{"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization"}})
	needs := append(cluster.RunNeeds(), cluster.FluxInstallNeeds()...)
	if left := uncoveredInstall(objs, needs); len(left) > 0 {
		t.Fatalf("the preflight does not ask for: %s", strings.Join(left, ", "))
	}
	// Planted defect: the network policies left out of the list.
	var trimmed []cluster.Access
	for _, n := range needs {
		if n.Resource != "networkpolicies" {
			trimmed = append(trimmed, n)
		}
	}
	if left := uncoveredInstall(objs, trimmed); len(left) == 0 || !strings.Contains(strings.Join(left, " "), "create networkpolicies.networking.k8s.io") {
		t.Fatalf("want the missing networkpolicies named, got %v", left)
	}
}

func TestTheFluxTierUsesTheClustersOwnFluxWithoutTouchingIt(t *testing.T) {
	w := &writeRecorder{Client: fakecluster.Client(fluxCRD(cluster.FluxCRDs[0]), fluxCRD(cluster.FluxCRDs[1]))}
	fe, ran, installed := testFluxEnv(w)
	o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health"}}
	o.Existing.GitServerImage = "reg.example/gitserver:1"
	rec, err := Execute(context.Background(), Plan{Tiers: []Tier{existingFluxTier(o, fe)}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Tiers["flux"] != "ran" || *installed || len(w.writes) > 0 {
		t.Fatalf("tier %q, installed %v, writes %v: want the tier run on the cluster's Flux with nothing written by the runner", rec.Tiers["flux"], *installed, w.writes)
	}
	if len(*ran) != 1 || (*ran)[0].FluxTier != string(config.FluxTierClusterFlux) {
		t.Fatalf("the suites are told %v, want %s=%s", *ran, config.EnvFluxTier, config.FluxTierClusterFlux)
	}
	for _, s := range rec.Steps {
		if strings.HasPrefix(s.Name, "flux: Flux on this cluster") && !strings.Contains(s.Detail, "namespace "+flux.TierNamespace) {
			t.Errorf("the step does not say where the fixture goes: %q", s.Detail)
		}
	}
}

// Planted defect: the tier's own namespace already exists on the user's
// cluster (theirs): the tier is refused as bad input naming it.
func TestTheFluxTierRefusesItsNamespaceWhenItExists(t *testing.T) {
	ns := &corev1.Namespace{}
	ns.Name = flux.TierNamespace
	w := &writeRecorder{Client: fakecluster.Client(fluxCRD(cluster.FluxCRDs[0]), fluxCRD(cluster.FluxCRDs[1]), ns)}
	fe, ran, _ := testFluxEnv(w)
	o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health"}}
	o.Existing.GitServerImage = "reg.example/gitserver:1"
	_, err := Execute(context.Background(), Plan{Tiers: []Tier{existingFluxTier(o, fe)}})
	var bad *BadInputError
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), "namespace "+flux.TierNamespace) {
		t.Fatalf("want bad input naming namespace %s, got %v", flux.TierNamespace, err)
	}
	if len(*ran) > 0 || len(w.writes) > 0 {
		t.Errorf("ran the suites (%d) or wrote %v although refused", len(*ran), w.writes)
	}
}

// Planted defect: the same namespace refused in the preflight, before the
// install tier creates anything, and with what the tier would put there.
func TestThePreflightRefusesTheTierNamespaceBeforeAnyTier(t *testing.T) {
	ns := &corev1.Namespace{}
	ns.Name = flux.TierNamespace
	c := fakecluster.Client(fluxCRD(cluster.FluxCRDs[0]), fluxCRD(cluster.FluxCRDs[1]), ns)
	o := Options{Artifacts: t.TempDir(), Flux: FluxOptions{LabelFilter: "health"}}
	o.Existing.GitServerImage = "reg.example/gitserver:1"
	tierRan := false
	tier := Tier{Name: "install and data", Report: filepath.Join(o.Artifacts, "r.json"), Run: func(context.Context, string) error {
		tierRan = true
		return nil
	}}
	_, err := Execute(context.Background(), Plan{Setup: []Step{tierNamespacePreflight(o, func() client.Client { return c })}, Tiers: []Tier{tier}})
	var bad *BadInputError
	if !errors.As(err, &bad) || !strings.Contains(err.Error(), "namespace "+flux.TierNamespace+" exists") || !strings.Contains(err.Error(), "GitRepository and Kustomizations") {
		t.Fatalf("want bad input naming namespace %s and what the tier puts there, got %v", flux.TierNamespace, err)
	}
	if tierRan {
		t.Error("a tier ran although the preflight refused the cluster")
	}
	// Without Flux on the cluster, or without the Git server image, the
	// namespace is not the tier's to use: nothing to check.
	for name, setup := range map[string]func(*Options) client.Client{
		"no Flux":             func(*Options) client.Client { return fakecluster.Client(ns) },
		"no git server image": func(o *Options) client.Client { o.Existing.GitServerImage = ""; return c },
	} {
		o := o
		cl := setup(&o)
		if _, err := tierNamespacePreflight(o, func() client.Client { return cl }).Do(context.Background()); !errors.Is(err, ErrNothingToDo) {
			t.Errorf("%s: want nothing to do, got %v", name, err)
		}
	}
}
