package run

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// ExistingOptions run the suites on a cluster the user already has instead
// of a kind cluster of the run's own: no kind, no registry, no node image;
// images come from their registries.
type ExistingOptions struct {
	// Kubeconfig selects this mode; Context overrides its current context.
	Kubeconfig, Context string
	// StorageClass is the class of every PVC the suites create; empty: the
	// cluster's default class.
	StorageClass string
	// SkipFluxInstall never installs Flux: on a cluster without Flux the
	// Flux tier is then not run (FluxNotInstalled).
	SkipFluxInstall bool
	// GitServerImage is the Flux tier's Git server image, where the
	// cluster can pull it; empty: the tier is not run (GitServerImageNeeded).
	GitServerImage string
}

// On reports whether the run targets an existing cluster.
func (e ExistingOptions) On() bool { return e.Kubeconfig != "" }

// validateExisting rejects what cannot work on a cluster the run does not
// own: every flag that only means something for the run's own kind cluster.
func (o *Options) validateExisting() error {
	e := o.Existing
	if !e.On() {
		var set []string
		if e.Context != "" {
			set = append(set, "--context")
		}
		if e.StorageClass != "" {
			set = append(set, "--storage-class")
		}
		if e.SkipFluxInstall {
			set = append(set, "--skip-flux-install")
		}
		if e.GitServerImage != "" {
			set = append(set, "--git-server-image")
		}
		verb := "apply"
		if len(set) == 1 {
			verb = "applies"
		}
		if len(set) > 0 {
			return fmt.Errorf("%s only %s to an existing cluster: add --kubeconfig FILE (the run's own kind cluster uses local-path, always installs Flux and builds and loads its Git server image itself)", strings.Join(set, ", "), verb)
		}
		return nil
	}
	var conflicts []string
	add := func(on bool, flag string) {
		if on {
			conflicts = append(conflicts, flag)
		}
	}
	add(o.Reuse, "--reuse-cluster")
	add(o.Keep, "--keep-cluster")
	add(o.KeepOnFailure, "--keep-on-failure")
	add(o.Cluster != "" && o.Cluster != kindconfig.DefaultClusterName, "--name")
	add(o.Nodes != 0 && o.Nodes != kindconfig.DefaultNodes, "--nodes")
	add(len(o.Archives) > 0, "--image-archive")
	add(len(o.LoadImages) > 0, "--load-image")
	add(o.StopEngine, "--stop-engine")
	add(o.Upgrade.Run, "--upgrade (or --upgrade-from/--upgrade-to)")
	if len(conflicts) > 0 {
		return fmt.Errorf("--kubeconfig %s conflicts with %s: those are for the run's own kind cluster (the upgrade tier replaces the operator on purpose); leave them out to run on your cluster, or leave out --kubeconfig to run on kind", e.Kubeconfig, strings.Join(conflicts, ", "))
	}
	if err := cluster.CheckKubeconfigFile(e.Kubeconfig); err != nil {
		return err
	}
	abs, err := filepath.Abs(e.Kubeconfig)
	if err != nil {
		return err
	}
	o.Existing.Kubeconfig = abs
	if o.DragonflyImage == DragonflyStandIn {
		return fmt.Errorf("--dragonfly-image %s is built on this machine and nothing serves it to an existing cluster: leave --dragonfly-image out (the operator's default image) or give an image reference the cluster can pull", DragonflyStandIn)
	}
	return nil
}

// dataPlane is the Dragonfly image handed to the operator on an existing
// cluster and, when it is the stand-in (pushed somewhere the cluster pulls
// from), its description: a stand-in's passes are never Dragonfly verdicts.
func dataPlane(image string) (ref, standIn string) {
	if image == DragonflyOperatorDefault {
		return "", ""
	}
	if strings.HasPrefix(image, images.DragonflyStandInRepo+":") {
		return image, "Dragonfly-contract stand-in " + image + " (Debian redis-server behind dfe2e-dfstandin; the operator is real)"
	}
	return image, ""
}

