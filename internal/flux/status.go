package flux

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Status is what the suites read from a Flux object (Kustomization or
// GitRepository): its Ready condition and reconcile bookkeeping.
type Status struct {
	Ref                string // Kind namespace/name
	Generation         int64
	ObservedGeneration int64
	Ready              string // "True", "False", "Unknown" or "" (no condition yet)
	// ReadyGeneration is the generation the Ready condition speaks about
	// (its observedGeneration; Flux leaves status.observedGeneration behind
	// when a reconcile fails).
	ReadyGeneration        int64
	Reason, Message        string
	LastHandledReconcileAt string
	LastAppliedRevision    string // Kustomization
	// LastAttemptedRevision is the revision a Kustomization last tried to
	// apply (its Ready condition is about that one).
	LastAttemptedRevision string
	ArtifactRevision      string // GitRepository
	Suspended             bool
}

// ParseStatus reads a Flux object's status.
func ParseStatus(u *unstructured.Unstructured) Status {
	s := Status{Ref: u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName(), Generation: u.GetGeneration()}
	s.ObservedGeneration, _, _ = unstructured.NestedInt64(u.Object, "status", "observedGeneration")
	s.LastHandledReconcileAt, _, _ = unstructured.NestedString(u.Object, "status", "lastHandledReconcileAt")
	s.LastAppliedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAppliedRevision")
	s.LastAttemptedRevision, _, _ = unstructured.NestedString(u.Object, "status", "lastAttemptedRevision")
	s.ArtifactRevision, _, _ = unstructured.NestedString(u.Object, "status", "artifact", "revision")
	s.Suspended, _, _ = unstructured.NestedBool(u.Object, "spec", "suspend")
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		s.Ready, _ = m["status"].(string)
		s.Reason, _ = m["reason"].(string)
		s.Message, _ = m["message"].(string)
		s.ReadyGeneration = s.ObservedGeneration
		switch g := m["observedGeneration"].(type) {
		case int64:
			s.ReadyGeneration = g
		case float64:
			s.ReadyGeneration = int64(g)
		}
	}
	return s
}

// String is a one-line state for wait messages.
func (s Status) String() string {
	if s.Ready == "" {
		return s.Ref + ": no Ready condition yet"
	}
	msg := s.Message
	if len(msg) > 300 {
		msg = msg[:297] + "..."
	}
	return fmt.Sprintf("%s: Ready=%s %s: %s", s.Ref, s.Ready, s.Reason, msg)
}

// Outcome is how a wait for Ready should go on.
type Outcome int

const (
	// Pending: not decided yet (no condition, in progress, waiting on a
	// dependency that exists, or a source that has no artifact yet).
	Pending Outcome = iota
	// Ready: Ready=True for the current generation.
	Ready
	// Failed: Ready=False for a reason that retrying will not fix (missing
	// path, missing dependency, failed health check, build error).
	Failed
)

func (o Outcome) String() string { return [...]string{"pending", "ready", "failed"}[o] }

// transient are Ready=False states that clear by themselves: the controller
// retries them and the cause is expected to go away.
var transient = []struct{ reason, message string }{
	{"Progressing", ""},
	{"ProgressingWithRetry", ""},
	{"DependencyNotReady", "is not ready"},
	{"ArtifactFailed", "Source artifact not found"},
	{"ArtifactFailed", "Source is not ready"},
	{"ReconciliationSucceeded", ""},
}

// Interpret decides a Kustomization's (or source's) outcome from its status.
func Interpret(s Status) Outcome {
	switch s.Ready {
	case "True":
		if s.ObservedGeneration != s.Generation && s.Generation != 0 {
			return Pending
		}
		return Ready
	case "False":
		if s.ReadyGeneration != s.Generation && s.Generation != 0 {
			return Pending // a verdict about an older spec
		}
		for _, t := range transient {
			if s.Reason == t.reason && strings.Contains(s.Message, t.message) {
				return Pending
			}
		}
		return Failed
	}
	return Pending
}

// Verdict explains a Failed status in the terms of the defect behind it.
func Verdict(s Status) string {
	switch {
	case s.Reason == "DependencyNotReady" && strings.Contains(s.Message, "not found"):
		return fmt.Sprintf("%s depends on a Kustomization that does not exist: %s", s.Ref, s.Message)
	case s.Reason == "HealthCheckFailed":
		return fmt.Sprintf("%s failed its health checks when its timeout ended: %s", s.Ref, s.Message)
	case strings.Contains(s.Message, "path not found"):
		return fmt.Sprintf("%s points at a path its source does not have: %s", s.Ref, s.Message)
	}
	return fmt.Sprintf("%s is not Ready (%s): %s", s.Ref, s.Reason, s.Message)
}
