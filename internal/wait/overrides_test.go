package wait

import (
	"strings"
	"testing"
	"time"
)

// Overrides follow DFE2E_TIMEOUTS as it is now, not as it was at the first call.
func TestOverridesFollowTheEnvironment(t *testing.T) {
	t.Setenv("DFE2E_TIMEOUTS", "")
	if got := Timeout(PodsReady); got != Defaults[PodsReady] {
		t.Fatalf("unset: %s", got)
	}
	t.Setenv("DFE2E_TIMEOUTS", `{"PodsReady":"7s"}`)
	if err := CheckEnv(); err != nil || Timeout(PodsReady) != 7*time.Second {
		t.Fatalf("override: %s, %v", Timeout(PodsReady), err)
	}
	for _, raw := range []string{`{"NoSuchTimeout":"1s"}`, `{"PodsReady":"soon"}`, `not json`} {
		t.Setenv("DFE2E_TIMEOUTS", raw)
		if err := CheckEnv(); err == nil || !strings.Contains(err.Error(), "DFE2E_TIMEOUTS") {
			t.Errorf("%s: want an error naming DFE2E_TIMEOUTS, got %v", raw, err)
		}
		if got := Timeout(PodsReady); got != Defaults[PodsReady] {
			t.Errorf("%s: a bad value must leave the defaults, got %s", raw, got)
		}
	}
}
