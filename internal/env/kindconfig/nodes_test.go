package kindconfig

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/podnet"
)

// cmdNode records the commands run in it; kubectl answers come from
// answer (nil: empty output).
type cmdNode struct {
	name, role string
	mu         sync.Mutex
	ran        []string // each command's args and stdin
	answer     func(args []string) string
}

func (n *cmdNode) String() string              { return n.name }
func (n *cmdNode) Role() (string, error)       { return n.role, nil }
func (n *cmdNode) IP() (string, string, error) { return "", "", nil }
func (n *cmdNode) SerialLogs(io.Writer) error  { return nil }
func (n *cmdNode) Command(c string, a ...string) exec.Cmd {
	return n.CommandContext(context.Background(), c, a...)
}
func (n *cmdNode) CommandContext(_ context.Context, c string, a ...string) exec.Cmd {
	return &cmdRec{n: n, args: append([]string{c}, a...)}
}

func (n *cmdNode) commands() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.ran...)
}

type cmdRec struct {
	n      *cmdNode
	args   []string
	stdin  io.Reader
	stdout io.Writer
}

func (c *cmdRec) Run() error {
	rec := strings.Join(c.args, " ")
	if c.stdin != nil {
		b, _ := io.ReadAll(c.stdin)
		rec += " <<< " + string(b)
	}
	c.n.mu.Lock()
	c.n.ran = append(c.n.ran, rec)
	c.n.mu.Unlock()
	if c.n.answer != nil && c.stdout != nil {
		_, _ = io.WriteString(c.stdout, c.n.answer(c.args))
	}
	return nil
}
func (c *cmdRec) SetEnv(...string) exec.Cmd      { return c }
func (c *cmdRec) SetStdin(r io.Reader) exec.Cmd  { c.stdin = r; return c }
func (c *cmdRec) SetStdout(w io.Writer) exec.Cmd { c.stdout = w; return c }
func (c *cmdRec) SetStderr(io.Writer) exec.Cmd   { return c }

