package upgradecheck

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/tail"
)

// StartedMarker is what controller-runtime logs once a controller's caches
// synced and its workers run: before it the operator reconciles nothing, and
// with a watch it is forbidden to make, it never comes.
const StartedMarker = "Starting workers"

// OperatorPod is what a hop's judgement knows of one operator pod.
type OperatorPod struct {
	Name string
	// Image is the manager container's image.
	Image           string
	Ready, Deleting bool
	Containers      []Container
	// Log and PreviousLog are the manager's current log and, after a
	// restart, the previous run's (either may be a tail).
	Log, PreviousLog string
}

// Container is one container's restart state.
type Container struct {
	Name     string
	Restarts int32
	// Waiting is the current waiting reason (CrashLoopBackOff, …), if any.
	Waiting string
	// LastReason and LastExit are the last terminated run's.
	LastReason string
	LastExit   int32
}

// OperatorRun is the evidence of one hop's operator: the Deployment and its pods.
type OperatorRun struct {
	// Version is the release the hop installs.
	Version   string
	Available bool
	Pods      []OperatorPod
}

// forbiddenRE matches the API server's RBAC denial as client-go logs it, e.g.
// `configmaps is forbidden: User "…" cannot list resource "configmaps" in API group "" at the cluster scope`.
// In JSON logs the quotes arrive escaped (\"), so both forms match.
var forbiddenRE = regexp.MustCompile(`cannot (\w+) resource \\?"([^"\\]+)\\?"(?: in API group \\?"([^"\\]*)\\?")?( at the cluster scope| in the namespace \\?"[^"\\]*\\?")?`)

// Forbidden lists the denials in a log, once each, as
// `list configmaps at the cluster scope`, sorted.
func Forbidden(log string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range forbiddenRE.FindAllStringSubmatch(log, -1) {
		res := m[2]
		if m[3] != "" {
			res += "." + m[3]
		}
		d := m[1] + " " + res + strings.TrimRight(m[4], " ")
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// firstLineWith returns the first log line containing s (clipped).
func firstLineWith(log, s string) string {
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			return clip(strings.TrimSpace(l), 400)
		}
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// Judge says whether the hop's operator runs: done when exactly one pod is
// left, it runs the hop's version, is Ready with no restart, the Deployment
// is Available and the manager started its controllers. err ends the wait at
// once: a restart or crash loop, or a denied API request — named by resource,
// since a manager that cannot watch what it needs never reconciles, whether
// or not it has crashed yet.
func (r OperatorRun) Judge() (done bool, state string, err error) {
	var current []OperatorPod
	for _, p := range r.Pods {
		if VersionOfImage(p.Image) == r.Version && !p.Deleting {
			current = append(current, p)
		}
	}
	for _, p := range current {
		if err := p.failure(r.Version); err != nil {
			return false, "", err
		}
	}
	switch {
	case len(current) == 0:
		return false, fmt.Sprintf("no operator pod runs %s yet (%s)", r.Version, r.podList()), nil
	case len(r.Pods) > 1:
		return false, fmt.Sprintf("the old operator pods are still there (%s)", r.podList()), nil
	}
	p := current[0]
	switch {
	case !p.Ready:
		return false, "operator pod " + p.Name + " not Ready", nil
	case !r.Available:
		return false, "Deployment not Available", nil
	case !strings.Contains(p.Log, StartedMarker):
		return false, fmt.Sprintf("operator pod %s has not started its controllers (no %q in its log yet)", p.Name, StartedMarker), nil
	}
	return true, fmt.Sprintf("operator %s runs in pod %s: Ready, 0 restarts, controllers started", r.Version, p.Name), nil
}

func (p OperatorPod) failure(version string) error {
	logs := p.Log + "\n" + p.PreviousLog
	var restarted []string
	for _, c := range p.Containers {
		if c.Restarts > 0 || c.Waiting == "CrashLoopBackOff" {
			s := fmt.Sprintf("container %s restarted %d times", c.Name, c.Restarts)
			if c.Waiting != "" {
				s += ", now " + c.Waiting
			}
			if c.LastReason != "" {
				s += fmt.Sprintf(", last run ended %s with exit code %d", c.LastReason, c.LastExit)
			}
			restarted = append(restarted, s)
		}
	}
	if denied := Forbidden(logs); len(denied) > 0 {
		msg := fmt.Sprintf("operator %s in pod %s is forbidden to %s: its RBAC does not grant what this release needs — bump the whole bundle (ClusterRole with the image), not only the image tag",
			version, p.Name, strings.Join(denied, "; "))
		if len(restarted) > 0 {
			msg += "; " + strings.Join(restarted, "; ")
		} else {
			msg += "; it has not crashed yet, but it cannot sync its caches and reconciles nothing"
		}
		return fmt.Errorf("%s; log: %s", msg, firstLineWith(logs, "forbidden"))
	}
	if len(restarted) > 0 {
		log := p.PreviousLog
		if log == "" {
			log = p.Log
		}
		return fmt.Errorf("operator %s in pod %s restarted: %s; manager log tail:\n%s", version, p.Name, strings.Join(restarted, "; "), tail.Lines(log, 15))
	}
	return nil
}

func (r OperatorRun) podList() string {
	if len(r.Pods) == 0 {
		return "no pods"
	}
	var out []string
	for _, p := range r.Pods {
		s := p.Name + " " + p.Image
		if p.Deleting {
			s += " (terminating)"
		}
		out = append(out, s)
	}
	return strings.Join(out, ", ")
}
