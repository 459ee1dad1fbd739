package k8sbuild

import "testing"

// The cache keys of the Kubernetes and etcd builds, pinned: a changed key
// rebuilds the binaries cold on every machine (Kubernetes ≈20 min on 2
// cores), and the node image keyed by them. A refactoring must leave them
// unchanged; a change of pins or flags that is meant updates them here.
func TestModuleKeysArePinned(t *testing.T) {
	for _, c := range []struct {
		module, flags, want string
	}{
		{"kubernetes", versionLDFlags(), "ce131294f90f6a88"},
		{"etcd", "-s -w", "a40784acc0b96e05"},
	} {
		got, err := moduleHash(c.module, c.flags)
		if err != nil {
			t.Fatalf("%s: %v", c.module, err)
		}
		if got != c.want {
			t.Errorf("cache key of the %s build is %s, pinned %s: every cached build of it is rebuilt; if its pins or flags changed on purpose, pin the new key", c.module, got, c.want)
		}
	}
}
