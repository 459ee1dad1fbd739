package run

import (
	"strings"
	"testing"
)

func TestSelectsNetwork(t *testing.T) {
	for filter, want := range map[string]bool{
		"":                       true,
		"network":                true,
		DefaultLabels:            strings.Contains(DefaultLabels, NetworkLabel),
		"install || rbac":        false,
		"(network) && !upgrade":  true,
		"!network":               false,
		"failover || network":    true,
		"network && disruptive":  true, // the failover spec's labels
		"network && !disruptive": true,
	} {
		got, err := selectsNetwork(filter)
		if err != nil || got != want {
			t.Errorf("selectsNetwork(%q) = %v, %v; want %v", filter, got, err, want)
		}
	}
	if _, err := selectsNetwork("network &&"); err == nil {
		t.Error("a broken filter is not an error")
	}
}

func TestWantEnforcer(t *testing.T) {
	for _, tc := range []struct {
		o       Options
		offline bool
		want    bool
		why     string
	}{
		{Options{NetpolEnforcer: EnforcerAuto, LabelFilter: "network"}, true, true, ""},
		{Options{NetpolEnforcer: EnforcerAuto, LabelFilter: "network"}, false, false, "kindnetd"},
		{Options{NetpolEnforcer: EnforcerAuto, LabelFilter: "install"}, true, false, "selects no network spec"},
		{Options{NetpolEnforcer: EnforcerAuto, LabelFilter: "network", SkipInstall: true}, true, false, "no install tier"},
		{Options{NetpolEnforcer: EnforcerNone, LabelFilter: "network"}, true, false, "none"},
		{Options{NetpolEnforcer: EnforcerKubeRouter, LabelFilter: "install"}, false, true, ""},
	} {
		got, why := wantEnforcer(tc.o, tc.offline)
		if got != tc.want || !strings.Contains(why, tc.why) {
			t.Errorf("%+v offline=%v: %v %q, want %v %q", tc.o.NetpolEnforcer, tc.offline, got, why, tc.want, tc.why)
		}
	}
	if err := checkEnforcer("calico"); err == nil || !strings.Contains(err.Error(), "auto, kube-router, none") {
		t.Errorf("checkEnforcer(calico) = %v", err)
	}
}
