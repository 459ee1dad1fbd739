package podwait

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// Workload is the set of pods one object runs.
type Workload struct {
	// Ref names the object, e.g. "Deployment database/x".
	Ref       string
	Namespace string
	Selector  labels.Selector
}

// jobNameLabel is set by the Job controller on a Job's pods (a Job's
// spec.selector is generated, so a manifest rarely holds one).
const jobNameLabel = "batch.kubernetes.io/job-name"

// Workloads lists the pod-running objects among objs with the selector of
// their pods: Deployments, StatefulSets, DaemonSets, ReplicaSets and Jobs by
// spec.selector, Dragonfly instances by the label their operator puts on
// their pods. Other objects run no pods and are left out.
func Workloads(objs []*unstructured.Unstructured) ([]Workload, error) {
	var out []Workload
	for _, o := range objs {
		ref := fmt.Sprintf("%s %s/%s", o.GetKind(), o.GetNamespace(), o.GetName())
		var sel labels.Selector
		switch gk := o.GroupVersionKind().GroupKind(); {
		case gk.Group == "apps" && (gk.Kind == "Deployment" || gk.Kind == "StatefulSet" || gk.Kind == "DaemonSet" || gk.Kind == "ReplicaSet"),
			gk.Group == "batch" && gk.Kind == "Job":
			raw, found, err := unstructured.NestedMap(o.Object, "spec", "selector")
			if err != nil {
				return nil, fmt.Errorf("%s: spec.selector: %w", ref, err)
			}
			if !found {
				if gk.Kind != "Job" {
					return nil, fmt.Errorf("%s has no spec.selector", ref)
				}
				sel = labels.SelectorFromSet(labels.Set{jobNameLabel: o.GetName()})
				break
			}
			var ls metav1.LabelSelector
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
				return nil, fmt.Errorf("%s: spec.selector: %w", ref, err)
			}
			if sel, err = metav1.LabelSelectorAsSelector(&ls); err != nil {
				return nil, fmt.Errorf("%s: spec.selector: %w", ref, err)
			}
		case gk.Group == dfapi.Group && gk.Kind == dfapi.Kind:
			sel = labels.SelectorFromSet(labels.Set{dfapi.AppLabel: o.GetName()})
		default:
			continue
		}
		if sel.Empty() {
			// It would select every pod of the namespace.
			return nil, fmt.Errorf("%s has an empty selector", ref)
		}
		out = append(out, Workload{Ref: ref, Namespace: o.GetNamespace(), Selector: sel})
	}
	return out, nil
}
