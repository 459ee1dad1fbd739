package nodes

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/podnet"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/operatorpods"
)

// Disruption is what is done to a kind node's container.
type Disruption string

const (
	// Stop shuts the node down (docker stop): its processes end, its
	// address leaves the network.
	Stop Disruption = "stop"
	// Pause freezes every process of the node (docker pause): unreachable,
	// but not gone — it resumes where it was.
	Pause Disruption = "pause"
)

// Monitor is how long the controller-manager waits for a silent node's
// heartbeat before it marks the node NotReady and its pods not Ready
// (node-monitor-grace-period, 50 s by default in Kubernetes 1.34; kind does
// not change it). Until then the Service keeps routing to the pods of a
// dead node: no operator can see the failure earlier through the API.
const Monitor = 50 * time.Second

// FailoverBound is the bound a failover after a node failure is judged
// against: Monitor plus the budget a failover after a pod kill gets
// (FailoverRecovered, which DFE2E_TIMEOUTS may change).
func FailoverBound() time.Duration { return Monitor + wait.Timeout(wait.FailoverRecovered) }

// Disrupt stops or pauses kind node node's container.
func Disrupt(ctx context.Context, node string, d Disruption) error {
	switch d {
	case Stop, Pause:
	default:
		return fmt.Errorf("unknown node disruption %q (want %s or %s)", d, Stop, Pause)
	}
	return docker(ctx, string(d), node)
}

// State is the Docker state of node's container (running, paused, exited).
func State(ctx context.Context, node string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, standin.DockerBinary(), "inspect", "-f", "{{.State.Status}}", node)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker inspect %s: %w: %s", node, err, strings.TrimSpace(out.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Restore brings node back — unpauses or starts its container, whichever it
// needs — re-routes the pod network (a started container has a fresh
// network namespace, maybe a new address) and waits (NodeRestarted) until
// the node is Ready.
func Restore(ctx context.Context, c client.Reader, node string) error {
	st, err := State(ctx, node)
	if err != nil {
		return err
	}
	switch st {
	case "paused":
		err = docker(ctx, "unpause", node)
	case "exited", "created":
		err = docker(ctx, "start", node)
	}
	if err != nil {
		return err
	}
	if err := Rewire(ctx, c, node); err != nil {
		return err
	}
	_, err = wait.For(ctx, "kind node "+node+" to be Ready again after its container was restored", wait.NodeRestarted, func(ctx context.Context) (bool, string, error) {
		return Ready(ctx, c, node)
	})
	return err
}

// Rewire re-applies the per-node pod network (podnet) of a multi-node
// offline cluster, with each node's current container address; a cluster
// whose node has no per-node CNI config (one node, or kindnetd) is left as
// it is.
func Rewire(ctx context.Context, c client.Reader, node string) error {
	if dockerExec(ctx, node, nil, "test", "-f", podnet.ConfPath) != nil {
		return nil
	}
	// The API server may itself be coming back (a restarted control plane).
	var list corev1.NodeList
	if _, err := wait.For(ctx, "the node list, to re-route the pod network after node "+node+" came back", wait.NodeRestarted, func(ctx context.Context) (bool, string, error) {
		if err := c.List(ctx, &list); err != nil {
			return false, err.Error(), nil
		}
		return true, "", nil
	}); err != nil {
		return err
	}
	var ns []podnet.Node
	for _, n := range list.Items {
		ip, err := containerIP(ctx, n.Name)
		if err != nil {
			return err
		}
		ns = append(ns, podnet.Node{Name: n.Name, IP: ip, PodCIDR: n.Spec.PodCIDR})
	}
	return podnet.Apply(ctx, dockerExec, ns, podnet.ClusterCIDR)
}

