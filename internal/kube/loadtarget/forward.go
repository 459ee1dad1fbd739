// Package loadtarget runs the load generator against a Kubernetes instance:
// through a port-forward the harness opens on loopback, or as a Job in the
// instance's own namespace (the operator's NetworkPolicy admits 6379 only
// from pods of that namespace).
package loadtarget

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
)

// InputError is a target the caller has to fix (exit 2 in the CLI).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

func inputf(format string, a ...any) error { return &InputError{Err: fmt.Errorf(format, a...)} }

// DefaultPort is the RESP port of Dragonfly (and of the stand-in).
const DefaultPort = 6379

// ForwardSpec is `<namespace>/<service-or-pod>[:port]`; Port 0 means the
// Service's first port (or DefaultPort for a pod).
type ForwardSpec struct {
	Namespace, Name string
	Port            int
}

func (s ForwardSpec) String() string {
	if s.Port == 0 {
		return s.Namespace + "/" + s.Name
	}
	return fmt.Sprintf("%s/%s:%d", s.Namespace, s.Name, s.Port)
}

// ParseForward parses `<namespace>/<service-or-pod>[:port]`.
func ParseForward(v string) (ForwardSpec, error) {
	const form = "give <namespace>/<service-or-pod>[:port], e.g. database/test-cache:6379"
	ns, rest, ok := strings.Cut(v, "/")
	if !ok || ns == "" || rest == "" {
		return ForwardSpec{}, fmt.Errorf("--port-forward %q: %s", v, form)
	}
	s := ForwardSpec{Namespace: ns, Name: rest}
	if name, port, ok := strings.Cut(rest, ":"); ok {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return ForwardSpec{}, fmt.Errorf("--port-forward %q: port %q is not 1..65535; %s", v, port, form)
		}
		s.Name, s.Port = name, p
	}
	if !dnsLabel(s.Namespace) || !dnsLabel(s.Name) {
		return ForwardSpec{}, fmt.Errorf("--port-forward %q: namespace and name must be DNS labels; %s", v, form)
	}
	return s, nil
}

func dnsLabel(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(s)-1
		if !ok {
			return false
		}
	}
	return true
}

// ResolvePod finds the pod and container port behind s: a Service's
// selector picks a Ready pod (the first by name; the operator's Service
// selects only the master), else s names a pod.
func ResolvePod(ctx context.Context, cs kubernetes.Interface, s ForwardSpec) (pod string, port int, err error) {
	svc, err := cs.CoreV1().Services(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		p, perr := cs.CoreV1().Pods(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(perr) {
			return "", 0, inputf("--port-forward %s: there is neither a Service nor a Pod %s in namespace %s; check the name (kubectl -n %s get svc,pods)", s, s.Name, s.Namespace, s.Namespace)
		}
		if perr != nil {
			return "", 0, fmt.Errorf("pod %s/%s: %w", s.Namespace, s.Name, perr)
		}
		if !instance.PodReady(p) {
			return "", 0, inputf("--port-forward %s: pod %s is not Ready (phase %s); wait until it is", s, p.Name, p.Status.Phase)
		}
		port = s.Port
		if port == 0 {
			port = DefaultPort
		}
		return p.Name, port, nil
	case err != nil:
		return "", 0, fmt.Errorf("service %s/%s: %w", s.Namespace, s.Name, err)
	}
	if len(svc.Spec.Selector) == 0 {
		return "", 0, inputf("--port-forward %s: Service %s has no selector, so no pod to forward to; name a pod instead", s, s.Name)
	}
	sp, err := servicePort(svc, s.Port)
	if err != nil {
		return "", 0, &InputError{Err: fmt.Errorf("--port-forward %s: %w", s, err)}
	}
	pods, err := cs.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
	if err != nil {
		return "", 0, fmt.Errorf("pods of Service %s/%s: %w", s.Namespace, s.Name, err)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	var seen []string
	for i := range pods.Items {
		p := &pods.Items[i]
		seen = append(seen, p.Name+" ("+string(p.Status.Phase)+")")
		if p.DeletionTimestamp != nil || !instance.PodReady(p) {
			continue
		}
		tp, err := targetPort(p, sp)
		if err != nil {
			return "", 0, &InputError{Err: fmt.Errorf("--port-forward %s: %w", s, err)}
		}
		return p.Name, tp, nil
	}
	if len(seen) == 0 {
		return "", 0, inputf("--port-forward %s: Service %s selects no pod (selector %s); is the instance running?", s, s.Name, labels.SelectorFromSet(svc.Spec.Selector))
	}
	return "", 0, inputf("--port-forward %s: no Ready pod behind Service %s (%s); wait until the instance is Ready", s, s.Name, strings.Join(seen, ", "))
}

// servicePort is the Service port numbered want (the first port when 0).
func servicePort(svc *corev1.Service, want int) (corev1.ServicePort, error) {
	if len(svc.Spec.Ports) == 0 {
		return corev1.ServicePort{}, fmt.Errorf("service %s has no ports", svc.Name)
	}
	if want == 0 {
		return svc.Spec.Ports[0], nil
	}
	var have []string
	for _, p := range svc.Spec.Ports {
		if int(p.Port) == want {
			return p, nil
		}
		have = append(have, strconv.Itoa(int(p.Port)))
	}
	return corev1.ServicePort{}, fmt.Errorf("service %s has no port %d (ports: %s)", svc.Name, want, strings.Join(have, ", "))
}

// targetPort is the container port of pod p that Service port sp sends to.
func targetPort(p *corev1.Pod, sp corev1.ServicePort) (int, error) {
	tp := sp.TargetPort
	switch {
	case tp.IntValue() > 0:
		return tp.IntValue(), nil
	case tp.StrVal == "":
		return int(sp.Port), nil
	}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal {
				return int(cp.ContainerPort), nil
			}
		}
	}
	return 0, fmt.Errorf("pod %s has no container port named %q (the Service's targetPort)", p.Name, tp.StrVal)
}

// OpenForward resolves s and opens a port-forward to it on 127.0.0.1.
// The caller closes it.
func OpenForward(ctx context.Context, cfg *rest.Config, cs kubernetes.Interface, s ForwardSpec) (*instance.Forward, string, error) {
	pod, port, err := ResolvePod(ctx, cs, s)
	if err != nil {
		return nil, "", err
	}
	f, err := instance.PortForward(ctx, cfg, cs, s.Namespace, pod, port)
	if err != nil {
		return nil, "", err
	}
	return f, fmt.Sprintf("port-forward %s → pod %s/%s:%d (%s)", s, s.Namespace, pod, port, f.Addr), nil
}
