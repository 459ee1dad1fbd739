package images

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	burntoml "github.com/BurntSushi/toml"
	jsonpatch "github.com/evanphx/json-patch/v5"
	toml "github.com/pelletier/go-toml"
	yaml "go.yaml.in/yaml/v3"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
)

// kindPatch repeats what kind v0.32.0 does with containerdConfigPatches
// (pkg/internal/patch.ContainerdTOML, not importable): TOML → JSON with
// pelletier/go-toml, a merge patch per patch whose version matches, back to
// TOML with BurntSushi/toml.
func kindPatch(t *testing.T, config string, patches []string) string {
	t.Helper()
	version := func(s string) int {
		var v struct {
			Version int `toml:"version,omitempty"`
		}
		if err := toml.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v.Version
	}
	toJSON := func(s string) []byte {
		tree, err := toml.LoadBytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(tree.ToMap())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	j := toJSON(config)
	want := version(config)
	for _, p := range patches {
		if v := version(p); v != 0 && v != want {
			continue
		}
		var err error
		if j, err = jsonpatch.MergePatch(j, toJSON(p)); err != nil {
			t.Fatal(err)
		}
	}
	var un any
	if err := yaml.Unmarshal(j, &un); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := burntoml.NewEncoder(&out).Encode(un); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

// TestMirrorPatchOnOfflineNodeConfig: kind's containerd patch applied to the
// offline node image's containerd 1.6 config turns on certs.d and keeps every
// setting the node needs.
func TestMirrorPatchOnOfflineNodeConfig(t *testing.T) {
	patched := kindPatch(t, containerdConfig, kindconfig.MirrorPatches)
	var cfg struct {
		Version int
		Plugins map[string]map[string]any
	}
	if _, err := burntoml.Decode(patched, &cfg); err != nil {
		t.Fatalf("patched config does not parse: %v\n%s", err, patched)
	}
	if cfg.Version != 2 {
		t.Errorf("version %d", cfg.Version)
	}
	if _, ok := cfg.Plugins["io.containerd.cri.v1.images"]; ok {
		t.Errorf("the version 3 patch leaked into a version 2 config:\n%s", patched)
	}
	cri := cfg.Plugins["io.containerd.grpc.v1.cri"]
	reg, _ := cri["registry"].(map[string]any)
	if reg["config_path"] != kindconfig.CertsDir {
		t.Errorf("registry.config_path = %v\n%s", reg["config_path"], patched)
	}
	if cri["sandbox_image"] != "registry.k8s.io/pause:3.10.1" || cri["restrict_oom_score_adj"] != true {
		t.Errorf("patch lost node settings:\n%s", patched)
	}
	ctrd, _ := cri["containerd"].(map[string]any)
	runc, _ := ctrd["runtimes"].(map[string]any)["runc"].(map[string]any)
	if opts, _ := runc["options"].(map[string]any); opts["SystemdCgroup"] != true {
		t.Errorf("patch lost SystemdCgroup:\n%s", patched)
	}
	// The reuse check in kindconfig looks for this exact line.
	if !strings.Contains(patched, `config_path = "`+kindconfig.CertsDir+`"`) {
		t.Errorf("patched config lacks the line kindconfig checks for:\n%s", patched)
	}
}
