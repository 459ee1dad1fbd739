package kindconfig

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	kindexec "sigs.k8s.io/kind/pkg/exec"
	"sigs.k8s.io/yaml"
)

func TestHostsTOML(t *testing.T) {
	got := HostsTOML("docker.dragonflydb.io", "http://dfe2e-registry-dfe2e:5000/")
	want := `server = "https://docker.dragonflydb.io"

[host."http://dfe2e-registry-dfe2e:5000"]
  capabilities = ["pull", "resolve"]
`
	if got != want {
		t.Fatalf("hosts.toml:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(HostsTOML("docker.io", "http://m:5000"), `server = "https://registry-1.docker.io"`) {
		t.Fatal("docker.io must fall back to registry-1.docker.io")
	}
}

func TestHostsFiles(t *testing.T) {
	files, err := HostsFiles(map[string]string{
		"docker.dragonflydb.io": "http://r:5000",
		"quay.io":               "http://r:5000",
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/etc/containerd/certs.d/docker.dragonflydb.io/hosts.toml", "/etc/containerd/certs.d/quay.io/hosts.toml"} {
		if !strings.Contains(files[p], `[host."http://r:5000"]`) {
			t.Errorf("%s: %q", p, files[p])
		}
	}
	for _, bad := range []map[string]string{
		{"../etc": "http://r:5000"},
		{"quay.io/x": "http://r:5000"},
		{"quay.io": "r:5000"},
		{"quay.io": "ftp://r"},
		{"": "http://r:5000"},
	} {
		if _, err := HostsFiles(bad); err == nil {
			t.Errorf("HostsFiles(%v): no error", bad)
		}
	}
}

func TestClusterConfigMirrors(t *testing.T) {
	if c := (Options{Offline: true}).clusterConfig(); len(c.ContainerdConfigPatches) != 0 {
		t.Fatalf("no mirrors, yet patches: %v", c.ContainerdConfigPatches)
	}
	c := (Options{Offline: true, Mirrors: map[string]string{"quay.io": "http://r:5000"}}).clusterConfig()
	if !c.Networking.DisableDefaultCNI {
		t.Fatal("offline config lost disableDefaultCNI")
	}
	// The rendered config is what kind reads: both layouts, each with its version.
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back v1alpha4.Cluster
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.ContainerdConfigPatches) != 2 {
		t.Fatalf("containerdConfigPatches: %q", back.ContainerdConfigPatches)
	}
	v2, v3 := back.ContainerdConfigPatches[0], back.ContainerdConfigPatches[1]
	if !strings.HasPrefix(v2, "version = 2\n") || !strings.Contains(v2, `[plugins."io.containerd.grpc.v1.cri".registry]`) || !strings.Contains(v2, `config_path = "/etc/containerd/certs.d"`) {
		t.Errorf("version 2 patch: %s", v2)
	}
	if !strings.HasPrefix(v3, "version = 3\n") || !strings.Contains(v3, `[plugins."io.containerd.cri.v1.images".registry]`) {
		t.Errorf("version 3 patch: %s", v3)
	}
	if !strings.Contains(string(out), "containerdConfigPatches:") {
		t.Errorf("rendered config lacks containerdConfigPatches:\n%s", out)
	}
}

// fakeNode records the commands run on it and serves a containerd config.
type fakeNode struct {
	config string
	files  map[string]string
	runs   []string
}

func (n *fakeNode) String() string              { return "dfe2e-control-plane" }
func (n *fakeNode) Role() (string, error)       { return "control-plane", nil }
func (n *fakeNode) IP() (string, string, error) { return "", "", nil }
func (n *fakeNode) SerialLogs(io.Writer) error  { return nil }
func (n *fakeNode) Command(c string, a ...string) kindexec.Cmd {
	return &fakeCmd{n: n, args: append([]string{c}, a...)}
}
func (n *fakeNode) CommandContext(_ context.Context, c string, a ...string) kindexec.Cmd {
	return n.Command(c, a...)
}

type fakeCmd struct {
	n     *fakeNode
	args  []string
	stdin io.Reader
	out   io.Writer
}

func (c *fakeCmd) SetEnv(...string) kindexec.Cmd      { return c }
func (c *fakeCmd) SetStdin(r io.Reader) kindexec.Cmd  { c.stdin = r; return c }
func (c *fakeCmd) SetStdout(w io.Writer) kindexec.Cmd { c.out = w; return c }
func (c *fakeCmd) SetStderr(io.Writer) kindexec.Cmd   { return c }
func (c *fakeCmd) Run() error {
	c.n.runs = append(c.n.runs, strings.Join(c.args, " "))
	switch {
	case c.args[0] == "cat" && c.args[1] == "/etc/containerd/config.toml":
		_, err := io.WriteString(c.out, c.n.config)
		return err
	case c.args[0] == "sh" && len(c.args) == 5:
		var b bytes.Buffer
		if _, err := io.Copy(&b, c.stdin); err != nil {
			return err
		}
		c.n.files[c.args[4]] = b.String()
		return nil
	}
	return errors.New("unexpected command " + strings.Join(c.args, " "))
}

func TestWriteMirrors(t *testing.T) {
	n := &fakeNode{files: map[string]string{}, config: "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\"\n"}
	m := map[string]string{"docker.dragonflydb.io": "http://dfe2e-registry-dfe2e:5000", "quay.io": "http://dfe2e-registry-dfe2e:5000"}
	if err := writeMirrors([]nodes.Node{n}, m); err != nil {
		t.Fatal(err)
	}
	if got := n.files["/etc/containerd/certs.d/docker.dragonflydb.io/hosts.toml"]; got != HostsTOML("docker.dragonflydb.io", m["docker.dragonflydb.io"]) {
		t.Errorf("docker.dragonflydb.io hosts.toml: %q", got)
	}
	if len(n.files) != 2 {
		t.Errorf("files written: %v", n.files)
	}

	// A reused cluster whose containerd ignores certs.d: refuse, write nothing.
	old := &fakeNode{files: map[string]string{}, config: "version = 2\n"}
	err := writeMirrors([]nodes.Node{old}, m)
	if err == nil || !strings.Contains(err.Error(), "created without registry mirrors") {
		t.Fatalf("err = %v", err)
	}
	if len(old.files) != 0 {
		t.Errorf("wrote into a node that cannot use it: %v", old.files)
	}
}

// nodeKind is a kind whose cluster exists with one node.
type nodeKind struct {
	fakeKind
	node *fakeNode
}

func (k *nodeKind) ListNodes(string) ([]nodes.Node, error) { return []nodes.Node{k.node}, nil }

// TestReuseWritesMirrors: Create on a reused cluster writes the hosts files.
func TestReuseWritesMirrors(t *testing.T) {
	n := &fakeNode{files: map[string]string{}, config: `config_path = "/etc/containerd/certs.d"`}
	k := &nodeKind{fakeKind: fakeKind{nodes: map[string]bool{"dfe2e": true}}, node: n}
	c := NewWithKind(Options{Reuse: true, Mirrors: map[string]string{"quay.io": "http://r:5000"}}, k)
	if err := c.Create(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.files["/etc/containerd/certs.d/quay.io/hosts.toml"] == "" {
		t.Fatalf("hosts.toml not written: %v", n.runs)
	}
}
