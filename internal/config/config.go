// Package config is the one place dfe2e's settings meet the environment.
//
// `dfe2e e2e` runs the Ginkgo suites in a separate `go test` process, so a
// setting crosses to them as an environment variable. Every such variable is
// a field of Settings: FromEnv reads them all, Env writes them back for a
// child process. Nothing else in the tree calls os.Getenv and friends (see
// TestNoEnvironmentAccessOutsideConfig), so a setting cannot be read under
// one name and passed on under another, or silently not passed on.
package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
)

// The environment variables, for messages that tell the user what to set.
// Each equals the env tag of its Settings field (checked by the tests).
const (
	EnvCluster           = "DFE2E_CLUSTER"
	EnvKindKubeconfig    = "DFE2E_KIND_KUBECONFIG"
	EnvKubeconfig        = "KUBECONFIG"
	EnvKubeContext       = "DFE2E_KUBE_CONTEXT"
	EnvStorageClass      = "DFE2E_STORAGE_CLASS"
	EnvRunID             = "DFE2E_RUN_ID"
	EnvKubebuilderAssets = "KUBEBUILDER_ASSETS"
	EnvArtifacts         = "DFE2E_ARTIFACTS"
	EnvTestDepth         = "DFE2E_TEST_DEPTH"
	EnvTimeouts          = "DFE2E_TIMEOUTS"
	EnvOperatorVersion   = "DFE2E_OPERATOR_VERSION"
	EnvOperatorSource    = "DFE2E_OPERATOR_SOURCE"
	EnvOperatorImage     = "DFE2E_OPERATOR_IMAGE"
	EnvOperatorImages    = "DFE2E_OPERATOR_IMAGES"
	EnvDragonflyImage    = "DFE2E_DRAGONFLY_IMAGE"
	EnvDragonflyStandIn  = "DFE2E_DRAGONFLY_STANDIN"
	EnvSnapshotTarget    = "DFE2E_SNAPSHOT_TARGET"
	EnvDatasetKeys       = "DFE2E_DATASET_KEYS"
	EnvRedisPassword     = "DFE2E_REDIS_PASSWORD"
	EnvFluxManifests     = "DFE2E_FLUX_MANIFESTS"
	EnvGitServerImage    = "DFE2E_GITSERVER_IMAGE"
	EnvFluxTier          = "DFE2E_FLUX_TIER"
	EnvUpgradeFrom       = "DFE2E_UPGRADE_FROM"
	EnvUpgradeTo         = "DFE2E_UPGRADE_TO"
	EnvOffline           = "DFE2E_OFFLINE"
	EnvNodeImage         = "DFE2E_NODE_IMAGE"
	EnvDebianMirror      = "DFE2E_DEBIAN_MIRROR"
	EnvDocker            = "DFE2E_DOCKER"
	EnvRunc              = "DFE2E_RUNC"
	EnvCache             = "DFE2E_CACHE"
	EnvXDGCacheHome      = "XDG_CACHE_HOME"
	EnvHome              = "HOME"
	EnvAllowMissingTools = "DFE2E_ALLOW_MISSING_TOOLS"
	EnvImageBuilds       = "DFE2E_IMAGE_BUILDS"
	EnvWriteDocs         = "DFE2E_WRITE_DOCS"
	EnvStandInEntrypoint = "DFSTANDIN_AS_ENTRYPOINT"
	EnvStandInVerbose    = "DFSTANDIN_TEST_VERBOSE"
)

