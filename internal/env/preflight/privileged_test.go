package preflight

import (
	"errors"
	"testing"
)

func TestMergeWrapperKeepsSettings(t *testing.T) {
	cfg := map[string]any{"log-level": "warn", "runtimes": map[string]any{"other": map[string]any{"path": "/x"}}}
	if err := MergeWrapper(cfg, "/w"); err != nil {
		t.Fatal(err)
	}
	rt := cfg["runtimes"].(map[string]any)
	if cfg["log-level"] != "warn" || rt["other"] == nil || cfg["default-runtime"] != RuntimeName {
		t.Fatalf("merge lost or missed settings: %v", cfg)
	}
	if !usesWrapper(cfg) {
		t.Fatal("usesWrapper false after merge")
	}
}

func TestMergeWrapperRefusesForeignDefaultRuntime(t *testing.T) {
	cfg := map[string]any{"default-runtime": "nvidia"}
	err := MergeWrapper(cfg, "/w")
	if !errors.Is(err, ErrNotFixable) {
		t.Fatalf("foreign default runtime replaced: err=%v cfg=%v", err, cfg)
	}
	if cfg["default-runtime"] != "nvidia" {
		t.Fatalf("config changed: %v", cfg)
	}
}
