package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

// Every field is a string with an env tag whose name has a constant: the
// constants are what messages use, the tags what FromEnv and Env use.
func TestTagsMatchConstants(t *testing.T) {
	consts := map[string]string{
		"Cluster": EnvCluster, "KindKubeconfig": EnvKindKubeconfig, "Kubeconfig": EnvKubeconfig,
		"KubeContext": EnvKubeContext, "StorageClass": EnvStorageClass, "RunID": EnvRunID,
		"KubebuilderAssets": EnvKubebuilderAssets, "Artifacts": EnvArtifacts, "TestDepth": EnvTestDepth,
		"Timeouts": EnvTimeouts, "OperatorVersion": EnvOperatorVersion, "OperatorSource": EnvOperatorSource,
		"OperatorImage": EnvOperatorImage, "OperatorImages": EnvOperatorImages, "DragonflyImage": EnvDragonflyImage,
		"DragonflyStandIn": EnvDragonflyStandIn, "SnapshotTarget": EnvSnapshotTarget, "DatasetKeys": EnvDatasetKeys,
		"RedisPassword": EnvRedisPassword, "FluxManifests": EnvFluxManifests, "GitServerImage": EnvGitServerImage,
		"FluxTier":    EnvFluxTier,
		"UpgradeFrom": EnvUpgradeFrom, "UpgradeTo": EnvUpgradeTo,
		"Offline": EnvOffline, "NodeImage": EnvNodeImage, "DebianMirror": EnvDebianMirror, "Docker": EnvDocker,
		"Runc": EnvRunc, "Cache": EnvCache, "XDGCacheHome": EnvXDGCacheHome, "Home": EnvHome,
		"AllowMissingTools": EnvAllowMissingTools, "ImageBuilds": EnvImageBuilds, "WriteDocs": EnvWriteDocs,
		"StandInEntrypoint": EnvStandInEntrypoint, "StandInVerbose": EnvStandInVerbose,
	}
	seen := map[string]bool{}
	for _, f := range fields() {
		if f.Type.Kind() != reflect.String {
			t.Errorf("%s is %s: FromEnv and Env handle string fields only", f.Name, f.Type)
		}
		tag := f.Tag.Get("env")
		if tag == "" || tag != consts[f.Name] {
			t.Errorf("field %s: env tag %q, constant %q", f.Name, tag, consts[f.Name])
		}
		if seen[tag] {
			t.Errorf("%s is the env name of two fields", tag)
		}
		seen[tag] = true
	}
	if len(consts) != len(fields()) {
		t.Errorf("%d constants for %d fields", len(consts), len(fields()))
	}
}

// Env then FromEnv gives back every field: nothing set is lost on the way
// to the suites' process.
func TestEnvFromEnvRoundTrip(t *testing.T) {
	var want Settings
	v := reflect.ValueOf(&want).Elem()
	for i, f := range fields() {
		// A value with the characters paths and JSON bring along.
		v.Field(i).SetString(f.Name + `-value with spaces, "quotes" and =`)
	}
	env := want.Env()
	if len(env) != len(fields()) {
		t.Fatalf("Env gave %d entries for %d set fields: %v", len(env), len(fields()), env)
	}
	for _, name := range Names() {
		t.Setenv(name, "stale")
	}
	for _, kv := range env {
		k, val, _ := strings.Cut(kv, "=")
		t.Setenv(k, val)
	}
	if got := FromEnv(); got != want {
		t.Fatalf("round trip lost settings:\n got %+v\nwant %+v", got, want)
	}
}

func TestEnvOmitsUnsetAndFromEnvReadsUnsetAsEmpty(t *testing.T) {
	if env := (Settings{Cluster: "kind"}).Env(); !slices.Equal(env, []string{"DFE2E_CLUSTER=kind"}) {
		t.Fatalf("Env: %v", env)
	}
	for _, name := range Names() {
		t.Setenv(name, "")
	}
	if got := FromEnv(); got != (Settings{}) {
		t.Fatalf("empty environment: %+v", got)
	}
}