// existingClient is a plain client (client-go's kinds) for the preflight and
// cleanup; everything else is unstructured.
func existingClient(cfg *rest.Config) (client.Client, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	c := rest.CopyConfig(cfg)
	c.Timeout, c.QPS, c.Burst = 30*time.Second, 50, 100
	return client.New(c, client.Options{Scheme: s})
}

// existingE2E is E2E on a cluster the user has: preflight (reachable,
// allowed, storage class, no operator installed) → the install/data tier →
// the Flux tier (Flux installed only when absent, existingFluxTier) → the
// removal of that Flux (removeFlux) → the removal of every object labelled
// with this run's id, and nothing else.
func existingE2E(ctx context.Context, o Options, logf func(string, ...any)) (*Record, error) {
	e := o.Existing
	runID := cluster.NewRunID(time.Now())
	target := cluster.Existing{Kubeconfig: e.Kubeconfig, Context: e.Context}
	dragonfly, standIn := dataPlane(o.DragonflyImage)
	var (
		cfg          *rest.Config
		c            client.Client
		storageClass string
	)
	p := Plan{ReportDir: filepath.Join(o.Artifacts, "report"), Logf: logf, Repeat: o.Repeat}
	p.Setup = []Step{
		{"cluster: connect (" + target.String() + ")", func(ctx context.Context) (string, error) {
			var err error
			if cfg, err = target.Connect(ctx); err != nil {
				return "", BadInput(err)
			}
			if c, err = existingClient(cfg); err != nil {
				return "", err
			}
			return cfg.Host + "; run id " + runID + " (label " + cluster.RunLabel + ")", nil
		}},
		{"cluster: this user may do what the run does (SelfSubjectAccessReview)", func(ctx context.Context) (string, error) {
			needs := cluster.RunNeeds()
			if mayRunFlux(o) {
				// Only a cluster without Flux gets one installed; with its
				// own Flux the fixture's objects are all the tier writes.
				switch present, _, err := cluster.FluxInstalled(ctx, c); {
				case err == nil && !present && !o.Existing.SkipFluxInstall:
					needs = append(needs, cluster.FluxInstallNeeds()...)
				case err == nil && present:
					needs = append(needs, cluster.FluxObjectNeeds()...)
				}
			}
			if err := cluster.CheckAccess(ctx, c, needs); err != nil {
				return "", BadInput(err)
			}
			return fmt.Sprintf("%d verbs allowed", len(needs)), nil
		}},
		{"cluster: storage class", func(ctx context.Context) (string, error) {
			var err error
			if storageClass, err = cluster.StorageClass(ctx, c, e.StorageClass); err != nil {
				return "", BadInput(err)
			}
			if e.StorageClass == "" {
				return storageClass + " (the cluster's default)", nil
			}
			return storageClass, nil
		}},
		{"cluster: no operator installed, no namespace " + operator.Namespace + " already", func(ctx context.Context) (string, error) {
			found, detail, err := cluster.FindCRD(ctx, c, operator.CRDName)
			if err != nil {
				return "", err
			}
			if found {
				// The install tier applies its own bundle over the CRD and
				// the operator's RBAC and removes them at the end: on an
				// installed operator that would change and then delete what
				// someone else runs. Refusing is the only safe answer.
				err := fmt.Errorf("the Dragonfly operator is installed on this cluster (CRD %s, %s): the suites install their own operator %s and remove it afterwards, which would replace and then delete yours — run them on a cluster (or context) without the operator", operator.CRDName, detail, o.OperatorVersion)
				if id := cluster.RunOf(detail); id != "" {
					err = fmt.Errorf("CRD %s is a leftover of an interrupted dfe2e run %s (%s): remove what that run created with kubectl delete namespaces,customresourcedefinitions,clusterroles,clusterrolebindings -l %s=%s, then run again", operator.CRDName, id, detail, cluster.RunLabel, id)
				}
				return "", BadInput(err)
			}
			if err := cluster.NamespaceFree(ctx, c, operator.Namespace); err != nil {
				return "", BadInput(err)
			}
			return "CRD " + operator.CRDName + " and namespace " + operator.Namespace + " absent", nil
		}},
		tierNamespacePreflight(o, func() client.Client { return c }),
	}
	suiteEnv := func() config.Settings {
		return existingSettings(config.FromEnv(), o, storageClass, runID)
	}
	if !o.SkipInstall {
		install := Tier{Name: "install and data", LabelFilter: withoutUpgrade(o.LabelFilter), Report: filepath.Join(o.Artifacts, "e2e-existing.json")}
		install.Run = func(ctx context.Context, report string) error {
			return goTestSuites(ctx, o.Suites, install.LabelFilter, report, suiteEnv(), logf)
		}
		p.Tiers = append(p.Tiers, install)
	}
	fe := &fluxTierEnv{client: func() client.Client { return c }, runID: runID, install: flux.InstallObjects, settings: suiteEnv,
		run: func(ctx context.Context, report string, s config.Settings) error {
			return goTestSuites(ctx, o.Suites, withoutUpgrade(o.Flux.LabelFilter), report, s, logf)
		}}
	if !o.Flux.Skip {
		p.Tiers = append(p.Tiers, existingFluxTier(o, fe))
	}
	p.Teardown = []Teardown{{"cluster: remove what run " + runID + " created (label " + cluster.RunLabel + ")", func(ctx context.Context, _ bool) (string, error) {
		if c == nil {
			return "", ErrNothingToDo
		}
		kinds, err := cluster.DeletableKinds(cfg)
		if err != nil {
			return "", err
		}
		removed, err := cluster.Cleanup(ctx, c, kinds, runID, logf)
		if err != nil {
			return "", err
		}
		if len(removed) == 0 {
			return "nothing labelled with run " + runID + " was left to remove", nil
		}
		return fmt.Sprintf("removed %d objects (%s); no object of run %s is left", len(removed), strings.Join(removed, ", "), runID), nil
	}}}
	// Teardown runs last first: the Flux removal before the general one.
	p.Teardown = append(p.Teardown, removeFlux(fe, logf))
	p.Env = func() []string {
		env := []string{"cluster=existing (" + target.String() + ")", "run-id=" + runID,
			"operator=" + o.OperatorVersion, "operator-image=" + operator.ManagerImageRepository + ":" + o.OperatorVersion}
		if cfg != nil {
			env = append(env, "api-server="+cfg.Host)
		}
		if storageClass != "" {
			env = append(env, "storage-class="+storageClass)
		}
		if dragonfly != "" {
			env = append(env, "dragonfly-image="+dragonfly)
		} else {
			env = append(env, "dragonfly-image=the operator's default")
		}
		if standIn != "" {
			env = append(env, "stand-in="+standIn)
		}
		switch {
		case fe.clusterFlux:
			env = append(env, "flux=the cluster's own (fixture in namespace "+flux.TierNamespace+")")
		case fe.installed != nil:
			env = append(env, "flux="+flux.Version+" installed and removed by the run")
		}
		if e.GitServerImage != "" {
			env = append(env, "git-server-image="+e.GitServerImage)
		}
		return env
	}
	rec, err := Execute(ctx, p)
	writeRecord(o.Artifacts, rec)
	return rec, err
}

