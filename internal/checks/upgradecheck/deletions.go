package upgradecheck

import (
	"fmt"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
)

// Deletions is what the pod samples of one instance show about the pods
// deleted during a hop.
type Deletions struct {
	// Deleted names every pod deleted during the hop, with when it was seen.
	Deleted []string
	// LastReady names the deletions of a pod that was the instance's only
	// Ready pod at that moment: the instance stopped serving because of the
	// operator, not because of a failure.
	LastReady []string
}

// JudgeDeletions reads samples of an instance's pods (in order) taken while a
// hop ran. A pod counts as deleted in the first sample where it is
// terminating or gone (by UID: a StatefulSet re-creates a pod under the same
// name); it was the only Ready pod when, in the sample before, no other pod
// was Ready and not terminating.
func JudgeDeletions(samples []rollout.Sample) Deletions {
	var d Deletions
	for i := 1; i < len(samples); i++ {
		prev, cur := samples[i-1], samples[i]
		now := map[string]rollout.Pod{}
		for _, p := range cur.Pods {
			now[p.UID] = p
		}
		var ready []string
		for _, p := range prev.Pods {
			if p.Ready && !p.Deleting {
				ready = append(ready, p.Name)
			}
		}
		for _, p := range prev.Pods {
			if p.Deleting {
				continue
			}
			if q, ok := now[p.UID]; ok && !q.Deleting {
				continue
			}
			at := cur.At.Format("15:04:05.000")
			d.Deleted = append(d.Deleted, fmt.Sprintf("%s at %s", p.Name, at))
			if p.Ready && len(ready) == 1 {
				d.LastReady = append(d.LastReady, fmt.Sprintf("%s (role %s) at %s", p.Name, orNone(p.Role), at))
			}
		}
	}
	return d
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Err fails a hop that deleted the only Ready pod of an instance with more
// than one replica. With one replica every replacement takes the instance
// down, which a hop cannot avoid; Note says so instead.
func (d Deletions) Err(instance string, replicas int) error {
	if replicas <= 1 || len(d.LastReady) == 0 {
		return nil
	}
	return fmt.Errorf("instance %s (%d replicas): the operator deleted a pod while it was the only Ready one: %s — the instance stopped serving during the upgrade",
		instance, replicas, strings.Join(d.LastReady, ", "))
}

// Note describes the deletions for the report ("" when none).
func (d Deletions) Note(instance string, replicas int) string {
	if len(d.Deleted) == 0 {
		return ""
	}
	s := fmt.Sprintf("%s: pods deleted during the hop: %s", instance, strings.Join(d.Deleted, ", "))
	if replicas <= 1 && len(d.LastReady) > 0 {
		s += " (one replica: its only pod was replaced, so it did not serve for that time)"
	}
	return s
}
