package run

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/upgradecheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/k8sbuild"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/preflight"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// DefaultLabels select the install tier and the data tier (snapshot-restore
// and failover with their planted defects); the Flux tier runs after them,
// then the upgrade tier.
const DefaultLabels = "install || rbac || admission || selftest || snapshot-restore || failover || rolling-update || data-selftest"

// NodeFailureLabel selects the node-failure specs (a node stopped and
// paused under the master). The default filter gains them only when
// --nodes asks for more than one node (nodeFailureFilter).
const NodeFailureLabel = "node-failure"

// nodeFailureFilter is the install/data tier's filter for n nodes asked
// for with --nodes (0: the count was chosen): the default one also runs
// the node-failure specs when nodes to fail were asked for. A chosen
// count never adds them: they are disruptive, take minutes each and fail
// with operator v1.6.1, so make e2e's default run leaves them out. Any
// other filter is the user's choice and kept as given.
func nodeFailureFilter(filter string, n int) string {
	if n > 1 && filter == DefaultLabels {
		return filter + " || " + NodeFailureLabel
	}
	return filter
}

// nodesAsked is the node count --nodes gave (0: ChooseNodes chose it).
func (o *Options) nodesAsked() int {
	if o.nodesChosen {
		return 0
	}
	return o.Nodes
}

// UpgradeLabel is the upgrade tier's label. No other tier selects its specs
// (withoutUpgrade): they replace the operator install on purpose.
const UpgradeLabel = "upgrade"

// withoutUpgrade is a tier's filter with the upgrade specs left out.
func withoutUpgrade(filter string) string {
	if strings.TrimSpace(filter) == "" {
		return "!" + UpgradeLabel
	}
	return "(" + filter + ") && !" + UpgradeLabel
}

// SnapshotTargets are the values Options.SnapshotTarget accepts.
var SnapshotTargets = []string{"dragonfly", "redis-standin"}

// Options configure one `dfe2e e2e` run.
type Options struct {
	// Cluster is the kind cluster's name; Reuse uses an existing one (never
	// deleted then); Keep / KeepOnFailure keep it after the run.
	Cluster                    string
	Reuse, Keep, KeepOnFailure bool
	// NetpolEnforcer is EnforcerAuto (""), EnforcerKubeRouter or
	// EnforcerNone: whether the kind cluster gets a NetworkPolicy enforcer.
	NetpolEnforcer string
	// Nodes is the kind cluster's node count: one control plane and
	// Nodes-1 workers (0: kindconfig.ChooseNodes decides from the host's
	// memory; NodesWhy then says what it decided and why).
	Nodes    int
	NodesWhy string
	// HostMemory reads the host's available memory for that choice (nil:
	// kindconfig.MemAvailable).
	HostMemory func() (uint64, error)
	// nodesChosen: Nodes was chosen by ChooseNodes, not given.
	nodesChosen bool
	// Offline builds every image locally and never contacts a registry.
	Offline bool
	// Artifacts receives the reports, the kubeconfig and, on failure, logs.
	Artifacts string
	// LabelFilter selects the specs of the install/data tier; SkipInstall
	// leaves that tier out.
	LabelFilter string
	SkipInstall bool
	// Suites is the Go package pattern of the Ginkgo suites.
	Suites string
	// Archives and LoadImages are images to put into the node.
	Archives, LoadImages []string
	// StopEngine stops a Docker engine this run started.
	StopEngine bool
	// SnapshotTarget is the snapshot-restore suite's comma list of targets.
	SnapshotTarget string
	// OperatorVersion is the bundled operator release under test.
	OperatorVersion string
	// Repeat runs the selected specs this many times on one cluster, to
	// tell a flake (passed and failed) from a regression.
	Repeat int
	// OperatorSource is an offline copy of the upstream operator manifest
	// for the suites (see operator.SourceOptions); empty: cache or download.
	OperatorSource string
	// OperatorImages is a directory of upstream operator image archives
	// (operator-<version>.tar with SHA256SUMS), read in place; empty: the
	// operator image must come from its registry.
	OperatorImages string
	// DragonflyImage is the image the operator runs for every instance:
	// DragonflyStandIn (the default) builds the Dragonfly-contract stand-in
	// here; DragonflyOperatorDefault leaves the operator's own default; any
	// other value is an image reference the cluster can pull.
	DragonflyImage string
	Flux           FluxOptions
	Upgrade        UpgradeOptions
	// Existing, with a kubeconfig, runs on that cluster instead of kind.
	Existing ExistingOptions
	Logf     func(format string, args ...any)
}

