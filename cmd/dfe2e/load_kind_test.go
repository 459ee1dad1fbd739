//go:build kind

package main

// Real cluster test of the load command's cluster targets:
//   DFE2E_NODE_IMAGE=$(docker images --format '{{.Repository}}:{{.Tag}}' dfe2e.local/kind-node | head -1) \
//     go test -tags kind -run 'TestLoadClusterTargets$' -v ./cmd/dfe2e/
// It creates (and deletes) its own kind cluster "dfe2e-load".

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/kindconfig"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/loadtarget"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/loadgen"
)

const loadKindCluster = "dfe2e-load"

func readRunDir(t *testing.T, dir string) loadgen.Result {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, loadgen.FileResult))
	if err != nil {
		t.Fatal(err)
	}
	var r loadgen.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{loadgen.FileHgrm, loadgen.FileHlog, loadgen.FileSummary} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty in %s: %v", f, dir, err)
		}
	}
	return r
}

func TestLoadClusterTargets(t *testing.T) {
	img := config.FromEnv().NodeImage
	if img == "" {
		t.Skip("blocked: DFE2E_NODE_IMAGE not set — build one with `go run ./cmd/dfe2e cluster images --offline` and pass it")
	}
	ctx := context.Background()
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	start := time.Now()
	// The node count a run without --nodes gets on this host, so the
	// parallel Job's spread is measured where there are nodes to spread on.
	avail, availErr := kindconfig.MemAvailable()
	nodeCount := kindconfig.ChooseNodes(0, avail, availErr)
	t.Logf("nodes: %d (%s)", nodeCount.Nodes, nodeCount.Reason)
	c := kindconfig.New(kindconfig.Options{Name: loadKindCluster, NodeImage: img, Offline: true, Kubeconfig: kc, Logf: t.Logf, Nodes: nodeCount.Nodes})
	if err := c.Create(ctx); err != nil {
		c.Delete()
		t.Fatal(err)
	}
	defer c.Delete()
	t.Logf("cluster ready in %s", time.Since(start).Round(time.Second))

	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs := kubernetes.NewForConfigOrDie(cfg)
	const ns = "database"
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The Job dials the Service by name: CoreDNS must answer first (on a
	// fresh cluster it starts after the node is Ready).
	if _, err := wait.For(ctx, "Deployment kube-system/coredns to be Available", wait.DeploymentAvailable, func(ctx context.Context) (bool, string, error) {
		d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return d.Status.AvailableReplicas > 0 && d.Status.AvailableReplicas == d.Status.Replicas, fmt.Sprintf("%d/%d available", d.Status.AvailableReplicas, d.Status.Replicas), nil
	}); err != nil {
		t.Fatal(err)
	}
	// Pods are admitted only once the namespace's default ServiceAccount exists.
	if _, err := wait.For(ctx, "ServiceAccount "+ns+"/default", wait.ObjectPresent, func(ctx context.Context) (bool, string, error) {
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, "", nil
	}); err != nil {
		t.Fatal(err)
	}
	si, err := images.EnsureStandIn(ctx, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.LoadArchives(si.Archive); err != nil {
		t.Fatal(err)
	}
	// The stand-in's master pod and the Service selecting it: an instance
	// shaped like the operator's (Service <name>:6379 → role=master pod).
	pod, _, svc := standin.FailoverObjects(ns, si.Ref)
	if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := wait.For(ctx, "stand-in pod "+pod.Name+" to be Ready", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error(), nil
		}
		return instance.PodReady(p), string(p.Status.Phase), nil
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("port-forward", func(t *testing.T) {
		out := t.TempDir()
		t0 := time.Now()
		code, _, stderr := runLoadCmd(t, ctx, "--port-forward", ns+"/"+svc.Name, "--kubeconfig", kc,
			"--requests", "3000", "--connections", "4", "--pipeline", "4", "--ratio", "3:1", "--out", out, "--stdout", "none")
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		r := readRunDir(t, out)
		if r.Requests != 3000 || r.Gets != 2250 || r.Sets != 750 || !strings.Contains(r.Target, "port-forward") || !strings.Contains(r.ServerInfo, "redis_version") {
			t.Fatalf("result: %d requests (%d GET, %d SET) target %q server %q; want 3000 (2250/750) through the port-forward to redis-server",
				r.Requests, r.Gets, r.Sets, r.Target, r.ServerInfo)
		}
		t.Logf("port-forward run: %.0f ops/s, p99 %.0fµs, %s in all", r.OpsPerSec, r.Latency.P99, time.Since(t0).Round(100*time.Millisecond))
	})

	jobGone := func(t *testing.T) {
		t.Helper()
		jobs, _ := cs.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
		pods, _ := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: loadtarget.JobNameLabel})
		if len(jobs.Items) != 0 || len(pods.Items) != 0 {
			t.Errorf("left behind: %d Jobs, %d Job pods in %s", len(jobs.Items), len(pods.Items), ns)
		}
	}

	t.Run("job", func(t *testing.T) {
		out := t.TempDir()
		t0 := time.Now()
		code, stdout, stderr := runLoadCmd(t, ctx, "--job", "--namespace", ns, "--instance", svc.Name, "--kind-cluster", loadKindCluster,
			"--kubeconfig", kc, "--requests", "5000", "--connections", "4", "--pipeline", "8", "--out", out)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, stderr)
		}
		r := readRunDir(t, out)
		if r.Requests != 5000 || r.Gets != 2500 || r.Sets != 2500 || !strings.Contains(r.Target, "Job "+ns+"/dfe2e-load-"+svc.Name+" → "+svc.Name+"."+ns+".svc:6379") {
			t.Fatalf("result: %d requests (%d GET, %d SET) target %q; want 5000 (2500/2500) from the Job to %s.%s.svc", r.Requests, r.Gets, r.Sets, r.Target, svc.Name, ns)
		}
		if !strings.Contains(stdout, "5000 requests") {
			t.Errorf("table on stdout:\n%s", stdout)
		}
		jobGone(t)
		t.Logf("job run: %.0f ops/s, p99 %.0fµs, %s in all (image build/load included)\n%s", r.OpsPerSec, r.Latency.P99, time.Since(t0).Round(100*time.Millisecond), stderr)
	})

	// --parallel 3: an Indexed Job of 3 pods behind the start barrier; the
	// merge is exact (sum of the pods = merged histogram = the server's own
	// GET+SET count, checked by the command itself) and nothing is left.
	t.Run("parallel job", func(t *testing.T) {
		out := t.TempDir()
		t0 := time.Now()
		code, stdout, stderr := runLoadCmd(t, ctx, "--job", "--parallel", "3", "--namespace", ns, "--instance", svc.Name, "--kind-cluster", loadKindCluster,
			"--kubeconfig", kc, "--connections", "6", "--pipeline", "4", "--ratio", "3:1", "--prefill", "--keyspace", "3000",
			"--warmup", "1s", "--duration", "5s", "--out", out)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s\n%s", code, stdout, stderr)
		}
		r := readRunDir(t, out)
		p := r.Parallel
		if p == nil || p.Pods != 3 || len(p.Parts) != 3 || p.Server == nil || r.Partial {
			t.Fatalf("parallel %+v partial %v; want 3 pods and the server count", p, r.Partial)
		}
		var sum int64
		pods, nodes := map[string]bool{}, map[string]int{}
		for _, part := range p.Parts {
			sum += part.Requests
			pods[part.Pod] = true
			nodes[part.Node]++
			if part.Failed != "" || part.Connections != 2 || part.Node == "" {
				t.Errorf("part %+v", part)
			}
		}
		// The spread is ScheduleAnyway over kubernetes.io/hostname: the
		// pods share the schedulable nodes there are (a tainted control
		// plane takes none).
		all, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		schedulable := 0
		for _, n := range all.Items {
			if !slices.ContainsFunc(n.Spec.Taints, func(t corev1.Taint) bool { return t.Effect == corev1.TaintEffectNoSchedule }) {
				schedulable++
			}
		}
		if want := min(3, schedulable); len(nodes) != want {
			t.Errorf("pods on %d nodes %v; want them spread over %d of the cluster's %d schedulable nodes", len(nodes), nodes, want, schedulable)
		}
		t.Logf("pods per node (cluster of %d nodes, %d schedulable): %v", len(all.Items), schedulable, nodes)
		if sum != r.Requests || r.Latency.Count != r.Requests || p.Server.Delta() != r.Requests+r.UnmeasuredRequests || len(pods) != 3 {
			t.Fatalf("pods %d, merged %d (histogram %d), server %d for %d sent", sum, r.Requests, r.Latency.Count, p.Server.Delta(), r.Requests+r.UnmeasuredRequests)
		}
		jobGone(t)
		t.Logf("parallel job: pods %d = merged %d = server %d - %d prefill/warmup; %.0f ops/s, p50 %.0fµs p99 %.0fµs; %s in all\n%s\n%s",
			sum, r.Latency.Count, p.Server.Delta(), r.UnmeasuredRequests, r.OpsPerSec, r.Latency.P50, r.Latency.P99,
			time.Since(t0).Round(100*time.Millisecond), stdout, stderr)
	})

	// --find-max --job --parallel 3: each step one run of the Indexed Job,
	// the step's rate split over the pods, the merged histogram judged;
	// every step's count was checked against the server's by the command.
	t.Run("parallel job find-max", func(t *testing.T) {
		out := t.TempDir()
		t0 := time.Now()
		code, stdout, stderr := runLoadCmd(t, ctx, "--job", "--parallel", "3", "--namespace", ns, "--instance", svc.Name, "--kind-cluster", loadKindCluster,
			"--kubeconfig", kc, "--connections", "6", "--ratio", "3:1", "--prefill", "--keyspace", "3000",
			"--find-max", "--slo", "p99<=100ms", "--start-rate", "500", "--step-factor", "2", "--step-duration", "3s", "--step-warmup", "1s",
			"--max-steps", "3", "--out", out)
		if _, err := os.Stat(filepath.Join(out, loadgen.FileResult)); err != nil {
			t.Fatalf("exit %d, no result.json:\n%s\n%s", code, stdout, stderr)
		}
		r := readRunDir(t, out)
		k := r.Knee
		if k == nil || len(k.Steps) == 0 || len(k.Steps) > 3 {
			t.Fatalf("exit %d, knee %+v; want 1-3 judged steps\n%s\n%s", code, k, stdout, stderr)
		}
		if want := map[bool]int{true: exitOK, false: exitFailed}[k.MaxStep > 0]; code != want {
			t.Fatalf("exit %d with knee step %d; want %d\n%s", code, k.MaxStep, want, stderr)
		}
		p := r.Parallel
		if p == nil || p.Pods != 3 || p.Server == nil || r.Partial || p.Server.Delta() != r.Requests+r.UnmeasuredRequests || r.Latency.Count != r.Requests {
			t.Fatalf("parallel %+v partial %v; want the shown step's 3 pods, merged %d = server", p, r.Partial, r.Requests)
		}
		for i := range k.Steps {
			if !strings.Contains(stderr, fmt.Sprintf("step %d: 3 pods measured", i+1)) {
				t.Errorf("step %d's cross-checked count not logged", i+1)
			}
		}
		jobGone(t)
		t.Logf("find-max --job --parallel 3: %d steps, knee step %d (%.0f req/s); %s in all\n%s\n%s",
			len(k.Steps), k.MaxStep, k.MaxRate, time.Since(t0).Round(100*time.Millisecond), stdout, stderr)
	})

	t.Run("job interrupted writes partial results", func(t *testing.T) {
		out := t.TempDir()
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		fwd, err := instance.PortForward(ctx, cfg, cs, ns, pod.Name, 6379)
		if err != nil {
			t.Fatal(err)
		}
		defer fwd.Close()
		rc := redis.NewClient(&redis.Options{Addr: fwd.Addr, Protocol: 2})
		defer rc.Close()
		processed := func(ctx context.Context) int64 {
			info, _ := rc.Info(ctx, "stats").Result()
			for _, l := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(l), "total_commands_processed:"); ok {
					n, _ := strconv.ParseInt(v, 10, 64)
					return n
				}
			}
			return 0
		}
		base := processed(ctx)
		go func() { // Ctrl-C once the Job has sent some 6000 requests (3 s at 2000/s)
			_, _ = wait.For(cctx, "the load Job to send 6000 requests", wait.LoadJobFinished, func(ctx context.Context) (bool, string, error) {
				n := processed(ctx) - base
				return n > 6000, fmt.Sprintf("%d commands", n), nil
			})
			cancel()
		}()
		code, _, stderr := runLoadCmd(t, cctx, "--job", "--namespace", ns, "--instance", svc.Name, "--kind-cluster", loadKindCluster,
			"--kubeconfig", kc, "--duration", "2m", "--connections", "2", "--rate", "2000", "--out", out)
		if code != exitInterrupted {
			t.Fatalf("exit %d; want 130:\n%s", code, stderr)
		}
		r := readRunDir(t, out)
		if !r.Partial || r.Requests == 0 {
			t.Fatalf("result partial=%v requests=%d; want partial results with requests", r.Partial, r.Requests)
		}
		jobGone(t)
		t.Logf("interrupted job: %d requests, partial\n%s", r.Requests, stderr)
	})

	t.Run("job with an image that cannot be pulled is blocked", func(t *testing.T) {
		code, _, stderr := runLoadCmd(t, ctx, "--job", "--namespace", ns, "--instance", svc.Name, "--image", "dfe2e.local/no-such-loadgen:0",
			"--kubeconfig", kc, "--requests", "10", "--out", t.TempDir())
		if code != exitBlocked || !strings.Contains(stderr, "dfe2e.local/no-such-loadgen:0") {
			t.Fatalf("exit %d; want 3 (blocked) naming the image:\n%s", code, stderr)
		}
		jobGone(t)
	})

	t.Run("job against a missing instance fails with the generator's message", func(t *testing.T) {
		code, _, stderr := runLoadCmd(t, ctx, "--job", "--namespace", ns, "--instance", "no-such-instance", "--kind-cluster", loadKindCluster,
			"--kubeconfig", kc, "--requests", "10", "--out", t.TempDir())
		if code != exitBadInput || !strings.Contains(stderr, "no-such-instance") || !strings.Contains(stderr, "unreachable") {
			t.Fatalf("exit %d; want 2 naming the unreachable instance:\n%s", code, stderr)
		}
		jobGone(t)
	})
}