func TestFlags(t *testing.T) {
	for raw, want := range map[string]bool{"": false, "0": false, "1": true, "true": true, "false": false} {
		got, err := Settings{Offline: raw}.OfflineEnabled()
		if err != nil || got != want {
			t.Errorf("DFE2E_OFFLINE=%q: %v, %v; want %v", raw, got, err, want)
		}
	}
	bad := []struct {
		name string
		call func(Settings) (bool, error)
		s    Settings
	}{
		{EnvOffline, Settings.OfflineEnabled, Settings{Offline: "yes"}},
		{EnvAllowMissingTools, Settings.AllowMissingToolsEnabled, Settings{AllowMissingTools: "y"}},
		{EnvImageBuilds, Settings.ImageBuildsEnabled, Settings{ImageBuilds: "on"}},
		{EnvWriteDocs, Settings.WriteDocsEnabled, Settings{WriteDocs: "2"}},
		{EnvStandInEntrypoint, Settings.StandInEntrypointEnabled, Settings{StandInEntrypoint: "entry"}},
	}
	for _, c := range bad {
		_, err := c.call(c.s)
		if err == nil || !strings.Contains(err.Error(), c.name+"=") || !strings.Contains(err.Error(), "want 1 (on) or 0 (off)") {
			t.Errorf("%s: want an error naming the variable and what it accepts, got %v", c.name, err)
		}
	}
}

func TestNumbers(t *testing.T) {
	if n, set, err := (Settings{}).TestDepthValue(); n != 0 || set || err != nil {
		t.Errorf("unset depth: %d %v %v", n, set, err)
	}
	if n, set, err := (Settings{TestDepth: "3"}).TestDepthValue(); n != 3 || !set || err != nil {
		t.Errorf("depth 3: %d %v %v", n, set, err)
	}
	if _, _, err := (Settings{TestDepth: "deep"}).TestDepthValue(); err == nil || !strings.Contains(err.Error(), `DFE2E_TEST_DEPTH="deep"`) || !strings.Contains(err.Error(), "integer") {
		t.Errorf("bad depth: %v", err)
	}
	if n, set, err := (Settings{DatasetKeys: "500"}).DatasetKeysValue(); n != 500 || !set || err != nil {
		t.Errorf("500 keys: %d %v %v", n, set, err)
	}
	for _, raw := range []string{"0", "-3", "many", "1e5"} {
		if _, _, err := (Settings{DatasetKeys: raw}).DatasetKeysValue(); err == nil || !strings.Contains(err.Error(), "DFE2E_DATASET_KEYS=") || !strings.Contains(err.Error(), "positive") {
			t.Errorf("DFE2E_DATASET_KEYS=%q: %v", raw, err)
		}
	}
}

func TestCacheRootOrder(t *testing.T) {
	cases := []struct {
		s    Settings
		want string
	}{
		{Settings{Cache: "/c", XDGCacheHome: "/x", Home: "/h"}, "/c"},
		{Settings{XDGCacheHome: "/x", Home: "/h"}, "/x/dragonfly-e2e"},
		{Settings{Home: "/h"}, "/h/.cache/dragonfly-e2e"},
	}
	for _, c := range cases {
		if got := c.s.CacheRoot(); got != c.want {
			t.Errorf("%+v: %s, want %s", c.s, got, c.want)
		}
	}
	if got := (Settings{}).CacheRoot(); !strings.HasSuffix(got, "dragonfly-e2e-cache") {
		t.Errorf("nothing set: %s", got)
	}
}

// The child sees s and nothing of this process's settings that s leaves
// empty; everything else is inherited.
func TestChildEnv(t *testing.T) {
	t.Setenv(EnvDragonflyStandIn, "stale stand-in")
	t.Setenv(EnvCluster, "envtest")
	t.Setenv("DFE2E_CONFIG_TEST_OTHER", "kept")
	env := Settings{Cluster: "kind"}.ChildEnv()
	if !slices.Contains(env, "DFE2E_CLUSTER=kind") || !slices.Contains(env, "DFE2E_CONFIG_TEST_OTHER=kept") {
		t.Fatalf("ChildEnv lacks the setting or an inherited variable: %v", env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, EnvDragonflyStandIn+"=") || kv == "DFE2E_CLUSTER=envtest" {
			t.Fatalf("ChildEnv passed on %s", kv)
		}
	}
}

func TestFluxTierValue(t *testing.T) {
	for raw, want := range map[string]FluxTierMode{"": FluxTierDisposable, "run-installed": FluxTierRunInstalled, "cluster-flux": FluxTierClusterFlux} {
		if got, err := (Settings{FluxTier: raw}).FluxTierValue(); err != nil || got != want {
			t.Errorf("%s=%q: got %q, %v; want %q", EnvFluxTier, raw, got, err, want)
		}
	}
	// Planted defect: a misspelt mode must not read as "disposable only"
	// (silently skipping the tier) nor as any other mode.
	_, err := Settings{FluxTier: "yes"}.FluxTierValue()
	if err == nil || !strings.Contains(err.Error(), EnvFluxTier) || !strings.Contains(err.Error(), `"yes"`) {
		t.Fatalf("want an error naming %s and the bad value, got %v", EnvFluxTier, err)
	}
}
