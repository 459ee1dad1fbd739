package nodes

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Schedulable lists, sorted, the nodes a pod without tolerations can be
// placed on: Ready, not cordoned, without a NoSchedule or NoExecute taint
// (with workers kind taints its control plane, which Dragonfly pods do not
// tolerate).
func Schedulable(list []corev1.Node) []string {
	var out []string
next:
	for _, n := range list {
		if n.Spec.Unschedulable {
			continue
		}
		for _, t := range n.Spec.Taints {
			if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
				continue next
			}
		}
		if ok, _ := readyCondition(n); !ok {
			continue
		}
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

func readyCondition(n corev1.Node) (bool, string) {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue, string(c.Status)
		}
	}
	return false, "no Ready condition"
}

// MostPerNode is how many of replicas pods the fullest of nodes holds when
// they are spread as evenly as they can be: one each while there are nodes
// enough, else the ceiling of replicas/nodes.
func MostPerNode(replicas, nodes int) int {
	if nodes < 1 {
		return replicas
	}
	return (replicas + nodes - 1) / nodes
}

// CheckSpread fails when a node holds more of pods than an even spread over
// the schedulable nodes puts on one (MostPerNode), naming the node and its
// pods; a pod not yet placed is an error too. Terminating pods are left out.
func CheckSpread(pods []corev1.Pod, schedulable []string) error {
	var live []corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if p.Spec.NodeName == "" {
			return fmt.Errorf("pod %s is not placed on a node yet", p.Name)
		}
		live = append(live, p)
	}
	most := MostPerNode(len(live), len(schedulable))
	by := Spread(live)
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	var crowded []string
	for _, n := range names {
		if len(by[n]) > most {
			crowded = append(crowded, fmt.Sprintf("node %s holds %d pods (%s)", n, len(by[n]), strings.Join(by[n], ", ")))
		}
	}
	if len(crowded) == 0 {
		return nil
	}
	return fmt.Errorf("%s; spread evenly over the %d schedulable nodes [%s], no node holds more than %d of %d pods: the pods were not spread by node",
		strings.Join(crowded, "; "), len(schedulable), strings.Join(schedulable, " "), most, len(live))
}