// Settings are the values dfe2e and its suites take from the environment,
// raw as they were set; the typed accessors parse the ones that are not
// plain strings. An empty field means unset.
type Settings struct {
	// Cluster selects the suites' cluster provider: envtest (default),
	// kubeconfig or kind.
	Cluster string `env:"DFE2E_CLUSTER"`
	// KindKubeconfig is the kubeconfig of the kind cluster `dfe2e e2e`
	// created for this run; the kind provider connects with it.
	KindKubeconfig string `env:"DFE2E_KIND_KUBECONFIG"`
	// Kubeconfig is the standard kubeconfig path (list) of client tools.
	Kubeconfig string `env:"KUBECONFIG"`
	// KubeContext is the kubeconfig context the kubeconfig provider uses
	// instead of the current one (`dfe2e e2e --context`).
	KubeContext string `env:"DFE2E_KUBE_CONTEXT"`
	// StorageClass is the StorageClass of every PVC the suites create
	// (`dfe2e e2e --storage-class`); empty: local-path, kind's default.
	StorageClass string `env:"DFE2E_STORAGE_CLASS"`
	// RunID, when set, labels every object the suites create with this
	// run's id (internal/env/cluster.RunLabels), so that a run on a cluster
	// someone keeps removes exactly what it created and nothing else.
	RunID string `env:"DFE2E_RUN_ID"`
	// KubebuilderAssets is a directory holding kube-apiserver and etcd for
	// the envtest provider (controller-runtime's convention); empty: built.
	KubebuilderAssets string `env:"KUBEBUILDER_ASSETS"`
	// Artifacts is where the suites write dumps and reports (default ./artifacts).
	Artifacts string `env:"DFE2E_ARTIFACTS"`
	// TestDepth is the deepest spec level that runs, an integer (see
	// TestDepthValue; the suites define the levels and the default).
	TestDepth string `env:"DFE2E_TEST_DEPTH"`
	// Timeouts overrides named timeouts: a JSON object of name → Go
	// duration, parsed and checked by internal/wait.
	Timeouts string `env:"DFE2E_TIMEOUTS"`
	// OperatorVersion is the bundled operator release under test.
	OperatorVersion string `env:"DFE2E_OPERATOR_VERSION"`
	// OperatorSource is an offline copy of the upstream operator manifest: a
	// file, or a directory holding <version>/dragonfly-operator.yaml.
	OperatorSource string `env:"DFE2E_OPERATOR_SOURCE"`
	// OperatorImage replaces the operator's manager image in the suites.
	OperatorImage string `env:"DFE2E_OPERATOR_IMAGE"`
	// OperatorImages is a directory of upstream operator image archives
	// (operator-<version>.tar with SHA256SUMS), the default of
	// `dfe2e e2e --operator-images`.
	OperatorImages string `env:"DFE2E_OPERATOR_IMAGES"`
	// DragonflyImage is the image the operator runs for every instance.
	DragonflyImage string `env:"DFE2E_DRAGONFLY_IMAGE"`
	// DragonflyStandIn names the stand-in behind DragonflyImage, for reports;
	// empty when DragonflyImage is real Dragonfly.
	DragonflyStandIn string `env:"DFE2E_DRAGONFLY_STANDIN"`
	// SnapshotTarget is the snapshot-restore suite's comma list of targets
	// (dragonfly, redis-standin).
	SnapshotTarget string `env:"DFE2E_SNAPSHOT_TARGET"`
	// DatasetKeys is the data suites' dataset size, a positive integer (see
	// DatasetKeysValue).
	DatasetKeys string `env:"DFE2E_DATASET_KEYS"`
	// RedisPassword is the password `dfe2e load` and `dfe2e dataset` use
	// when --password is not given; the in-cluster load Job sets it from a
	// Secret.
	RedisPassword string `env:"DFE2E_REDIS_PASSWORD"`
	// FluxManifests is an offline copy of the flux2 release manifests.
	FluxManifests string `env:"DFE2E_FLUX_MANIFESTS"`
	// GitServerImage is the in-cluster Git server image of the Flux tier.
	GitServerImage string `env:"DFE2E_GITSERVER_IMAGE"`
	// FluxTier says where the Flux tier may run besides a disposable
	// cluster (see FluxTierValue): `dfe2e e2e --kubeconfig` sets it when it
	// installed Flux for the run on a cluster it does not own.
	FluxTier string `env:"DFE2E_FLUX_TIER"`
	// UpgradeFrom and UpgradeTo are the pinned operator versions the upgrade
	// suite goes between (`dfe2e e2e --upgrade-from/--upgrade-to`); empty:
	// the oldest and the newest pinned release.
	UpgradeFrom string `env:"DFE2E_UPGRADE_FROM"`
	UpgradeTo   string `env:"DFE2E_UPGRADE_TO"`
	// Offline makes `dfe2e e2e` build every image locally (see OfflineEnabled).
	Offline string `env:"DFE2E_OFFLINE"`
	// NodeImage is the kind node image to use instead of resolving one.
	NodeImage string `env:"DFE2E_NODE_IMAGE"`
	// DebianMirror is the Debian archive debootstrap fetches from; empty:
	// the host's own apt source.
	DebianMirror string `env:"DFE2E_DEBIAN_MIRROR"`
	// Docker is the docker client binary; empty: docker on PATH.
	Docker string `env:"DFE2E_DOCKER"`
	// Runc is the real runc behind dfe2e-runc-wrapper; empty: the usual
	// install paths.
	Runc string `env:"DFE2E_RUNC"`
	// Cache is where dfe2e keeps what it builds or fetches (see CacheRoot).
	Cache string `env:"DFE2E_CACHE"`
	// XDGCacheHome is the XDG base directory for caches (see CacheRoot).
	XDGCacheHome string `env:"XDG_CACHE_HOME"`
	// Home is the user's home directory (see CacheRoot).
	Home string `env:"HOME"`
	// AllowMissingTools turns a test's missing host tool from a failure
	// into a skip (see AllowMissingToolsEnabled).
	AllowMissingTools string `env:"DFE2E_ALLOW_MISSING_TOOLS"`
	// ImageBuilds enables the tests that build images from Go modules
	// (minutes on a cold cache; see ImageBuildsEnabled).
	ImageBuilds string `env:"DFE2E_IMAGE_BUILDS"`
	// WriteDocs makes the generated-docs tests rewrite the docs instead of
	// comparing them (see WriteDocsEnabled).
	WriteDocs string `env:"DFE2E_WRITE_DOCS"`
	// StandInEntrypoint makes the stand-in's test binary run as the stand-in
	// itself, so a test can exec it as a container entrypoint would (see
	// StandInEntrypointEnabled).
	StandInEntrypoint string `env:"DFSTANDIN_AS_ENTRYPOINT"`
	// StandInVerbose, non-empty, shows the stand-in tests' redis-server output.
	StandInVerbose string `env:"DFSTANDIN_TEST_VERBOSE"`
}

