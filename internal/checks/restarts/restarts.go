// Package restarts is the suite-wide invariant that the operator did not
// restart during a spec (as CloudNativePG's e2e suite checks its operator):
// a snapshot of the operator pods before the spec, one after, and a verdict.
// A container restart or a replaced pod both count.
package restarts

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Snapshot maps pod UID to the pod's name and container restart counts.
type Snapshot map[string]Pod

// Pod is one operator pod as seen at snapshot time.
type Pod struct {
	Name     string
	Restarts map[string]int32 // container → restartCount
}

// Take records pods (normally those selected by control-plane=controller-manager).
func Take(pods []corev1.Pod) Snapshot {
	s := Snapshot{}
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		rs := map[string]int32{}
		for _, c := range p.Status.ContainerStatuses {
			rs[c.Name] = c.RestartCount
		}
		s[string(p.UID)] = Pod{Name: p.Namespace + "/" + p.Name, Restarts: rs}
	}
	return s
}

// Check returns an error naming every operator restart between before and
// after: a container whose restart count rose, or a pod that was running
// before and is gone (replaced) after. New pods alone (a first start) are
// not restarts.
func Check(before, after Snapshot) error {
	var problems []string
	for uid, b := range before {
		a, ok := after[uid]
		if !ok {
			problems = append(problems, fmt.Sprintf("pod %s was replaced", b.Name))
			continue
		}
		for c, n := range a.Restarts {
			if n > b.Restarts[c] {
				problems = append(problems, fmt.Sprintf("container %s of pod %s restarted %d time(s) (restartCount %d → %d)", c, a.Name, n-b.Restarts[c], b.Restarts[c], n))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return fmt.Errorf("the operator restarted during this spec: %s (label the spec disruptive if that is intended)", strings.Join(problems, "; "))
}
