// Package instance finds a Dragonfly instance's master and replicas the way
// the operator marks them — the role label on each pod and the Dragonfly's
// status.phase — never by pod ordinal: after a failover pod-0 is often a
// replica, and a suite that assumed otherwise would test the wrong pod.
package instance

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// Roles is what Discover found.
type Roles struct {
	Phase    string // status.phase ("" until the operator wrote one)
	Replicas int64  // spec.replicas (master included)
	Master   *corev1.Pod
	// Others are pods labelled role=replica, sorted by name (for stable output).
	Others []corev1.Pod
	// Unlabelled are the instance's pods without a role yet.
	Unlabelled []string
}

// Ready reports whether the operator says Ready and every pod it counts is
// Ready with a role. Older operators wrote the phase in lower case.
func (r Roles) Ready() (bool, string) {
	if !strings.EqualFold(r.Phase, "Ready") {
		return false, fmt.Sprintf("phase %q", r.Phase)
	}
	if r.Master == nil {
		return false, "no pod labelled role=master"
	}
	if !PodReady(r.Master) {
		return false, "master " + r.Master.Name + " not Ready"
	}
	ready := 0
	for i := range r.Others {
		if PodReady(&r.Others[i]) {
			ready++
		}
	}
	if want := int(r.Replicas) - 1; ready != want {
		return false, fmt.Sprintf("%d of %d replicas Ready", ready, want)
	}
	return true, "Ready, master " + r.Master.Name
}

// Discover reads the Dragonfly ns/name and its pods' role labels. More than
// one pod labelled master is an error (a split brain the suites must see).
func Discover(ctx context.Context, c client.Client, ns, name string) (Roles, error) {
	var r Roles
	df := &unstructured.Unstructured{}
	df.SetGroupVersionKind(dfapi.GVK)
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, df); err != nil {
		return r, fmt.Errorf("Dragonfly %s/%s: %w", ns, name, err)
	}
	r.Phase, _, _ = unstructured.NestedString(df.Object, "status", "phase")
	r.Replicas, _, _ = unstructured.NestedInt64(df.Object, "spec", "replicas")
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{dfapi.AppLabel: name}); err != nil {
		return r, fmt.Errorf("pods of Dragonfly %s/%s: %w", ns, name, err)
	}
	var masters []string
	for i := range pods.Items {
		p := pods.Items[i]
		if p.DeletionTimestamp != nil {
			continue // a pod on its way out is nobody's master
		}
		switch p.Labels[dfapi.RoleLabel] {
		case dfapi.RoleMaster:
			masters = append(masters, p.Name)
			r.Master = &p
		case dfapi.RoleReplica:
			r.Others = append(r.Others, p)
		default:
			r.Unlabelled = append(r.Unlabelled, p.Name)
		}
	}
	sort.Slice(r.Others, func(i, j int) bool { return r.Others[i].Name < r.Others[j].Name })
	if len(masters) > 1 {
		sort.Strings(masters)
		return r, fmt.Errorf("Dragonfly %s/%s has %d pods labelled %s=%s (%s): more than one master", ns, name, len(masters), dfapi.RoleLabel, dfapi.RoleMaster, strings.Join(masters, ", "))
	}
	return r, nil
}

// WaitReady waits (DragonflyReady) until Discover reports Ready and returns
// the roles and how long it took.
func WaitReady(ctx context.Context, c client.Client, ns, name string) (Roles, error) {
	var r Roles
	_, err := wait.For(ctx, "Dragonfly "+ns+"/"+name+" to be Ready with a master and all replicas Ready", wait.DragonflyReady,
		func(ctx context.Context) (bool, string, error) {
			var err error
			r, err = Discover(ctx, c, ns, name)
			if err != nil {
				// Two masters may be a moment of a failover: keep polling.
				return false, err.Error(), nil
			}
			ok, state := r.Ready()
			return ok, state, nil
		})
	return r, err
}

// PodReady is the pod's Ready condition.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ServiceTargets returns the pod names behind the Service ns/name (from its
// EndpointSlices), sorted.
func ServiceTargets(ctx context.Context, c client.Client, ns, name string) ([]string, error) {
	var slices discoveryv1.EndpointSliceList
	if err := c.List(ctx, &slices, client.InNamespace(ns), client.MatchingLabels{"kubernetes.io/service-name": name}); err != nil {
		return nil, fmt.Errorf("EndpointSlices of Service %s/%s: %w", ns, name, err)
	}
	var out []string
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.TargetRef != nil && e.TargetRef.Kind == "Pod" && (e.Conditions.Ready == nil || *e.Conditions.Ready) {
				out = append(out, e.TargetRef.Name)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
