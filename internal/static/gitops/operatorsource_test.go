package gitops

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func TestOperatorSourceFollowsTheSettings(t *testing.T) {
	o := OperatorSource(config.Settings{OperatorSource: "/src", Cache: "/c"})
	if o.Override != "/src" || o.CacheDir != filepath.Join("/c", "operator") {
		t.Fatalf("got %+v, want Override /src and CacheDir /c/operator", o)
	}
}

// A caller that leaves CacheDir empty shares the cache dfe2e uses when
// DFE2E_CACHE is unset.
func TestOperatorDefaultCacheIsDfe2esDefault(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("dfe2e's cache root follows the XDG layout, which os.UserCacheDir uses on Linux only")
	}
	home := t.TempDir()
	t.Setenv(config.EnvCache, "")
	t.Setenv(config.EnvHome, home)
	for _, xdg := range []string{"", filepath.Join(home, "xdg")} {
		t.Setenv(config.EnvXDGCacheHome, xdg)
		if got, want := operator.DefaultCacheDir(), OperatorSource(config.FromEnv()).CacheDir; got != want {
			t.Errorf("XDG_CACHE_HOME=%q: operator.DefaultCacheDir() %s, dfe2e's %s", xdg, got, want)
		}
	}
}
