// Package rollout judges an operator-driven rolling update of a Dragonfly
// instance from samples of its pods: replaced one at a time, the master
// handed over to an updated replica, the old master deleted last. It reads
// only pod facts (revision label, readiness, role label, deletion), so the
// same judgement serves a live cluster and a unit test.
package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// RevisionLabel is the StatefulSet controller's revision label on a pod.
const RevisionLabel = "controller-revision-hash"

// Pod is what one sample knows of one pod.
type Pod struct {
	Name, UID, Revision, Role string
	Ready, Deleting           bool
}

// Sample is every pod of the instance at one moment.
type Sample struct {
	At   time.Time
	Pods []Pod
}

// Result is the judgement of a rollout.
type Result struct {
	// Takeover is when a pod of the new revision first carried role=master,
	// NewMaster that pod and OldMaster the master before the update.
	Takeover             time.Time
	NewMaster, OldMaster string
	// MostUnavailable is the largest number of pods missing or not Ready in
	// one sample, and When that sample.
	MostUnavailable int
	When            time.Time
	// Violations name each broken rule with the pods and the moment.
	Violations []string
}

// Err is nil when the rollout kept every rule.
func (r Result) Err() error {
	if len(r.Violations) == 0 {
		return nil
	}
	return fmt.Errorf("rolling update: %s", strings.Join(r.Violations, "; "))
}

// Judge checks samples of a rollout from oldRev to newRev of an instance of
// replicas pods:
//   - at most one pod is missing or not Ready at any moment (one at a time);
//   - before the takeover, some Ready replica of the new revision exists
//     (the master is handed to an updated, serving replica);
//   - the old master is the last pod of the old revision to go;
//   - the rollout ends with every pod on the new revision, Ready, one master.
func Judge(samples []Sample, oldRev, newRev string, replicas int) Result {
	var r Result
	if len(samples) == 0 {
		r.Violations = append(r.Violations, "no samples of the rollout")
		return r
	}
	for _, p := range samples[0].Pods {
		if p.Role == "master" {
			r.OldMaster = p.Name
		}
	}
	var oldMasterGone time.Time
	var oldLeftWhenMasterWent []string
	for _, s := range samples {
		serving, notServing := 0, []string{}
		present := map[string]bool{}
		for _, p := range s.Pods {
			present[p.Name] = true
			if p.Ready && !p.Deleting {
				serving++
			} else {
				notServing = append(notServing, p.Name)
			}
		}
		missing := replicas - len(s.Pods)
		if missing < 0 {
			missing = 0
		}
		if un := replicas - serving; un > r.MostUnavailable {
			r.MostUnavailable, r.When = un, s.At
			if un > 1 {
				desc := append([]string{}, notServing...)
				if missing > 0 {
					desc = append(desc, fmt.Sprintf("%d missing", missing))
				}
				r.Violations = append(r.Violations, fmt.Sprintf("at %s %d of %d pods were not serving (%s): the pods were not replaced one at a time",
					s.At.Format("15:04:05.000"), un, replicas, strings.Join(desc, ", ")))
			}
		}
		if r.Takeover.IsZero() {
			for _, p := range s.Pods {
				if p.Role == "master" && p.Revision == newRev && !p.Deleting {
					r.Takeover, r.NewMaster = s.At, p.Name
					if !p.Ready {
						r.Violations = append(r.Violations, fmt.Sprintf("at %s the master role went to %s of the new revision before it was Ready", s.At.Format("15:04:05.000"), p.Name))
					}
				}
			}
		}
		if oldMasterGone.IsZero() && r.OldMaster != "" {
			gone := !present[r.OldMaster]
			for _, p := range s.Pods {
				if p.Name == r.OldMaster && (p.Deleting || p.Revision == newRev) {
					gone = true
				}
			}
			if gone {
				oldMasterGone = s.At
				for _, p := range s.Pods {
					if p.Name != r.OldMaster && p.Revision == oldRev && !p.Deleting {
						oldLeftWhenMasterWent = append(oldLeftWhenMasterWent, p.Name)
					}
				}
			}
		}
	}
	if r.Takeover.IsZero() {
		r.Violations = append(r.Violations, "no pod of the new revision "+newRev+" ever became master")
	}
	if len(oldLeftWhenMasterWent) > 0 {
		sort.Strings(oldLeftWhenMasterWent)
		r.Violations = append(r.Violations, fmt.Sprintf("the old master %s went at %s while replicas of the old revision remained (%s): the master must be replaced last",
			r.OldMaster, oldMasterGone.Format("15:04:05.000"), strings.Join(oldLeftWhenMasterWent, ", ")))
	}
	last := samples[len(samples)-1]
	masters, stale := 0, []string{}
	for _, p := range last.Pods {
		if p.Role == "master" {
			masters++
		}
		if p.Revision != newRev || !p.Ready {
			stale = append(stale, fmt.Sprintf("%s (revision %s, ready %v)", p.Name, p.Revision, p.Ready))
		}
	}
	if len(last.Pods) != replicas || masters != 1 || len(stale) > 0 {
		r.Violations = append(r.Violations, fmt.Sprintf("the rollout did not end with %d Ready pods of revision %s and one master: %d pods, %d masters, not updated or not Ready: %s",
			replicas, newRev, len(last.Pods), masters, strings.Join(stale, ", ")))
	}
	return r
}

// Take reads the instance's pods once.
func Take(ctx context.Context, c client.Client, ns, name string) (Sample, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{dfapi.AppLabel: name}); err != nil {
		return Sample{}, err
	}
	s := Sample{At: time.Now()}
	for i := range pods.Items {
		p := &pods.Items[i]
		s.Pods = append(s.Pods, Pod{Name: p.Name, UID: string(p.UID), Revision: p.Labels[RevisionLabel], Role: p.Labels[dfapi.RoleLabel],
			Ready: instance.PodReady(p), Deleting: p.DeletionTimestamp != nil})
	}
	sort.Slice(s.Pods, func(i, j int) bool { return s.Pods[i].Name < s.Pods[j].Name })
	return s, nil
}
