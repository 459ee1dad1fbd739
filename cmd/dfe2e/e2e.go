package main

import (
	"cmp"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/upgradecheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	e2erun "github.com/dragonfly-e2e/dragonfly-e2e/internal/run"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func init() {
	var (
		o         e2erun.Options
		blockedOK bool
		env       = config.FromEnv()
	)
	offline, offlineErr := env.OfflineEnabled()
	cmd := &cobra.Command{
		Use:   "e2e",
		Short: "The main job: preflight → images → kind cluster with local-path → suites → reports → cluster deleted",
		Long: `e2e runs the cluster tier end to end on kind (no kind binary needed).

Images: the official ones when a registry is reachable; otherwise (or with
--offline) a Kubernetes node image and component images are built from Go
modules and Debian packages, cached by content. Images that Kubernetes pulls
(the operator, its sidecar, the Dragonfly data plane, --image-archive) are
served by a registry the run starts, which the node's containerd uses as a
mirror, so pull policy Always works with no internet. Ctrl-C or SIGTERM at any point
removes the cluster's containers (or prints the one command that does).

With --kubeconfig it runs on a cluster you already have instead: no kind,
no registry, no node image; images come from their registries. A preflight
checks that the API server answers, that you may do what the run does and
that the storage class exists. The Flux tier is not run there (it installs
Flux and prunes the operator on purpose) and Flux is never installed; specs
that need kind node containers are skipped with the reason. Everything the run creates is
labelled ` + "`dragonfly-e2e.io/run=<id>`" + ` and removed at the end (Ctrl-C too);
a cluster with the Dragonfly operator (or its namespace database) already
there is refused.

Exit codes: 0 passed, 1 a step or spec failed, 2 bad input, 3 nothing failed
but something was blocked (0 with --blocked-ok).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if offlineErr != nil && !cmd.Flags().Changed("offline") {
				return badInput(offlineErr)
			}
			// On a cluster of its own the stand-in built here cannot be
			// pulled: the operator's default image is the default there.
			if o.Existing.Kubeconfig != "" && !cmd.Flags().Changed("dragonfly-image") {
				o.DragonflyImage = e2erun.DragonflyOperatorDefault
			}
			// Naming a version of the chain asks for the tier that runs it.
			if cmd.Flags().Changed("upgrade-from") || cmd.Flags().Changed("upgrade-to") {
				o.Upgrade.Run = true
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logf = progress
			rec, err := e2erun.E2E(ctx, o)
			rec.Print(os.Stderr)
			if code := rec.ExitCode(blockedOK); code != exitOK {
				if code == exitBadInput {
					return badInput(err)
				}
				return withCode(code)
			}
			if rec.Summary.Blocked > 0 {
				progress("0 failed; blocked specs are listed above (never counted as passed); exit 0 because of --blocked-ok")
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&o.Offline, "offline", offline, "build every image locally, never contact a registry (env "+config.EnvOffline+"=1)")
	fl.StringVar(&o.Cluster, "name", kindconfig.DefaultClusterName, "kind cluster name")
	fl.StringVar(&o.NetpolEnforcer, "netpol-enforcer", e2erun.EnforcerAuto, "NetworkPolicy enforcer of the kind cluster: "+strings.Join(e2erun.NetpolEnforcers, ", ")+" ("+e2erun.EnforcerAuto+": kube-router's policy controller, built here, when offline and --label-filter selects network specs; online kind's kindnetd enforces)")
	fl.IntVar(&o.Nodes, "nodes", 0, fmt.Sprintf("kind cluster nodes: 1 control plane + N-1 workers, 1 to %d; with more than 1 the default --label-filter also selects the node-failure specs (default %d when the host's MemAvailable is at least %d GiB, else %d; the run log says which)", kindconfig.MaxNodes, kindconfig.MultiNodeDefault, kindconfig.MultiNodeMinAvailable>>30, kindconfig.DefaultNodes))
	fl.BoolVar(&o.Reuse, "reuse-cluster", false, "use an existing kind cluster of that name (it is then never deleted)")
	fl.BoolVar(&o.Keep, "keep-cluster", false, "keep the cluster after the run")
	fl.BoolVar(&o.KeepOnFailure, "keep-on-failure", false, "keep the cluster (and a failed create's nodes) when something fails")
	fl.StringVar(&o.Artifacts, "artifacts", artifactsDefault(env), "directory for reports, kubeconfig and, on failure, cluster logs (env "+config.EnvArtifacts+")")
	fl.StringVar(&o.LabelFilter, "label-filter", e2erun.DefaultLabels, "Ginkgo label filter of the specs to run before the Flux tier (upgrade specs are never selected here)")
	fl.StringVar(&o.Suites, "suites", "./suites", "Go package of the Ginkgo suites (its helpers in suites/utils are ordinary packages, tested by make test)")
	fl.StringArrayVar(&o.Archives, "image-archive", nil, "image archive (docker save / OCI tar) to load into the node; repeatable (air-gapped path)")
	fl.StringArrayVar(&o.LoadImages, "load-image", nil, "image from the local Docker engine to load into the node; repeatable")
	fl.BoolVar(&o.StopEngine, "stop-engine", false, "stop the Docker engine at the end if this run started it (CI: leave the machine as found)")
	fl.StringVar(&o.SnapshotTarget, "snapshot-target", cmp.Or(env.SnapshotTarget, "dragonfly,redis-standin"), "snapshot-restore suite target(s), comma-separated: dragonfly (CRD-managed; blocked where its images cannot be had), redis-standin (redis-server, unmanaged — not Dragonfly: proves the suite's machinery on real storage) (env "+config.EnvSnapshotTarget+")")
	fl.StringVar(&o.OperatorVersion, "operator-version", cmp.Or(env.OperatorVersion, operator.DefaultVersion), "bundled operator version under test (env "+config.EnvOperatorVersion+")")
	fl.StringVar(&o.OperatorSource, "operator-source", env.OperatorSource, operatorSourceUsage)
	fl.StringVar(&o.OperatorImages, "operator-images", env.OperatorImages, "directory of upstream operator image archives (operator-<version>.tar + SHA256SUMS), read in place and served to the cluster through the run's registry mirror (env "+config.EnvOperatorImages+")")
	fl.StringVar(&o.DragonflyImage, "dragonfly-image", e2erun.DragonflyStandIn, "image the operator runs for every instance (--dragonfly-image of the manager): "+e2erun.DragonflyStandIn+" builds the Dragonfly-contract stand-in here (named as a stand-in in every report), "+e2erun.DragonflyOperatorDefault+" keeps the operator's default, anything else is an image reference")
	fl.StringVar(&o.Flux.Manifests, "flux-manifests", env.FluxManifests,
		"offline copy of the flux2 "+flux.Version+" release manifests (folder with source-controller.yaml, …; env "+config.EnvFluxManifests+"); empty: downloaded from GitHub")
	fl.StringVar(&o.Flux.LabelFilter, "flux-label-filter", "health", "Ginkgo label filter of the Flux tier, run after the install tier")
	fl.BoolVar(&o.Flux.Skip, "skip-flux", false, "do not run the Flux tier")
	fl.StringVar(&o.Upgrade.From, "upgrade-from", env.UpgradeFrom, "pinned operator version the upgrade tier installs first; implies --upgrade (default the oldest pinned, "+upgradecheck.DefaultFrom()+"; env "+config.EnvUpgradeFrom+")")
	fl.StringVar(&o.Upgrade.To, "upgrade-to", env.UpgradeTo, "pinned operator version the upgrade tier ends at, every pinned release in between a hop; implies --upgrade (default the newest pinned, "+upgradecheck.DefaultTo()+"; env "+config.EnvUpgradeTo+")")
	fl.StringVar(&o.Upgrade.LabelFilter, "upgrade-label-filter", e2erun.UpgradeLabel, "Ginkgo label filter of the upgrade tier, run after the Flux tier (the other tiers never select upgrade specs)")
	fl.BoolVar(&o.Upgrade.Run, "upgrade", false, "also run the upgrade tier after the Flux tier: the operator installed through Flux at --upgrade-from and upgraded release by release to --upgrade-to (the release gate; with --skip-install --skip-flux it runs alone)")
	fl.BoolVar(&o.SkipInstall, "skip-install", false, "do not run the install/data tier (e.g. to run only the upgrade tier)")
	fl.IntVar(&o.Repeat, "repeat", 1, "run the selected specs this many times on one cluster; a spec that both passed and failed is a flake, listed first and counted as failed")
	fl.StringVar(&o.Existing.Kubeconfig, "kubeconfig", "", "run on the cluster of this kubeconfig instead of a kind cluster of the run's own (no kind, no registry; kind-only flags such as --reuse-cluster, --name, --keep-cluster are refused with it)")
	fl.StringVar(&o.Existing.Context, "context", "", "with --kubeconfig: the context to use (default its current context)")
	fl.StringVar(&o.Existing.StorageClass, "storage-class", "", "with --kubeconfig: StorageClass of every PVC the suites create (default the cluster's default class)")
	fl.BoolVar(&o.Existing.SkipFluxInstall, "skip-flux-install", false, "with --kubeconfig: never install Flux; on a cluster without Flux the Flux tier is then not run (by default the run installs Flux there, labelled with its run id, and removes it at the end)")
	fl.StringVar(&o.Existing.GitServerImage, "git-server-image", "", "with --kubeconfig: the Flux tier's Git server image, pushed where the cluster can pull it (build it with `dfe2e flux-images`); without it the Flux tier is not run")
	fl.BoolVar(&blockedOK, "blocked-ok", false, "exit 0 instead of 3 when nothing failed but some specs are blocked (they stay listed as blocked)")
	root.AddCommand(cmd)
}