// fields lists Settings' string fields with their env names, in order.
func fields() []reflect.StructField {
	t := reflect.TypeFor[Settings]()
	out := make([]reflect.StructField, t.NumField())
	for i := range out {
		out[i] = t.Field(i)
	}
	return out
}

// FromEnv reads every setting from the process environment.
func FromEnv() Settings {
	var s Settings
	v := reflect.ValueOf(&s).Elem()
	for i, f := range fields() {
		v.Field(i).SetString(os.Getenv(f.Tag.Get("env")))
	}
	return s
}

// Env returns KEY=value for every non-empty setting, for exec.Cmd.Env:
// appended after the inherited environment, these win.
func (s Settings) Env() []string {
	var out []string
	v := reflect.ValueOf(s)
	for i, f := range fields() {
		if val := v.Field(i).String(); val != "" {
			out = append(out, f.Tag.Get("env")+"="+val)
		}
	}
	return out
}

// Names returns every environment variable Settings covers, in field order.
func Names() []string {
	var out []string
	for _, f := range fields() {
		out = append(out, f.Tag.Get("env"))
	}
	return out
}

// flag parses an on/off setting; unset is off.
func flag(name, raw string) (bool, error) {
	if raw == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, fmt.Errorf("%s=%q: want 1 (on) or 0 (off); true and false also work", name, raw)
	}
	return b, nil
}

// OfflineEnabled parses DFE2E_OFFLINE.
func (s Settings) OfflineEnabled() (bool, error) { return flag(EnvOffline, s.Offline) }

// AllowMissingToolsEnabled parses DFE2E_ALLOW_MISSING_TOOLS.
func (s Settings) AllowMissingToolsEnabled() (bool, error) {
	return flag(EnvAllowMissingTools, s.AllowMissingTools)
}

// ImageBuildsEnabled parses DFE2E_IMAGE_BUILDS.
func (s Settings) ImageBuildsEnabled() (bool, error) { return flag(EnvImageBuilds, s.ImageBuilds) }