// tierNamespacePreflight refuses, before anything is created, a cluster
// whose own Flux would run the Flux tier while flux.TierNamespace exists.
func tierNamespacePreflight(o Options, c func() client.Client) Step {
	return Step{"cluster: namespace " + flux.TierNamespace + " absent where the cluster's own Flux would run the Flux tier", func(ctx context.Context) (string, error) {
		if !mayRunFlux(o) {
			return "", ErrNothingToDo
		}
		if present, _, err := cluster.FluxInstalled(ctx, c()); err != nil || !present {
			// The Flux tier says why it does not run, or installs Flux
			// and keeps its objects in Flux's own namespace.
			return "", ErrNothingToDo
		}
		if err := tierNamespaceFree(ctx, c()); err != nil {
			return "", BadInput(err)
		}
		return flux.TierNamespace + " absent", nil
	}}
}

// tierNamespaceFree: flux.TierNamespace, which the Flux tier creates for
// its objects beside the cluster's own Flux, is not there already.
func tierNamespaceFree(ctx context.Context, c client.Reader) error {
	return cluster.NamespaceFreeFor(ctx, c, flux.TierNamespace, "the Flux tier would put its GitRepository and Kustomizations there, apart from your Flux's, and delete the namespace at the end")
}

// mayRunFlux: the options let the Flux tier run (given the cluster's Flux).
func mayRunFlux(o Options) bool {
	return !o.Flux.Skip && o.Existing.GitServerImage != ""
}

