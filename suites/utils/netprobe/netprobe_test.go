package netprobe

import (
	"errors"
	"strings"
	"testing"
)

func TestDetailNamesRejectAndDrop(t *testing.T) {
	for _, tc := range []struct {
		out  string
		err  error
		want string
	}{
		{"Could not connect to Redis at 10.244.0.5:9999: Connection refused\n", errors.New("command terminated with exit code 1"), "connection refused (rejected)"},
		{"", errors.New("command terminated with exit code 143"), "no answer within 3 s (dropped)"},
		{"Could not connect to Redis at 10.244.0.5:9999: No route to host", errors.New("command terminated with exit code 1"), "Could not connect to Redis at 10.244.0.5:9999: No route to host"},
	} {
		if got := Detail(tc.out, tc.err); !strings.HasPrefix(got, tc.want) {
			t.Errorf("Detail(%q, %v) = %q, want %q", tc.out, tc.err, got, tc.want)
		}
	}
}

// Probe pods never pull (the image is put on the node) and stop at once.
func TestPods(t *testing.T) {
	c := ClientPod("ns", "probe", "img", map[string]string{"a": "b"})
	s := ServerPod("ns", "server", "img", nil, 6379)
	for _, p := range []struct {
		name string
		cmd  string
	}{{c.Name, strings.Join(c.Spec.Containers[0].Command, " ")}, {s.Name, strings.Join(s.Spec.Containers[0].Command, " ")}} {
		if p.cmd == "" {
			t.Errorf("%s: no command", p.name)
		}
	}
	if c.Labels["a"] != "b" || c.Spec.Containers[0].ImagePullPolicy != "Never" || *c.Spec.TerminationGracePeriodSeconds != 0 {
		t.Errorf("client pod: %+v", c)
	}
	if !strings.Contains(strings.Join(s.Spec.Containers[0].Command, " "), "--port 6379 --protected-mode no") || s.Spec.Containers[0].ReadinessProbe == nil {
		t.Errorf("server pod: %+v", s.Spec.Containers[0])
	}
}