// containerIP is node's address on kind's network, as Docker assigned it.
func containerIP(ctx context.Context, node string) (string, error) {
	out, err := exec.CommandContext(ctx, standin.DockerBinary(), "inspect", "-f", `{{(index .NetworkSettings.Networks "kind").IPAddress}}`, node).Output()
	if err != nil {
		return "", fmt.Errorf("docker inspect %s: %w", node, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func dockerExec(ctx context.Context, node string, stdin io.Reader, args ...string) error {
	cmd := exec.CommandContext(ctx, standin.DockerBinary(), append([]string{"exec", "-i", node}, args...)...)
	cmd.Stdin = stdin
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker exec %s %s: %w: %s", node, args[0], err, strings.TrimSpace(string(out)))
	}
	return nil
}

func docker(ctx context.Context, verb, node string) error {
	if out, err := exec.CommandContext(ctx, standin.DockerBinary(), verb, node).CombinedOutput(); err != nil {
		return fmt.Errorf("docker %s %s: %w: %s", verb, node, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Count is the number of nodes in the cluster.
func Count(ctx context.Context, c client.Reader) (int, error) {
	var list corev1.NodeList
	if err := c.List(ctx, &list); err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// Evidence is what a failed node-failure spec shows: every node's Ready
// condition, the instance's pods (node, phase, Ready, role label) and the
// tail of the operator's log.
func Evidence(ctx context.Context, c client.Reader, cs kubernetes.Interface, ns string, podLabels map[string]string) string {
	var b strings.Builder
	var list corev1.NodeList
	if err := c.List(ctx, &list); err != nil {
		fmt.Fprintf(&b, "nodes: %v\n", err)
	}
	b.WriteString("nodes:\n")
	for _, n := range list.Items {
		fmt.Fprintf(&b, "  %s\n", NodeLine(n))
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels(podLabels)); err != nil {
		fmt.Fprintf(&b, "pods: %v\n", err)
	}
	b.WriteString("pods:\n")
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "  %s\n", PodLine(p))
	}
	ops, err := operatorpods.List(ctx, c)
	if err != nil {
		fmt.Fprintf(&b, "operator pods: %v\n", err)
	}
	for _, p := range ops {
		fmt.Fprintf(&b, "operator %s, last log lines:\n", PodLine(p))
		raw, err := cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: operator.ManagerContainer, TailLines: ptr.To[int64](40)}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "  (log not readable: %v)\n", err)
			continue
		}
		for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			b.WriteString("  | " + l + "\n")
		}
	}
	return b.String()
}

// NodeLine is a node's Ready condition: status, reason and since when.
func NodeLine(n corev1.Node) string {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return fmt.Sprintf("%s Ready=%s reason=%s since %s", n.Name, c.Status, c.Reason, c.LastTransitionTime.UTC().Format(time.TimeOnly))
		}
	}
	return n.Name + " (no Ready condition)"
}

// PodLine is a pod's node, phase, Ready condition and role label.
func PodLine(p corev1.Pod) string {
	ready := "Ready=?"
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			ready = fmt.Sprintf("Ready=%s since %s", c.Status, c.LastTransitionTime.UTC().Format(time.TimeOnly))
		}
	}
	s := fmt.Sprintf("%s on %s phase=%s %s role=%q", p.Name, orNone(p.Spec.NodeName), p.Status.Phase, ready, p.Labels["role"])
	if p.DeletionTimestamp != nil {
		s += " deleting"
	}
	return s
}

// Spread maps each node to the pods on it, pods sorted.
func Spread(pods []corev1.Pod) map[string][]string {
	out := map[string][]string{}
	for _, p := range pods {
		out[p.Spec.NodeName] = append(out[p.Spec.NodeName], p.Name)
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(no node)"
	}
	return s
}

// RecoveryTime waits until the writer logs an acknowledged write at or after
// kill.At from another address than the failed master's (kill.Addr) and
// returns its time from start (when the node was disrupted: the client's
// outage). It gives up at start+bound with an error naming the last failed
// write: a Service left on the dead pod, or on none.
func RecoveryTime(ctx context.Context, log *failover.Log, start time.Time, kill failover.Kill, bound time.Duration, what string) (time.Duration, error) {
	var rto time.Duration
	_, err := wait.ForDuration(ctx, "a write through the Service to succeed on another pod after "+what, bound-time.Since(start),
		func(context.Context) (bool, string, error) {
			if a, ok := log.FirstAckAfter(kill.At, kill.Addr); ok {
				rto = a.At.Sub(start)
				return true, "", nil
			}
			if f, ok := log.LastFailure(); ok {
				return false, "last write to " + orNone(f.Addr) + ": " + f.Err, nil
			}
			return false, "no write failed yet", nil
		})
	if err != nil && ctx.Err() == nil {
		return 0, fmt.Errorf("no failover within %s of %s: %w", bound, what, err)
	}
	return rto, err
}