// existingSettings is what the suites are told on an existing cluster: the
// kubeconfig provider with the user's file and context, the storage class
// the preflight settled on and the run id that labels what they create.
// Settings of a kind run (its kubeconfig) are cleared, not inherited.
func existingSettings(base config.Settings, o Options, storageClass, runID string) config.Settings {
	s := base
	e := o.Existing
	dragonfly, standIn := dataPlane(o.DragonflyImage)
	s.Cluster, s.Kubeconfig, s.KindKubeconfig, s.KubeContext = "kubeconfig", e.Kubeconfig, "", e.Context
	s.StorageClass, s.RunID = storageClass, runID
	s.Artifacts, s.OperatorVersion, s.SnapshotTarget = o.Artifacts, o.OperatorVersion, o.SnapshotTarget
	s.DragonflyImage, s.DragonflyStandIn = dragonfly, standIn
	s.OperatorSource = o.OperatorSource
	return s
}

// Why the Flux tier is not run on a cluster the run does not own.
const (
	// FluxSkipInstallNotRun: no Flux, and --skip-flux-install.
	FluxSkipInstallNotRun = "Flux is not installed on this cluster and --skip-flux-install says not to install it: the Flux tier needs Flux — leave out --skip-flux-install to have the run install Flux " + flux.Version + " (labelled with the run id) and remove it at the end"
	// GitServerImageNeeded: no --git-server-image.
	GitServerImageNeeded = "the Flux tier serves its GitOps tree from an in-cluster Git server whose image is built on this machine, and nothing serves it to your cluster: build it with `go run ./cmd/dfe2e flux-images` (prints " + images.GitServerRepo + ":<hash> and the path of its docker-save archive), `docker load -i <archive>`, tag and push it to a registry your cluster pulls from, then pass --git-server-image <that reference>"
)

