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
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/netpolcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
)

const (
	nodeIP   = "10.250.0.254"
	probeIP  = "10.250.0.1"
	serverIP = "10.250.0.2"
	otherIP  = "10.250.0.3" // a client in another namespace
	// operatorIP is a client labelled as operator v1.6.1 labels its pods.
	operatorIP = "10.250.0.4"
	hostEnd    = "10.251.0.1" // the API server's forwarder, on a veth into the node namespace
	nodeEnd    = "10.251.0.2"
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
	assets := config.FromEnv().KubebuilderAssets
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
	cns, dns := "npc"+sfx, "npd"+sfx
	for _, n := range []string{node, a, b, cns, dns} {
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
		{"ip", "-n", node, "link", "add", "c0", "type", "veth", "peer", "name", "c1", "netns", cns},
		{"ip", "-n", node, "link", "add", "d0", "type", "veth", "peer", "name", "d1", "netns", dns},
		{"ip", "-n", node, "link", "set", "c0", "master", "br0", "up"},
		{"ip", "-n", node, "link", "set", "d0", "master", "br0", "up"},
		{"ip", "-n", cns, "addr", "add", otherIP + "/24", "dev", "c1"},
		{"ip", "-n", cns, "link", "set", "c1", "up"},
		{"ip", "-n", dns, "addr", "add", operatorIP + "/24", "dev", "d1"},
		{"ip", "-n", dns, "link", "set", "d1", "up"},
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
	for _, port := range []string{"6379", "9999"} {
		srv := exec.Command("ip", "netns", "exec", b, "redis-server", "--port", port, "--bind", serverIP, "--protected-mode", "no", "--save", "", "--appendonly", "no")
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	}

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
	for _, ns := range []string{"proof", "elsewhere"} {
		must(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	pods := []struct {
		name, ns, ip string
		labels       map[string]string
	}{
		{"probe", "proof", probeIP, map[string]string{"app": "probe"}},
		{"server", "proof", serverIP, map[string]string{"app": "server"}},
		{"other", "elsewhere", otherIP, map[string]string{"app": "probe"}},
		{"operator", "proof", operatorIP, map[string]string{"control-plane": "controller-manager"}},
	}
	for _, pd := range pods {
		name, ip := pd.name, pd.ip
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: pd.ns, Labels: pd.labels},
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

	pingFrom := func(netns, port string) bool {
		out, _ := exec.Command("ip", "netns", "exec", netns, "timeout", "3", "redis-cli", "-h", serverIP, "-p", port, "PING").CombinedOutput()
		return strings.TrimSpace(string(out)) == "PONG"
	}
	ping := func() bool { return pingFrom(a, "6379") }
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

	// The operator's per-instance policy as the contract has it: kube-router
	// and netpolcheck.Admit must agree on every client and port.
	must(t, c.Create(ctx, contractPolicy()))
	// In effect once the other namespace's client is refused (the first
	// refusal it causes); then every client is judged.
	start = time.Now()
	for pingFrom(cns, "6379") {
		if time.Since(start) > 60*time.Second {
			t.Fatal("the contract policy refused nobody within 60 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, tc := range []struct {
		what, netns string
		peer        netpolcheck.Peer
		port        int32
	}{
		{"same-namespace client on 6379", a, netpolcheck.Peer{Namespace: "proof", Labels: map[string]string{"app": "probe"}}, 6379},
		{"same-namespace client on 9999", a, netpolcheck.Peer{Namespace: "proof", Labels: map[string]string{"app": "probe"}}, 9999},
		{"other-namespace client on 6379", cns, netpolcheck.Peer{Namespace: "elsewhere", Labels: map[string]string{"app": "probe"}}, 6379},
		{"operator-labelled client on 9999", dns, netpolcheck.Peer{Namespace: "proof", Labels: map[string]string{"control-plane": "controller-manager"}}, 9999},
	} {
		adm, err := netpolcheck.Admit([]networkingv1.NetworkPolicy{*contractPolicy()},
			netpolcheck.Target{Namespace: "proof", Pod: "server", Labels: map[string]string{"app": "server"}, Port: tc.port}, tc.peer)
		must(t, err)
		got := pingFrom(tc.netns, fmt.Sprint(tc.port))
		if got != adm.Allowed() {
			t.Errorf("%s: kube-router connected=%v, netpolcheck.Admit allowed=%v (%+v)", tc.what, got, adm.Allowed(), adm)
		} else {
			t.Logf("%s: connected=%v, as netpolcheck.Admit says", tc.what, got)
		}
	}
}

// contractPolicy is shaped as the contract describes operator v1.6.1's
// per-instance policy, for the server pod: 6379 from its namespace, 9999
// from control-plane=controller-manager pods of the operator's namespace
// (here the same one) and from the instance's own pods.
func contractPolicy() *networkingv1.NetworkPolicy {
	data, admin := intstr.FromInt(6379), intstr.FromInt(9999)
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proof", Name: "server"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &data}}, From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &admin}}, From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"control-plane": "controller-manager"}},
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "proof"}}},
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "server"}}},
				}},
			},
		},
	}
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
