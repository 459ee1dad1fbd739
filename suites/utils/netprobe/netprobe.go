// Package netprobe is the network suite's client and server pods: the
// redis stand-in image (redis-cli, redis-server, busybox), so that a
// connection is tried as a RESP PING and "connected" means the server
// answered, not only that a SYN went through.
package netprobe

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/netpolcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

const container = "probe"

// TryTimeout bounds one connection attempt (busybox timeout around
// redis-cli, which has no connect timeout of its own in Debian 12's 7.0):
// a policy that drops rather than rejects is a refusal after this.
const TryTimeout = 3

// Image puts the stand-in image on the nodes; blocked is a
// verdict.BlockedMessage when it cannot be.
func Image(ctx context.Context, env *targets.Env) (ref, blocked string, err error) {
	img, err := images.EnsureStandIn(ctx, func(f string, a ...any) { env.Logf(f+"\n", a...) })
	if err != nil {
		return "", "", fmt.Errorf("building the stand-in image for the probe pods: %w", err)
	}
	blocked, err = nodes.EnsureImage(ctx, env.Client, env.Provider, img.Ref, img.Archive, env.Logf)
	return img.Ref, blocked, err
}

// Pod is a probe pod.
type Pod struct {
	*corev1.Pod
	env *targets.Env
}

// ClientPod is a client that only sleeps until connections are tried from it.
func ClientPod(ns, name, image string, labels map[string]string) *corev1.Pod {
	return pod(ns, name, image, labels, []string{"/bin/busybox", "sleep", "3600"}, nil)
}

// ServerPod serves RESP on port (redis-server, no persistence).
func ServerPod(ns, name, image string, labels map[string]string, port int) *corev1.Pod {
	p := strconv.Itoa(port)
	return pod(ns, name, image, labels, []string{"/usr/bin/redis-server", "--port", p, "--protected-mode", "no", "--save", "", "--appendonly", "no"},
		&corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"/usr/bin/redis-cli", "-p", p, "ping"}}}, PeriodSeconds: 1})
}

func pod(ns, name, image string, labels map[string]string, cmd []string, ready *corev1.Probe) *corev1.Pod {
	zero := int64(0)
	l := map[string]string{}
	for k, v := range labels {
		l[k] = v
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: l},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &zero,
			RestartPolicy:                 corev1.RestartPolicyNever,
			Containers: []corev1.Container{{Name: container, Image: image, ImagePullPolicy: corev1.PullNever,
				Command: cmd, ReadinessProbe: ready}},
		},
	}
}

// Start creates p (replacing a leftover of an interrupted run) and waits
// until it is Ready with an IP. The caller deletes it (Delete), also after
// an error.
func Start(ctx context.Context, env *targets.Env, p *corev1.Pod) (*Pod, error) {
	objects.DeleteAndForget(ctx, env.Client, p.DeepCopy())
	if err := env.Client.Create(ctx, p); err != nil {
		return nil, fmt.Errorf("creating probe pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	_, err := wait.For(ctx, "probe pod "+p.Namespace+"/"+p.Name+" to be Ready", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return false, err.Error(), nil
		}
		return instance.PodReady(p) && p.Status.PodIP != "", string(p.Status.Phase), nil
	})
	return &Pod{Pod: p, env: env}, err
}

// Delete removes the pod and waits until it is gone.
func (p *Pod) Delete(ctx context.Context) {
	if p != nil && p.Pod != nil {
		objects.DeleteAndForget(ctx, p.env.Client, p.Pod)
	}
}

// Name is namespace/pod.
func (p *Pod) Name() string { return p.Namespace + "/" + p.Pod.Name }

// Try connects from p to ip:port and sends PING. A connection that does not
// answer PONG is a refusal, with redis-cli's words; only a failure to run
// the probe at all is an error.
func (p *Pod) Try(ctx context.Context, ip string, port int) (connected bool, detail string, err error) {
	out, err := instance.Exec(ctx, p.env.Config, p.env.Clientset, p.Namespace, p.Pod.Name, container,
		"/bin/busybox", "timeout", strconv.Itoa(TryTimeout), "/usr/bin/redis-cli", "-h", ip, "-p", strconv.Itoa(port), "PING")
	if err != nil {
		if !strings.Contains(err.Error(), "exit code") {
			return false, "", err
		}
		return false, Detail(out, err), nil
	}
	if strings.TrimSpace(out) != "PONG" {
		return false, "answered " + strings.TrimSpace(out), nil
	}
	return true, "", nil
}

// Detail is what a failed attempt said: redis-cli's message, or that the
// attempt ran out of time (a dropped connection).
func Detail(out string, err error) string {
	msg := strings.TrimSpace(out + " " + err.Error())
	switch {
	case strings.Contains(msg, "Connection refused"):
		return "connection refused (rejected)"
	case strings.Contains(msg, "exit code 143"), strings.Contains(msg, "exit code 124"):
		return fmt.Sprintf("no answer within %d s (dropped)", TryTimeout)
	}
	if i := strings.Index(msg, "Could not connect"); i >= 0 {
		return msg[i:]
	}
	return msg
}

// Probe is Try as the check reads it.
func (p *Pod) Probe(ctx context.Context, tg netpolcheck.Target, ip string) (netpolcheck.Probe, error) {
	ok, detail, err := p.Try(ctx, ip, int(tg.Port))
	return netpolcheck.Probe{Client: p.Name(), Target: tg, Connected: ok, Detail: detail}, err
}

// Peer is the pod as a policy sees it (nsLabels: its namespace's labels).
func (p *Pod) Peer(nsLabels map[string]string) netpolcheck.Peer {
	return netpolcheck.Peer{Namespace: p.Namespace, Labels: p.Labels, NamespaceLabels: nsLabels}
}