func nodesOf(ns ...*cmdNode) []nodes.Node {
	out := make([]nodes.Node, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}

func TestCheckNodesNamesTheLimit(t *testing.T) {
	for _, n := range []int{0, -1, MaxNodes + 1, 10} {
		err := CheckNodes(n)
		if err == nil || !strings.Contains(err.Error(), "give 1 to 4") {
			t.Errorf("CheckNodes(%d) = %v, want the limit 1 to 4 named", n, err)
		}
	}
	for n := 1; n <= MaxNodes; n++ {
		if err := CheckNodes(n); err != nil {
			t.Errorf("CheckNodes(%d): %v", n, err)
		}
	}
}

func TestClusterConfigForNNodes(t *testing.T) {
	c := (Options{Offline: true, Nodes: 3, Mirrors: map[string]string{"quay.io": "http://r:5000"}}).clusterConfig()
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha4.Cluster
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	roles := []v1alpha4.NodeRole{}
	for _, n := range back.Nodes {
		roles = append(roles, n.Role)
	}
	if len(roles) != 3 || roles[0] != v1alpha4.ControlPlaneRole || roles[1] != v1alpha4.WorkerRole || roles[2] != v1alpha4.WorkerRole {
		t.Fatalf("nodes %v, want control-plane, worker, worker", roles)
	}
	if back.Networking.PodSubnet != podnet.ClusterCIDR || !back.Networking.DisableDefaultCNI {
		t.Errorf("networking %+v", back.Networking)
	}
	// The mirrors' two patches and the CNI directory's, each applied by kind.
	if p := back.ContainerdConfigPatches; len(p) != 3 || p[0] != podnet.ContainerdPatch {
		t.Errorf("containerdConfigPatches %q", p)
	}
	// One node keeps the image's own bridge config: no patch.
	if p := ClusterConfig(true, 1).ContainerdConfigPatches; len(p) != 0 {
		t.Errorf("single node: patches %q", p)
	}
	// kindnetd (official images) wires several nodes by itself.
	if p := ClusterConfig(false, 3).ContainerdConfigPatches; len(p) != 0 {
		t.Errorf("online, 3 nodes: patches %q", p)
	}
}

func threeFakeNodes() (cp, w1, w2 *cmdNode) {
	cp = &cmdNode{name: "dfe2e-control-plane", role: "control-plane"}
	w1 = &cmdNode{name: "dfe2e-worker", role: "worker"}
	w2 = &cmdNode{name: "dfe2e-worker2", role: "worker"}
	return
}

func TestReuseRefusesAnotherNodeCount(t *testing.T) {
	cp, w1, w2 := threeFakeNodes()
	f := &fakeKind{nodes: map[string]bool{"dfe2e": true}, nodeList: nodesOf(cp, w1, w2)}
	err := NewWithKind(Options{Reuse: true, Nodes: 1}, f).Create(context.Background())
	if err == nil || !strings.Contains(err.Error(), `has 3 nodes, not the 1 asked for`) {
		t.Fatalf("err %v", err)
	}
}

func TestWirePodNetworkWritesEachNodesRangeAndRoutes(t *testing.T) {
	cp, w1, w2 := threeFakeNodes()
	calls := 0
	cp.answer = func(args []string) string {
		a := strings.Join(args, " ")
		switch {
		case strings.Contains(a, "spec.podCIDR"):
			calls++
			if calls == 1 { // a worker not registered yet, the other without a range
				return "dfe2e-control-plane 172.18.0.2 10.244.0.0/24\ndfe2e-worker 172.18.0.3 \n"
			}
			return "dfe2e-control-plane 172.18.0.2 10.244.0.0/24\ndfe2e-worker 172.18.0.3 10.244.2.0/24\ndfe2e-worker2 172.18.0.4 10.244.1.0/24\n"
		case strings.Contains(a, "Ready"):
			return "dfe2e-control-plane=True dfe2e-worker=True dfe2e-worker2=True "
		}
		return ""
	}
	f := &fakeKind{nodes: map[string]bool{"dfe2e": true}, nodeList: nodesOf(cp, w1, w2)}
	c := NewWithKind(Options{Reuse: true, Nodes: 3, Offline: true}, f)
	if err := c.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls < 2 {
		t.Fatalf("the ranges were read %d times: the wait did not wait for every node's range", calls)
	}
	for _, c := range []struct {
		n          *cmdNode
		own, route string
	}{
		{cp, "10.244.0.0/24", "ip route replace 10.244.1.0/24 via 172.18.0.4"},
		{w1, "10.244.2.0/24", "ip route replace 10.244.0.0/24 via 172.18.0.2"},
		{w2, "10.244.1.0/24", "ip route replace 10.244.2.0/24 via 172.18.0.3"},
	} {
		all := strings.Join(c.n.commands(), "\n")
		if !strings.Contains(all, podnet.ConfPath+` <<< `) || !strings.Contains(all, `"subnet": "`+c.own+`"`) {
			t.Errorf("node %s: no CNI config on its range %s:\n%s", c.n.name, c.own, all)
		}
		if !strings.Contains(all, c.route) {
			t.Errorf("node %s: no %q:\n%s", c.n.name, c.route, all)
		}
	}
}

func TestSingleNodeIsNotRewired(t *testing.T) {
	cp := &cmdNode{name: "dfe2e-control-plane", role: "control-plane"}
	f := &fakeKind{nodes: map[string]bool{"dfe2e": true}, nodeList: nodesOf(cp)}
	if err := NewWithKind(Options{Reuse: true, Offline: true}, f).Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := cp.commands(); len(got) != 0 {
		t.Fatalf("single node: commands run %q", got)
	}
}

func TestAllReady(t *testing.T) {
	if allReady("a=True b=False", 2) || allReady("a=True", 2) || allReady("a=True b=", 2) || !allReady("a=True b=True ", 2) {
		t.Fatal("allReady")
	}
}

func TestPVCCheckManifestPinsOneClaimPerNode(t *testing.T) {
	m := PVCCheckManifest("ns1", "busybox:x", []string{"dfe2e-control-plane", "dfe2e-worker", "dfe2e-worker2"})
	docs := strings.Split(m, "\n---\n")
	if len(docs) != 7 {
		t.Fatalf("%d documents, want a namespace and a claim and pod per node:\n%s", len(docs), m)
	}
	for i, node := range []string{"dfe2e-control-plane", "dfe2e-worker", "dfe2e-worker2"} {
		var pod struct {
			Metadata struct{ Name, Namespace string }
			Spec     struct {
				NodeSelector map[string]string `json:"nodeSelector"`
				Volumes      []struct {
					PersistentVolumeClaim struct {
						ClaimName string `json:"claimName"`
					} `json:"persistentVolumeClaim"`
				}
			}
		}
		if err := yaml.Unmarshal([]byte(docs[2+2*i]), &pod); err != nil {
			t.Fatal(err)
		}
		want := claimName(i, 3)
		if pod.Spec.NodeSelector["kubernetes.io/hostname"] != node || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != want || pod.Metadata.Namespace != "ns1" {
			t.Errorf("pod %d: %+v, want on %s using %s", i, pod, node, want)
		}
	}
	if one := PVCCheckManifest("ns1", "busybox:x", []string{"n"}); !strings.Contains(one, "name: data\n") || !strings.Contains(one, "name: writer\n") {
		t.Errorf("single node keeps claim data and pod writer:\n%s", one)
	}
}
