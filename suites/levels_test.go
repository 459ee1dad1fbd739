package suites

import (
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

func TestDepth(t *testing.T) {
	t.Setenv(config.EnvTestDepth, "")
	if d, err := Depth(); err != nil || d != DefaultDepth {
		t.Fatalf("default: %v %v", d, err)
	}
	t.Setenv(config.EnvTestDepth, "9")
	if _, err := Depth(); err == nil {
		t.Fatal("out-of-range depth accepted")
	}
	if SkipReason(Low, Medium) == "" || SkipReason(High, Medium) != "" {
		t.Fatal("SkipReason: specs above the depth skip, others run")
	}
}
