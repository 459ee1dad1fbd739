//go:build netpollocal

// An opt-in proof of the enforcer image on this kernel without kind: the
// image's kube-router runs in a network namespace that plays the node (a
// bridge with two "pod" namespaces on it, bridge-nf-call-iptables=1 as the
// DaemonSet's init container sets it), against an envtest API server; a
// default-deny policy must refuse a RESP PING between the pods and its
// removal let it through. Needs root, iproute2, redis-server/redis-cli and
// KUBEBUILDER_ASSETS (make envtest-assets):
//
//	KUBEBUILDER_ASSETS=$(go run ./internal/env/cluster/envtestassets) \
//	  go test -tags netpollocal -run TestEnforcerImageEnforces -v ./internal/env/netpolicy/
package netpolicy

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
)

const (
	nodeIP   = "10.250.0.254"
	probeIP  = "10.250.0.1"
	serverIP = "10.250.0.2"
	hostEnd  = "10.251.0.1" // the API server's forwarder, on a veth into the node namespace
	nodeEnd  = "10.251.0.2"
)

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestEnforcerImageEnforces(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if os.Geteuid() != 0 || assets == "" {
		t.Skip("needs root and KUBEBUILDER_ASSETS")
	}
	ctx := context.Background()
	img, err := images.EnsureEnforcer(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := unpackImage(img.Archive, root); err != nil {
		t.Fatal(err)
	}
	sfx := fmt.Sprint(os.Getpid() % 10000)
	node, a, b, veth := "npnode"+sfx, "npa"+sfx, "npb"+sfx, "nph"+sfx
	for _, n := range []string{node, a, b} {
		run(t, "ip", "netns", "add", n)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", veth).Run() })
	for _, c := range [][]string{
		{"ip", "-n", node, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", node, "link", "add", "a0", "type", "veth", "peer", "name", "a1", "netns", a},
		{"ip", "-n", node, "link", "add", "b0", "type", "veth", "peer", "name", "b1", "netns", b},
		{"ip", "-n", node, "link", "set", "a0", "master", "br0", "up"},
		{"ip", "-n", node, "link", "set", "b0", "master", "br0", "up"},
		{"ip", "-n", node, "addr", "add", nodeIP + "/24", "dev", "br0"},
		{"ip", "-n", node, "link", "set", "br0", "up"},
		{"ip", "-n", node, "link", "set", "lo", "up"},
		{"ip", "-n", a, "addr", "add", probeIP + "/24", "dev", "a1"},
		{"ip", "-n", a, "link", "set", "a1", "up"},
		{"ip", "-n", b, "addr", "add", serverIP + "/24", "dev", "b1"},
		{"ip", "-n", b, "link", "set", "b1", "up"},
		{"ip", "link", "add", veth, "type", "veth", "peer", "name", "npn", "netns", node},
		{"ip", "addr", "add", hostEnd + "/30", "dev", veth},
		{"ip", "link", "set", veth, "up"},
		{"ip", "-n", node, "addr", "add", nodeEnd + "/30", "dev", "npn"},
		{"ip", "-n", node, "link", "set", "npn", "up"},
		// What the DaemonSet's init container does in the node's namespace.
		{"ip", "netns", "exec", node, "sysctl", "-w", "net.bridge.bridge-nf-call-iptables=1"},
	} {
		run(t, c...)
	}
	srv := exec.Command("ip", "netns", "exec", b, "redis-server", "--port", "6379", "--bind", serverIP, "--protected-mode", "no", "--save", "", "--appendonly", "no")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })

	env := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: 2 * time.Minute}
	env.ControlPlane.GetAPIServer().Path = filepath.Join(assets, "kube-apiserver")
	env.ControlPlane.Etcd = &envtest.Etcd{Path: filepath.Join(assets, "etcd")}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Stop() })
	forward(t, hostEnd+":6443", strings.TrimSuffix(strings.TrimPrefix(cfg.Host, "https://"), "/"))
	kc := clientcmdapi.NewConfig()
	kc.Clusters["c"] = &clientcmdapi.Cluster{Server: "https://" + hostEnd + ":6443", InsecureSkipTLSVerify: true}
	kc.AuthInfos["u"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	kc.CurrentContext = "c"
	if err := clientcmd.WriteToFile(*kc, filepath.Join(root, "kubeconfig")); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What kubelet would report: the node and its pods (kube-router
	// enforces for the pods whose hostIP is its node's).
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}, Spec: corev1.NodeSpec{PodCIDR: "10.250.0.0/24"}}
	must(t, c.Create(ctx, n))
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: nodeIP}}
	must(t, c.Status().Update(ctx, n))
	must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "proof"}}))
	for name, ip := range map[string]string{"probe": probeIP, "server": serverIP} {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "proof", Labels: map[string]string{"app": name}},
			Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Image: "none"}}}}
		must(t, c.Create(ctx, p))
		p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}},
			HostIP: nodeIP, HostIPs: []corev1.HostIP{{IP: nodeIP}}}
		must(t, c.Status().Update(ctx, p))
	}

	logPath := filepath.Join(t.TempDir(), "kube-router.log")
	logf, _ := os.Create(logPath)
	args := append([]string{"netns", "exec", node, "chroot", root, images.EnforcerEntrypoint, "--kubeconfig=/kubeconfig"}, Args...)
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$(NODE_NAME)", node)
	}
	kr := exec.Command("ip", args...)
	kr.Stdout, kr.Stderr = logf, logf
	if err := kr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kr.Process.Kill(); kr.Wait() })

	ping := func() bool {
		out, _ := exec.Command("ip", "netns", "exec", a, "timeout", "3", "redis-cli", "-h", serverIP, "PING").CombinedOutput()
		return strings.TrimSpace(string(out)) == "PONG"
	}
	until := func(want bool, what string) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < 60*time.Second {
			if ping() == want {
				return time.Since(start)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%s: not within 60 s; kube-router's log ends:\n%s", what, tailOf(string(b), 30))
		return 0
	}
	until(true, "the probe reaching the server with no policy")
	// kube-router's chains in place: from here a deny must show.
	start := time.Now()
	for !strings.Contains(string(must2(exec.Command("ip", "netns", "exec", node, "chroot", root, "iptables-save").CombinedOutput())), "KUBE-ROUTER-FORWARD") {
		if time.Since(start) > 90*time.Second {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("kube-router set up no chain in 90 s:\n%s", tailOf(string(b), 30))
		}
		time.Sleep(500 * time.Millisecond)
	}
	deny := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "proof", Name: "deny"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	must(t, c.Create(ctx, deny))
	d := until(false, "the default-deny policy refusing the probe")
	if ping() {
		t.Fatal("the probe connected again with the default-deny policy in place")
	}
	must(t, c.Delete(ctx, deny))
	r := until(true, "the probe through again after the policy's removal")
	t.Logf("kube-router %s: refused %s after the default-deny policy, through again %s after its removal", images.KubeRouterVersion, d.Round(time.Millisecond), r.Round(time.Millisecond))
}