// UpgradeOptions configure the upgrade tier.
type UpgradeOptions struct {
	// From and To are pinned operator versions (empty: the oldest and the
	// newest); every pinned release in between is a hop.
	From, To    string
	LabelFilter string
	// Run adds the tier (after the Flux tier). It is off by default: it
	// replaces the operator install on purpose and adds minutes, so it is
	// the release gate's job, not every pull request's.
	Run bool
	// chain is From … To, set by Validate.
	chain []string
}

// FluxOptions configure the Flux tier.
type FluxOptions struct {
	// Manifests is an offline copy of the flux2 release manifests.
	Manifests   string
	LabelFilter string
	Skip        bool
}

// Values of Options.DragonflyImage that are not image references.
const (
	DragonflyStandIn         = "standin"
	DragonflyOperatorDefault = "operator-default"
)

// Validate rejects options that cannot work, before anything is created.
func (o *Options) Validate() error {
	if err := wait.CheckEnv(); err != nil {
		return err
	}
	if o.Repeat < 1 {
		return fmt.Errorf("--repeat %d: give 1 or more", o.Repeat)
	}
	if err := o.validateExisting(); err != nil {
		return err
	}
	if o.NetpolEnforcer == "" {
		o.NetpolEnforcer = EnforcerAuto
	}
	if err := checkEnforcer(o.NetpolEnforcer); err != nil {
		return err
	}
	if _, err := selectsNetwork(o.LabelFilter); err != nil {
		return err
	}
	switch {
	case o.Nodes == 0 && o.Existing.On():
		o.Nodes = kindconfig.DefaultNodes // no kind cluster to size
	case o.Nodes == 0:
		mem := o.HostMemory
		if mem == nil {
			mem = kindconfig.MemAvailable
		}
		avail, err := mem()
		ch := kindconfig.ChooseNodes(0, avail, err)
		o.Nodes, o.NodesWhy, o.nodesChosen = ch.Nodes, ch.Reason, true
	case o.NodesWhy == "":
		o.NodesWhy = kindconfig.ChooseNodes(o.Nodes, 0, nil).Reason
	}
	if err := kindconfig.CheckNodes(o.Nodes); err != nil {
		return err
	}
	if o.OperatorVersion == "" {
		o.OperatorVersion = operator.DefaultVersion
	}
	if _, err := operator.Lookup(o.OperatorVersion); err != nil {
		return fmt.Errorf("--operator-version: %w", err)
	}
	if err := checkSnapshotTarget(o.SnapshotTarget); err != nil {
		return err
	}
	if o.DragonflyImage == "" {
		o.DragonflyImage = DragonflyStandIn
	}
	if o.OperatorImages != "" {
		archives, err := images.OperatorArchives(o.OperatorImages)
		if err != nil {
			return fmt.Errorf("--operator-images: %w", err)
		}
		if _, ok := archives[o.OperatorVersion]; !ok {
			return fmt.Errorf("--operator-images %s holds no archive of operator %s", o.OperatorImages, o.OperatorVersion)
		}
	}
	for _, a := range o.Archives {
		if _, err := os.Stat(a); err != nil {
			return fmt.Errorf("--image-archive %s: %w", a, err)
		}
	}
	if _, err := suitesDir(o.Suites); err != nil {
		return err
	}
	if o.Upgrade.Run {
		chain, err := upgradecheck.Chain(o.Upgrade.From, o.Upgrade.To)
		if err != nil {
			return err
		}
		o.Upgrade.From, o.Upgrade.To, o.Upgrade.chain = chain[0], chain[len(chain)-1], chain
		if o.Upgrade.LabelFilter == "" {
			o.Upgrade.LabelFilter = UpgradeLabel
		}
	}
	if o.OperatorImages != "" && o.Upgrade.Run {
		archives, err := images.OperatorArchives(o.OperatorImages)
		if err != nil {
			return fmt.Errorf("--operator-images: %w", err)
		}
		for _, v := range o.Upgrade.chain {
			if _, ok := archives[v]; !ok {
				return fmt.Errorf("--operator-images %s holds no archive of operator %s, which the upgrade %s → %s runs (or leave out --upgrade)", o.OperatorImages, v, o.Upgrade.From, o.Upgrade.To)
			}
		}
	}
	if !o.Flux.Skip || o.Upgrade.Run {
		if o.Flux.Manifests != "" {
			abs, err := filepath.Abs(o.Flux.Manifests)
			if err != nil {
				return err
			}
			o.Flux.Manifests = abs
			if err := flux.CheckManifestsDir(abs); err != nil {
				return err
			}
		} else if o.Offline {
			return fmt.Errorf("--offline needs --flux-manifests (or %s): the Flux %s release manifests cannot be downloaded offline (the Flux and upgrade tiers install Flux; --skip-flux without --upgrade needs none)", config.EnvFluxManifests, flux.Version)
		}
	}
	art, err := filepath.Abs(o.Artifacts)
	if err != nil {
		return err
	}
	o.Artifacts = art
	if err := os.MkdirAll(art, 0o755); err != nil {
		return fmt.Errorf("--artifacts %s: %w", art, err)
	}
	return nil
}

