package podnet

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

var three = []Node{
	{Name: "dfe2e-control-plane", IP: "172.18.0.2", PodCIDR: "10.244.0.0/24"},
	{Name: "dfe2e-worker", IP: "172.18.0.3", PodCIDR: "10.244.1.0/24"},
	{Name: "dfe2e-worker2", IP: "172.18.0.4", PodCIDR: "10.244.2.0/24"},
}

func TestBridgeConfIsTheNodesOwnRange(t *testing.T) {
	s, err := BridgeConf("10.244.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Plugins []struct {
			Type   string `json:"type"`
			IPMasq *bool  `json:"ipMasq"`
			IPAM   struct {
				Ranges [][]struct{ Subnet string } `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	if len(c.Plugins) != 2 || c.Plugins[0].Type != "bridge" || c.Plugins[1].Type != "portmap" {
		t.Fatalf("plugin chain: %s", s)
	}
	if r := c.Plugins[0].IPAM.Ranges; len(r) != 1 || len(r[0]) != 1 || r[0][0].Subnet != "10.244.2.0/24" {
		t.Errorf("host-local ranges %v, want only the node's 10.244.2.0/24", r)
	}
	if m := c.Plugins[0].IPMasq; m == nil || *m {
		t.Errorf("ipMasq %v: pod-to-pod traffic across nodes must keep its source address", m)
	}
	for _, bad := range []string{"", "10.244.2.1/24", "10.244.2.0", "fd00::/64"} {
		if _, err := BridgeConf(bad); err == nil {
			t.Errorf("BridgeConf(%q): no error", bad)
		}
	}
}

func TestScriptRoutesEveryOtherNodesRange(t *testing.T) {
	s := Script(three[1], three, ClusterCIDR)
	for _, want := range []string{
		"ip route replace 10.244.0.0/24 via 172.18.0.2\n",
		"ip route replace 10.244.2.0/24 via 172.18.0.4\n",
		"-s 10.244.1.0/24 ! -d 10.244.0.0/16",
		"iptables -t nat -C POSTROUTING", "|| iptables -t nat -A POSTROUTING",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script for %s lacks %q:\n%s", three[1].Name, want, s)
		}
	}
	if strings.Contains(s, "10.244.1.0/24 via") {
		t.Errorf("a node routes its own range away:\n%s", s)
	}
}

func TestCheckNamesTheBadNode(t *testing.T) {
	for name, c := range map[string]struct {
		ns   []Node
		want string
	}{
		"no range yet":    {[]Node{{Name: "w", IP: "172.18.0.3"}}, "node w has no spec.podCIDR"},
		"no address":      {[]Node{{Name: "w", PodCIDR: "10.244.1.0/24"}}, "node w has no IPv4 address"},
		"outside cluster": {[]Node{{Name: "w", IP: "172.18.0.3", PodCIDR: "10.96.0.0/24"}}, "outside the cluster range"},
		"overlap": {[]Node{three[0], {Name: "w9", IP: "172.18.0.9", PodCIDR: "10.244.0.0/23"}},
			"nodes dfe2e-control-plane and w9 have overlapping pod ranges"},
		"same address": {[]Node{three[0], {Name: "w9", IP: "172.18.0.2", PodCIDR: "10.244.9.0/24"}}, "share the address 172.18.0.2"},
		"host bits":    {[]Node{{Name: "w", IP: "172.18.0.3", PodCIDR: "10.244.1.7/24"}}, "not a network prefix"},
	} {
		err := Check(c.ns, ClusterCIDR)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", name, err, c.want)
		}
	}
	if err := Check(three, ClusterCIDR); err != nil {
		t.Fatal(err)
	}
}

type call struct {
	node, stdin string
	args        []string
}

func TestApplyWritesEachConfThenRoutes(t *testing.T) {
	var calls []call
	run := func(_ context.Context, node string, stdin io.Reader, args ...string) error {
		c := call{node: node, args: args}
		if stdin != nil {
			b, _ := io.ReadAll(stdin)
			c.stdin = string(b)
		}
		calls = append(calls, c)
		return nil
	}
	if err := Apply(context.Background(), run, three, ClusterCIDR); err != nil {
		t.Fatal(err)
	}
	if len(calls) != 6 {
		t.Fatalf("%d calls, want a config and a script per node: %+v", len(calls), calls)
	}
	for i, n := range three {
		w := calls[i]
		if w.node != n.Name || w.args[len(w.args)-1] != ConfPath || !strings.Contains(w.stdin, `"subnet": "`+n.PodCIDR+`"`) {
			t.Errorf("config write %d: %+v", i, w)
		}
		r := calls[3+i]
		if r.node != n.Name || !strings.Contains(strings.Join(r.args, " "), "ip route replace") {
			t.Errorf("routes %d: %+v", i, r)
		}
	}
	// A node without its range yet is refused before anything is written.
	calls = nil
	bad := append([]Node{}, three...)
	bad[2].PodCIDR = ""
	if err := Apply(context.Background(), run, bad, ClusterCIDR); err == nil || len(calls) != 0 {
		t.Fatalf("err %v, %d calls", err, len(calls))
	}
	// A failing node is named.
	fail := func(_ context.Context, node string, _ io.Reader, _ ...string) error {
		if node == "dfe2e-worker2" {
			return errors.New("exit 1")
		}
		return nil
	}
	if err := Apply(context.Background(), fail, three, ClusterCIDR); err == nil || !strings.Contains(err.Error(), "node dfe2e-worker2") {
		t.Fatalf("err %v", err)
	}
}

func TestParse(t *testing.T) {
	got := Parse("dfe2e-control-plane 172.18.0.2 10.244.0.0/24\ndfe2e-worker 172.18.0.3 \n\n")
	if len(got) != 2 || got[0] != three[0] || got[1].PodCIDR != "" || got[1].IP != "172.18.0.3" {
		t.Fatalf("%+v", got)
	}
}

func TestContainerdPatchPointsAtConfDir(t *testing.T) {
	if !strings.HasPrefix(ContainerdPatch, "version = 2\n") || !strings.Contains(ContainerdPatch, `conf_dir = "/etc/cni/net.d/dfe2e"`) {
		t.Fatal(ContainerdPatch)
	}
}