// forward relays TCP from listen to target (the API server listens on the
// host's loopback, which the node namespace cannot reach).
func forward(t *testing.T, listen, target string) {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go io.Copy(u, c)
				io.Copy(c, u)
			}()
		}
	}()
}

// unpackImage lays a docker-save archive's layers out under root.
func unpackImage(archive, root string) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	layers := map[string][]byte{}
	var manifest []struct{ Layers []string }
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if h.Name == "manifest.json" {
			if err := json.Unmarshal(b, &manifest); err != nil {
				return err
			}
		}
		layers[h.Name] = b
	}
	if len(manifest) != 1 {
		return fmt.Errorf("%s: want one image", archive)
	}
	for _, l := range manifest[0].Layers {
		lr := tar.NewReader(strings.NewReader(string(layers[l])))
		for {
			h, err := lr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			p := filepath.Join(root, h.Name)
			switch h.Typeflag {
			case tar.TypeDir:
				err = os.MkdirAll(p, 0o755)
			case tar.TypeSymlink:
				os.MkdirAll(filepath.Dir(p), 0o755)
				err = os.Symlink(h.Linkname, p)
			case tar.TypeReg:
				os.MkdirAll(filepath.Dir(p), 0o755)
				var w *os.File
				if w, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777); err == nil {
					_, err = io.Copy(w, lr)
					w.Close()
				}
			}
			if err != nil {
				return err
			}
		}
	}
	// What the container runtime provides.
	for _, d := range []string{"dev", "proc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(root, "dev/null"), nil, 0o666)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func must2(b []byte, _ error) []byte { return b }

func tailOf(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