// fluxTierEnv is what the Flux tier on an existing cluster works with; the
// tests give fakes for install and run.
type fluxTierEnv struct {
	client func() client.Client
	runID  string
	// install applies Flux's objects through a client that labels them
	// (flux.InstallObjects); run runs the tier's suites with settings.
	install func(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error
	run     func(ctx context.Context, report string, s config.Settings) error
	// settings are the suites' settings of the install tier.
	settings func() config.Settings
	// installed is what the tier installed (nil: nothing), for removeFlux.
	installed []*unstructured.Unstructured
	// clusterFlux: the cluster's own Flux reconciles the tier's fixture.
	clusterFlux bool
}

// existingFluxTier is the Flux tier on a cluster the run does not own. It
// needs --git-server-image (the Git server image the cluster can pull).
// On a cluster without Flux it installs Flux, every object labelled with
// the run id, unless --skip-flux-install, and removes it at the end
// (removeFlux). On a cluster with its own Flux it installs nothing: that
// Flux reconciles the fixture, which the suites put into
// flux.TierNamespace (refused when that namespace exists). Otherwise the
// tier is recorded as not run, with a reason saying what to do, and
// nothing is created.
func existingFluxTier(o Options, fe *fluxTierEnv) Tier {
	return Tier{Name: "flux", LabelFilter: withoutUpgrade(o.Flux.LabelFilter), Report: filepath.Join(o.Artifacts, "e2e-existing-health.json"),
		Before: []Step{
			{"flux: Flux on this cluster (installed only when absent)", func(ctx context.Context) (string, error) {
				present, detail, err := cluster.FluxInstalled(ctx, fe.client())
				var half *cluster.FluxHalfInstalledError
				switch {
				case errors.As(err, &half):
					return "", &NotRunError{Why: half.Error()}
				case err != nil:
					return "", err
				case present && o.Existing.GitServerImage == "":
					return "", &NotRunError{Why: GitServerImageNeeded}
				case present:
					// The fixture's objects go into a namespace of the
					// run's own, never beside the user's Flux objects.
					if err := tierNamespaceFree(ctx, fe.client()); err != nil {
						return "", BadInput(err)
					}
					fe.clusterFlux = true
					return "the cluster's own Flux (" + detail + ") reconciles the tier's fixture in namespace " + flux.TierNamespace + "; that Flux is never installed over, upgraded or removed", nil
				case o.Existing.SkipFluxInstall:
					return "", &NotRunError{Why: FluxSkipInstallNotRun}
				case o.Existing.GitServerImage == "":
					return "", &NotRunError{Why: GitServerImageNeeded}
				}
				return "absent: the run installs Flux " + flux.Version + " and removes it at the end", nil
			}},
			{"flux: install Flux " + flux.Version + " (labelled " + cluster.RunLabel + "=" + fe.runID + ")", func(ctx context.Context) (string, error) {
				if fe.clusterFlux {
					return "", ErrNothingToDo
				}
				objs, err := flux.Render(flux.Options{ManifestsDir: o.Flux.Manifests})
				if err != nil {
					return "", err
				}
				// Known before the apply: a failed or interrupted install
				// is removed as well.
				fe.installed = objs
				err = fe.install(ctx, cluster.LabelCreates(fe.client(), fe.runID), objs)
				var be *imagepull.BlockedError
				if errors.As(err, &be) {
					return "", &BlockedError{Reason: be.Failure.BlockedMessage("Flux controllers cannot run"), Remedy: "the cluster must pull " + strings.Join(flux.Images(objs), ", ") + " from their registry"}
				}
				if err != nil {
					return "", err
				}
				return "installed " + flux.Summary(objs) + "; removed at the end of the run", nil
			}},
		},
		Run: func(ctx context.Context, report string) error {
			s := fe.settings()
			s.GitServerImage, s.FluxManifests, s.FluxTier = o.Existing.GitServerImage, o.Flux.Manifests, string(config.FluxTierRunInstalled)
			if fe.clusterFlux {
				s.FluxTier = string(config.FluxTierClusterFlux)
			}
			return fe.run(ctx, report, s)
		}}
}

// removeFlux is the teardown of the Flux the tier installed; it runs
// before the removal of the run's other objects, while Flux's controllers
// can still handle the finalizers of its objects (flux.Uninstall).
func removeFlux(fe *fluxTierEnv, logf func(string, ...any)) Teardown {
	return Teardown{"flux: remove the Flux objects of the run (and the Flux it installed: controllers, RBAC, CRDs, namespace)", func(ctx context.Context, _ bool) (string, error) {
		if fe.client() == nil {
			return "", ErrNothingToDo
		}
		owner := flux.Owner{Label: cluster.RunLabel, Value: fe.runID}
		if fe.clusterFlux {
			// Only the run's GitRepository and Kustomizations, while the
			// cluster's controllers handle their finalizers.
			removed, err := flux.RemoveRunObjects(ctx, fe.client(), []schema.GroupVersionKind{flux.GitRepositoryGVK, flux.KustomizationGVK}, owner, logf)
			if err != nil {
				return "", err
			}
			if len(removed) == 0 {
				return "the cluster's own Flux was left as it is; no Flux object of the run was left", nil
			}
			return fmt.Sprintf("the cluster's own Flux was left as it is; removed the run's %s", strings.Join(removed, ", ")), nil
		}
		if fe.installed == nil {
			return "", ErrNothingToDo
		}
		removed, err := flux.Uninstall(ctx, fe.client(), fe.installed, owner, logf)
		if err != nil {
			return "", err
		}
		if len(removed) == 0 {
			return "nothing of the Flux this run installed was left to remove", nil
		}
		return fmt.Sprintf("removed %d objects: %s", len(removed), strings.Join(removed, ", ")), nil
	}}
}