func checkSnapshotTarget(v string) error {
	if v == "" {
		return nil
	}
	for _, t := range strings.Split(v, ",") {
		t = strings.TrimSpace(t)
		ok := false
		for _, k := range SnapshotTargets {
			ok = ok || t == k
		}
		if !ok {
			return fmt.Errorf("--snapshot-target %q: unknown target %q; use a comma list of %s", v, t, strings.Join(SnapshotTargets, ", "))
		}
	}
	return nil
}

// suitesDir resolves the --suites pattern to a directory holding Go test
// files of the e2e build tag; anything else is bad input.
func suitesDir(pattern string) (string, error) {
	root, err := preflight.FindModuleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, strings.TrimSuffix(strings.TrimPrefix(pattern, "./"), "/..."))
	tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if len(tests) == 0 {
		return "", fmt.Errorf("--suites %s: no Go test files in %s; point it at the suites package (default ./suites)", pattern, dir)
	}
	return dir, nil
}

// E2E runs preflight → images → cluster → storage → the install/data tier →
// the Flux tier → report, and writes the record to <artifacts>/e2e-run.json.
// The error is non-nil only for bad input.
func E2E(ctx context.Context, o Options) (*Record, error) {
	if err := o.Validate(); err != nil {
		return &Record{BadInput: err.Error()}, BadInput(err)
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if o.Existing.On() {
		return existingE2E(ctx, o, logf)
	}
	var (
		eng  *preflight.Engine
		set  *images.Set
		cl   *kindconfig.Cluster
		fimg *fluxImages
		air  airGap
	)
	kc := filepath.Join(o.Artifacts, "kind-"+o.Cluster+".kubeconfig")
	p := Plan{ReportDir: filepath.Join(o.Artifacts, "report"), Logf: logf, Repeat: o.Repeat}
	p.Setup = append(p.Setup,
		Step{"preflight", func(ctx context.Context) (string, error) {
			var err error
			if eng, err = preflight.Ensure(ctx, preflight.Options{Logf: logf}); err != nil {
				return "", err
			}
			fimg = startFluxImages(ctx, o, logf)
			return fmt.Sprintf("engine %s, client %s, wrapper %v", eng.ServerVersion, eng.Docker, eng.Wrapped), nil
		}},
		Step{"images", func(ctx context.Context) (string, error) {
			var err error
			if set, err = images.Resolve(ctx, eng.Docker, o.Offline, logf); err != nil {
				return "", err
			}
			return set.NodeImage, nil
		}},
		Step{"images: operator, kube-rbac-proxy, Dragonfly data plane", func(ctx context.Context) (string, error) {
			return air.collect(ctx, o, logf)
		}},
		Step{"registry: start and push every image", func(ctx context.Context) (string, error) {
			// The registry is named after the cluster: a cluster of that name
			// is another run's (or a kept one), whose registry must not be replaced.
			free := kindconfig.New(kindconfig.Options{Name: o.Cluster, Reuse: o.Reuse, Docker: eng.Docker}).CheckFree()
			if errors.Is(free, kindconfig.ErrExists) {
				return "", BadInput(free)
			} else if free != nil {
				return "", free
			}
			return air.start(ctx, o, eng.Docker, logf)
		}},
		Step{"cluster", func(ctx context.Context) (string, error) {
			logf("nodes: %d (%s)", o.Nodes, o.NodesWhy)
			cl = kindconfig.New(kindconfig.Options{
				Name: o.Cluster, NodeImage: set.NodeImage, Offline: set.Offline, Kubeconfig: kc, Reuse: o.Reuse, Nodes: o.Nodes,
				Logf: logf, ReadyTimeout: wait.Timeout(wait.ClusterReady), Docker: eng.Docker,
				Mirrors: air.mirrors(),
			})
			err := cl.Create(ctx)
			if errors.Is(err, kindconfig.ErrExists) {
				return "", BadInput(err)
			}
			return kc, err
		}},
	)
	p.Setup = append(p.Setup, Step{"registry: attach to the cluster's network", func(ctx context.Context) (string, error) {
		return air.reg.MirrorURL(), air.reg.Attach(ctx)
	}})
	if len(o.LoadImages) > 0 {
		p.Setup = append(p.Setup, Step{"load images", func(ctx context.Context) (string, error) {
			return "", cl.LoadImages(ctx, o.LoadImages...)
		}})
	}
	p.Setup = append(p.Setup,
		Step{"storage: local-path provisioner", func(ctx context.Context) (string, error) {
			return "", cl.EnsureStorage(ctx, set.Storage)
		}},
		Step{"storage: default class local-path, PVC binds", func(ctx context.Context) (string, error) {
			return "", cl.CheckStorage(ctx, set.Storage.Helper)
		}},
		Step{"network policy: kube-router enforcer", func(ctx context.Context) (string, error) {
			if ok, why := wantEnforcer(o, set.Offline); !ok {
				logf("network policy: no enforcer installed (%s)", why)
				return "", ErrNothingToDo
			}
			return installEnforcer(ctx, cl.LoadArchives, kc, logf)
		}},
	)
	// suiteEnv is everything the suites' process is told: the settings dfe2e
	// was started with, overlaid with this run's. Its empty fields are unset
	// there (ChildEnv), so an operator-default run passes no stale image.
	suiteEnv := func() config.Settings { return suiteSettings(config.FromEnv(), o, kc, air) }
	if !o.SkipInstall {
		install := Tier{Name: "install and data", LabelFilter: withoutUpgrade(nodeFailureFilter(o.LabelFilter, o.nodesAsked())), Report: filepath.Join(o.Artifacts, "e2e-kind.json")}
		install.Run = func(ctx context.Context, report string) error {
			return goTestSuites(ctx, o.Suites, install.LabelFilter, report, suiteEnv(), logf)
		}
		p.Tiers = append(p.Tiers, install)
	}
	// The Flux and upgrade tiers need the same images in the node, loaded once.
	fluxLoaded := false
	fluxImageSteps := func(tier string) []Step {
		return []Step{
			{tier + ": Flux controller and git server images", func(ctx context.Context) (string, error) { return fimg.wait(ctx) }},
			{tier + ": load images into the node", func(ctx context.Context) (string, error) {
				if fluxLoaded {
					return "", ErrNothingToDo
				}
				if err := cl.LoadArchives(fimg.archives...); err != nil {
					return "", err
				}
				fluxLoaded = true
				return strings.Join(fimg.archives, " "), nil
			}},
		}
	}
	if !o.Flux.Skip {
		ft := Tier{Name: "flux", LabelFilter: withoutUpgrade(o.Flux.LabelFilter), Report: filepath.Join(o.Artifacts, "e2e-health.json")}
		ft.Before = fluxImageSteps("flux")
		ft.Run = func(ctx context.Context, report string) error {
			env := suiteEnv()
			env.GitServerImage, env.FluxManifests = fimg.gitServer, o.Flux.Manifests
			return goTestSuites(ctx, o.Suites, ft.LabelFilter, report, env, logf)
		}
		p.Tiers = append(p.Tiers, ft)
	}
	if o.Upgrade.Run {
		ut := Tier{Name: "upgrade", LabelFilter: o.Upgrade.LabelFilter, Report: filepath.Join(o.Artifacts, "e2e-upgrade.json")}
		ut.Before = fluxImageSteps("upgrade")
		ut.Run = func(ctx context.Context, report string) error {
			return goTestSuites(ctx, o.Suites, ut.LabelFilter, report, upgradeSettings(suiteEnv(), o, fimg.gitServer), logf)
		}
		p.Tiers = append(p.Tiers, ut)
	}
	if o.StopEngine {
		p.Teardown = append(p.Teardown, Teardown{"stop the Docker engine this run started", func(ctx context.Context, _ bool) (string, error) {
			if eng == nil || !eng.Started {
				return "", ErrNothingToDo
			}
			return "stopped", eng.Stop(ctx)
		}})
	}
	p.Teardown = append(p.Teardown, Teardown{"cluster: logs and removal", func(ctx context.Context, failed bool) (string, error) {
		return finishCluster(ctx, o, cl, kc, failed, logf)
	}})
	// Runs before the cluster's removal (teardown is last first): a registry
	// still on the kind network would keep that network from being removed.
	p.Teardown = append(p.Teardown, Teardown{"registry: removal", func(ctx context.Context, failed bool) (string, error) {
		if air.reg == nil || (cl != nil && (o.Keep || (o.KeepOnFailure && failed))) {
			return "", ErrNothingToDo
		}
		return "removed " + air.reg.Name(), air.reg.Stop(ctx)
	}})
	// The node image is known only once the images step ran.
	p.Env = func() []string {
		env := []string{"cluster=kind", fmt.Sprintf("nodes=%d (%s)", o.Nodes, o.NodesWhy), "operator=" + o.OperatorVersion,
			"operator-image=" + operator.ManagerImageRepository + ":" + o.OperatorVersion}
		if air.dragonfly != "" {
			env = append(env, "dragonfly-image="+air.dragonfly)
		}
		if air.standIn != "" {
			env = append(env, "stand-in="+air.standIn)
		}
		if o.Upgrade.Run {
			env = append(env, "upgrade="+strings.Join(o.Upgrade.chain, " → "))
		}
		if set != nil {
			env = append(env, "node-image="+set.NodeImage)
			if set.Offline {
				env = append(env, "kubernetes="+k8sbuild.KubernetesVersion)
			}
		}
		return env
	}
	rec, err := Execute(ctx, p)
	writeRecord(o.Artifacts, rec)
	return rec, err
}

// finishCluster exports logs when the run failed (not after Ctrl-C: the user
// wants out) and deletes the cluster unless it is kept or reused.
func finishCluster(ctx context.Context, o Options, cl *kindconfig.Cluster, kc string, failed bool, logf func(string, ...any)) (string, error) {
	if cl == nil {
		return "", ErrNothingToDo
	}
	var notes []string
	if failed && ctx.Err() == nil && (cl.Created() || o.Reuse) {
		logs := filepath.Join(o.Artifacts, "kind-logs")
		if err := cl.ExportLogs(logs); err != nil {
			notes = append(notes, "log export: "+err.Error())
		} else {
			notes = append(notes, "logs in "+logs)
		}
	}
	switch {
	case !cl.Created():
		if o.Reuse {
			notes = append(notes, "kept reused cluster "+o.Cluster)
		}
	case o.Keep || (o.KeepOnFailure && failed):
		notes = append(notes, fmt.Sprintf("kept cluster %q: KUBECONFIG=%s; delete with: go run ./cmd/dfe2e cluster delete --name %s", o.Cluster, kc, o.Cluster))
	default:
		if err := cl.Delete(); err != nil {
			return strings.Join(notes, "; "), err
		}
		notes = append(notes, "deleted")
	}
	if len(notes) == 0 {
		return "", ErrNothingToDo
	}
	logf("cluster: %s", strings.Join(notes, "; "))
	return strings.Join(notes, "; "), nil
}

// goTestSuites runs the Ginkgo suites with a label filter against the
// cluster, writing the tier's JSON and JUnit reports.
func goTestSuites(ctx context.Context, suites, labels, report string, env config.Settings, logf func(string, ...any)) error {
	root, err := preflight.FindModuleRoot()
	if err != nil {
		return err
	}
	args := []string{"test", "-count=1", "-timeout=60m", "-tags", "e2e", suites, "-args",
		"-ginkgo.label-filter=" + labels, "-ginkgo.timeout=55m",
		"-ginkgo.json-report=" + report,
		"-ginkgo.junit-report=" + strings.TrimSuffix(report, ".json") + ".junit.xml"}
	logf("running suites: go %s", strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = env.ChildEnv()
	return runGroup(cmd, 60*time.Second)
}

// runGroup runs cmd in a process group of its own. On cancel the whole
// group gets the interrupt, as from a terminal's Ctrl-C: `go test` does not
// pass it on to the test binary, which must run Ginkgo's cleanup. After
// grace, and whenever cmd ends, what is left of the group is killed, so no
// test binary outlives the run and goes on changing the cluster after the
// run's cleanup.
func runGroup(cmd *exec.Cmd, grace time.Duration) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }
	cmd.WaitDelay = grace
	if err := cmd.Start(); err != nil {
		return err
	}
	err := cmd.Wait()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	return err
}