// WriteDocsEnabled parses DFE2E_WRITE_DOCS.
func (s Settings) WriteDocsEnabled() (bool, error) { return flag(EnvWriteDocs, s.WriteDocs) }

// StandInEntrypointEnabled parses DFSTANDIN_AS_ENTRYPOINT.
func (s Settings) StandInEntrypointEnabled() (bool, error) {
	return flag(EnvStandInEntrypoint, s.StandInEntrypoint)
}

// FluxTierMode is where the Flux tier's specs run (FluxTierValue).
type FluxTierMode string

const (
	// FluxTierDisposable (unset): only on a cluster the run created, which
	// the tier's specs install Flux into themselves.
	FluxTierDisposable FluxTierMode = ""
	// FluxTierRunInstalled: also on a cluster the run does not own, where
	// `dfe2e e2e` installed Flux for this run (labelled with its run id) and
	// removes it afterwards; the specs use that Flux and install none.
	FluxTierRunInstalled FluxTierMode = "run-installed"
	// FluxTierClusterFlux: on a cluster the run does not own whose own
	// Flux reconciles the tier's fixture; the specs place their Flux
	// objects in a namespace of their own and never touch that Flux.
	FluxTierClusterFlux FluxTierMode = "cluster-flux"
)

// FluxTierValue parses DFE2E_FLUX_TIER.
func (s Settings) FluxTierValue() (FluxTierMode, error) {
	switch m := FluxTierMode(s.FluxTier); m {
	case FluxTierDisposable, FluxTierRunInstalled, FluxTierClusterFlux:
		return m, nil
	}
	return "", fmt.Errorf("%s=%q: want %q (Flux installed by dfe2e for this run), %q (the cluster's own Flux) or unset (disposable clusters only)", EnvFluxTier, s.FluxTier, FluxTierRunInstalled, FluxTierClusterFlux)
}

// TestDepthValue parses DFE2E_TEST_DEPTH; set is false when it is empty.
// The range of levels is the suites' to check.
func (s Settings) TestDepthValue() (depth int, set bool, err error) {
	if s.TestDepth == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s.TestDepth)
	if err != nil {
		return 0, false, fmt.Errorf("%s=%q: want an integer spec level (0 runs the most important specs only, higher runs more)", EnvTestDepth, s.TestDepth)
	}
	return n, true, nil
}

// DatasetKeysValue parses DFE2E_DATASET_KEYS; set is false when it is empty.
func (s Settings) DatasetKeysValue() (keys int, set bool, err error) {
	if s.DatasetKeys == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(s.DatasetKeys)
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("%s=%q: want a positive number of keys", EnvDatasetKeys, s.DatasetKeys)
	}
	return n, true, nil
}

// CacheRoot is where dragonfly-e2e keeps everything it builds or fetches:
// $DFE2E_CACHE, else $XDG_CACHE_HOME/dragonfly-e2e, else
// $HOME/.cache/dragonfly-e2e, else a directory under the system temp dir.
func (s Settings) CacheRoot() string {
	switch {
	case s.Cache != "":
		return s.Cache
	case s.XDGCacheHome != "":
		return filepath.Join(s.XDGCacheHome, "dragonfly-e2e")
	case s.Home != "":
		return filepath.Join(s.Home, ".cache", "dragonfly-e2e")
	}
	return filepath.Join(os.TempDir(), "dragonfly-e2e-cache")
}

// OperatorCacheDir is where the upstream operator manifests are cached
// (operator.SourceOptions.CacheDir): <CacheRoot>/operator.
func (s Settings) OperatorCacheDir() string { return filepath.Join(s.CacheRoot(), "operator") }

// DockerBinary is the docker client to run: $DFE2E_DOCKER, else "docker".
func (s Settings) DockerBinary() string {
	if s.Docker != "" {
		return s.Docker
	}
	return "docker"
}

// ChildEnv is the environment for a child process that must see exactly s:
// this process's environment without any variable of Settings, then s.Env().
// A setting s leaves empty is therefore unset in the child, not inherited.
func (s Settings) ChildEnv() []string {
	names := map[string]bool{}
	for _, n := range Names() {
		names[n] = true
	}
	var out []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !names[k] {
			out = append(out, kv)
		}
	}
	return append(out, s.Env()...)
}
