package netpolicy

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func daemonSet(t *testing.T, objs []client.Object) *appsv1.DaemonSet {
	t.Helper()
	for _, o := range objs {
		if ds, ok := o.(*appsv1.DaemonSet); ok {
			return ds
		}
	}
	t.Fatal("no DaemonSet")
	return nil
}

// kube-router runs its network-policy controller only, on the node's
// network, after an init container turned bridged traffic over to iptables.
func TestObjectsRunThePolicyControllerAlone(t *testing.T) {
	ds := daemonSet(t, Objects("dfe2e.local/netpol-enforcer:v2.1.0-x"))
	spec := ds.Spec.Template.Spec
	if !spec.HostNetwork {
		t.Error("not on the node's network: its iptables rules would land in a pod's namespace")
	}
	args := strings.Join(spec.Containers[0].Args, " ")
	for _, want := range []string{"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %q lack %s", args, want)
		}
	}
	if len(spec.InitContainers) != 1 || strings.Join(spec.InitContainers[0].Command, " ") != "/bin/sysctl -w net.bridge.bridge-nf-call-iptables=1" {
		t.Errorf("init container does not set bridge-nf-call-iptables: %+v", spec.InitContainers)
	}
	if sc := spec.InitContainers[0].SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Error("the sysctl init container is not privileged (/proc/sys is read-only otherwise)")
	}
	if len(spec.Tolerations) == 0 {
		t.Error("no toleration: the control-plane node of a one-node cluster would run no enforcer")
	}
	for _, c := range append(spec.InitContainers, spec.Containers...) {
		if c.Image != "dfe2e.local/netpol-enforcer:v2.1.0-x" {
			t.Errorf("%s runs %s", c.Name, c.Image)
		}
	}
}

func TestRolled(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gen    int64
		status appsv1.DaemonSetStatus
		ok     bool
		state  string
	}{
		{"old generation", 2, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 1, UpdatedNumberScheduled: 1, NumberReady: 1}, false, "generation 2 not yet observed"},
		{"no node", 1, appsv1.DaemonSetStatus{ObservedGeneration: 1}, false, "scheduled on no node"},
		{"not updated", 1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberReady: 2}, false, "1 of 2 pods updated"},
		{"not ready", 1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 1}, false, "1 of 2 pods Ready"},
		{"ready", 1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 2}, true, "2 of 2 pods Ready"},
	} {
		ds := &appsv1.DaemonSet{Status: tc.status}
		ds.Generation = tc.gen
		ok, state := Rolled(ds)
		if ok != tc.ok || state != tc.state {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, ok, state, tc.ok, tc.state)
		}
	}
}