// writeRecord keeps the run record beside the reports (e2e-run.json).
func writeRecord(art string, rec *Record) {
	if rec == nil {
		return
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	_ = os.WriteFile(filepath.Join(art, "e2e-run.json"), append(b, '\n'), 0o644)
}

// suiteSettings is everything the suites' process is told: the settings
// dfe2e was started with (base), overlaid with this run's. Its empty fields
// are unset there (ChildEnv), so an operator-default run passes no stale
// image, and the suites' failure dumps land under --artifacts.
func suiteSettings(base config.Settings, o Options, kubeconfig string, air airGap) config.Settings {
	s := base
	s.Cluster, s.KindKubeconfig, s.Kubeconfig = "kind", kubeconfig, kubeconfig
	s.Artifacts, s.OperatorVersion, s.SnapshotTarget = o.Artifacts, o.OperatorVersion, o.SnapshotTarget
	s.DragonflyImage, s.DragonflyStandIn = air.dragonfly, air.standIn
	s.OperatorSource = o.OperatorSource
	return s
}

// upgradeSettings is what the upgrade tier's suites are told on top of
// suiteSettings: the Flux tier's images and manifests, and the versions.
func upgradeSettings(s config.Settings, o Options, gitServer string) config.Settings {
	s.GitServerImage, s.FluxManifests = gitServer, o.Flux.Manifests
	s.UpgradeFrom, s.UpgradeTo = o.Upgrade.From, o.Upgrade.To
	return s
}
