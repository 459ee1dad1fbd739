// Package netpolicy installs the NetworkPolicy enforcer of offline kind
// clusters: kube-router's network-policy controller alone (no routing, no
// service proxy) as a DaemonSet in kube-system. Their bridge CNI enforces no
// NetworkPolicy; online clusters use kind's own kindnetd, which does
// (kind ≥ v0.24), and need nothing from here.
package netpolicy

import (
	"context"
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

const (
	Namespace = "kube-system"
	// Name is the DaemonSet, its ServiceAccount and RBAC objects.
	Name = "dfe2e-netpol-enforcer"
	// HealthPort is kube-router's /healthz (host network: the node's port).
	HealthPort = 20244
)

// Args run the network-policy controller alone. kind's kube-proxy keeps the
// services and the bridge CNI the pod network.
var Args = []string{"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
	"--hostname-override=$(NODE_NAME)", "--health-port=20244", "--metrics-port=0"}

// bridgeSysctl is why the init container exists: pods on one node talk over
// the CNI bridge, and bridged frames reach iptables (where kube-router's
// FORWARD rules are) only with br_netfilter's bridge-nf-call-iptables=1 in
// the node's network namespace. It is per namespace; the node is a
// container, so the host's value says nothing about it.
const bridgeSysctl = "net.bridge.bridge-nf-call-iptables"

// Objects are the enforcer's ServiceAccount, ClusterRole, binding and
// DaemonSet running image.
func Objects(image string) []client.Object {
	labels := map[string]string{"app.kubernetes.io/name": Name}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: labels}}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Labels: labels},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"namespaces", "pods", "services", "nodes", "endpoints"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Labels: labels},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: Name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: Name, Namespace: Namespace}},
	}
	yes := true
	hostPathFile := corev1.HostPathFileOrCreate
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: Name, Namespace: Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: Name,
					HostNetwork:        true,
					PriorityClassName:  "system-node-critical",
					Tolerations:        []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					InitContainers: []corev1.Container{{
						Name: "bridge-nf-call-iptables", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Command:         []string{"/bin/sysctl", "-w", bridgeSysctl + "=1"},
						SecurityContext: &corev1.SecurityContext{Privileged: &yes},
					}},
					Containers: []corev1.Container{{
						Name: "kube-router", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
						Args: Args,
						Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
							FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
						SecurityContext: &corev1.SecurityContext{Privileged: &yes},
						ReadinessProbe: &corev1.Probe{
							ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt(HealthPort)}},
							PeriodSeconds: 3, FailureThreshold: 3,
						},
						VolumeMounts: []corev1.VolumeMount{{Name: "xtables-lock", MountPath: "/run/xtables.lock"}},
					}},
					// The node's iptables lock: kube-proxy and kube-router take turns.
					Volumes: []corev1.Volume{{Name: "xtables-lock", VolumeSource: corev1.VolumeSource{
						HostPath: &corev1.HostPathVolumeSource{Path: "/run/xtables.lock", Type: &hostPathFile}}}},
				},
			},
		},
	}
	return []client.Object{sa, role, binding, ds}
}

// Logf reports progress.
type Logf func(format string, args ...any)

// Install creates or replaces the enforcer's objects through the cluster
// of kubeconfig and waits until its pod is Ready on every node.
func Install(ctx context.Context, kubeconfig, image string, logf Logf) (string, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return "", fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return "", err
	}
	return InstallWith(ctx, c, image, logf)
}

// InstallWith is Install on a client.
func InstallWith(ctx context.Context, c client.Client, image string, logf Logf) (string, error) {
	for _, o := range Objects(image) {
		if err := c.Create(ctx, o); apierrors.IsAlreadyExists(err) {
			// A reused cluster: replace the spec (a new image tag rolls the pods).
			cur := o.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
				return "", err
			}
			o.SetResourceVersion(cur.GetResourceVersion())
			if err := c.Update(ctx, o); err != nil {
				return "", fmt.Errorf("updating %T %s: %w", o, o.GetName(), err)
			}
		} else if err != nil {
			return "", fmt.Errorf("creating %T %s: %w", o, o.GetName(), err)
		}
	}
	what := "DaemonSet " + Namespace + "/" + Name + " (kube-router network-policy controller) to be Ready on every node"
	took, err := wait.For(ctx, what, wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		var ds appsv1.DaemonSet
		if err := c.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: Name}, &ds); err != nil {
			return false, err.Error(), nil
		}
		ok, state := Rolled(&ds)
		if !ok {
			state += podStates(ctx, c)
		}
		return ok, state, nil
	})
	if err != nil {
		return "", err
	}
	if logf != nil {
		logf("NetworkPolicy enforcer %s Ready in %s", image, took.Round(100_000_000))
	}
	return fmt.Sprintf("kube-router %s, Ready in %s", image, took.Round(100_000_000)), nil
}

// Rolled says whether the DaemonSet's current spec runs Ready on every
// node it schedules to, or what it is at.
func Rolled(ds *appsv1.DaemonSet) (bool, string) {
	s := ds.Status
	switch {
	case s.ObservedGeneration < ds.Generation:
		return false, fmt.Sprintf("generation %d not yet observed", ds.Generation)
	case s.DesiredNumberScheduled == 0:
		return false, "scheduled on no node"
	case s.UpdatedNumberScheduled < s.DesiredNumberScheduled:
		return false, fmt.Sprintf("%d of %d pods updated", s.UpdatedNumberScheduled, s.DesiredNumberScheduled)
	case s.NumberReady < s.DesiredNumberScheduled:
		return false, fmt.Sprintf("%d of %d pods Ready", s.NumberReady, s.DesiredNumberScheduled)
	}
	return true, fmt.Sprintf("%d of %d pods Ready", s.NumberReady, s.DesiredNumberScheduled)
}

// podStates names each enforcer pod's waiting or failing container, for
// the timeout message.
func podStates(ctx context.Context, c client.Client) string {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(Namespace), client.MatchingLabels{"app.kubernetes.io/name": Name}); err != nil {
		return ""
	}
	var out []string
	for _, p := range pods.Items {
		for _, cs := range append(p.Status.InitContainerStatuses, p.Status.ContainerStatuses...) {
			switch {
			case cs.State.Waiting != nil:
				out = append(out, fmt.Sprintf("%s/%s waiting: %s %s", p.Name, cs.Name, cs.State.Waiting.Reason, cs.State.Waiting.Message))
			case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
				out = append(out, fmt.Sprintf("%s/%s exited %d: %s", p.Name, cs.Name, cs.State.Terminated.ExitCode, cs.State.Terminated.Message))
			case cs.LastTerminationState.Terminated != nil:
				out = append(out, fmt.Sprintf("%s/%s restarted %d times, last exit %d", p.Name, cs.Name, cs.RestartCount, cs.LastTerminationState.Terminated.ExitCode))
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return ""
	}
	return "; " + strings.Join(out, "; ")
}
