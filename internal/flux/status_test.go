package flux

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func ks(gen, observed int64, ready, reason, message string) *unstructured.Unstructured {
	return ksGen(gen, observed, observed, ready, reason, message)
}

// ksGen also sets the Ready condition's observedGeneration.
func ksGen(gen, observed, readyGen int64, ready, reason, message string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "dragonfly-operator", "namespace": "flux-system", "generation": gen},
		"status": map[string]any{"observedGeneration": observed, "lastHandledReconcileAt": "t1",
			"lastAppliedRevision": "main@sha1:abc"},
	}}
	if ready != "" {
		_ = unstructured.SetNestedSlice(u.Object, []any{
			map[string]any{"type": "Reconciling", "status": "True"},
			map[string]any{"type": "Ready", "status": ready, "reason": reason, "message": message, "observedGeneration": readyGen},
		}, "status", "conditions")
	}
	return u
}

func TestInterpret(t *testing.T) {
	for _, c := range []struct {
		name                   string
		gen, observed          int64
		ready, reason, message string
		want                   Outcome
		verdictMustName        string
	}{
		{"ready", 2, 2, "True", "ReconciliationSucceeded", "Applied revision: main@sha1:abc", Ready, ""},
		{"ready but old generation", 3, 2, "True", "ReconciliationSucceeded", "", Pending, ""},
		{"no condition", 1, 0, "", "", "", Pending, ""},
		{"in progress", 1, 1, "Unknown", "Progressing", "Reconciliation in progress", Pending, ""},
		{"dependency not ready yet", 1, 1, "False", "DependencyNotReady", "dependency 'flux-system/dragonfly-operator' is not ready", Pending, ""},
		{"source without artifact yet", 1, 1, "False", "ArtifactFailed", "Source artifact not found, retrying in 30s", Pending, ""},
		{"dependency missing", 1, 1, "False", "DependencyNotReady", "unable to get 'flux-system/no-such-ks' dependency: Kustomization.kustomize.toolkit.fluxcd.io \"no-such-ks\" not found", Failed, "does not exist"},
		{"health check failed", 1, 1, "False", "HealthCheckFailed", "health check failed after 20s: timeout waiting for: [Deployment/dfe2e-selftest/no-such-deployment status: 'NotFound']", Failed, "no-such-deployment"},
		{"wrong path", 1, 1, "False", "ArtifactFailed", "kustomization path not found: stat /tmp/kustomization-1/no/such/path: no such file or directory", Failed, "path its source does not have"},
		{"build failed", 1, 1, "False", "BuildFailed", "kustomize build failed: accumulating resources", Failed, "BuildFailed"},
	} {
		st := ParseStatus(ks(c.gen, c.observed, c.ready, c.reason, c.message))
		if got := Interpret(st); got != c.want {
			t.Errorf("%s: Interpret = %s, want %s (%s)", c.name, got, c.want, st)
		}
		if c.verdictMustName != "" {
			v := Verdict(st)
			if !strings.Contains(v, c.verdictMustName) || !strings.Contains(v, "flux-system/dragonfly-operator") {
				t.Errorf("%s: verdict %q does not name %q and the Kustomization", c.name, v, c.verdictMustName)
			}
		}
	}
}

func TestParseStatus(t *testing.T) {
	st := ParseStatus(ks(4, 4, "True", "ReconciliationSucceeded", "ok"))
	if st.Ref != "Kustomization flux-system/dragonfly-operator" || st.LastHandledReconcileAt != "t1" ||
		st.LastAppliedRevision != "main@sha1:abc" || st.Generation != 4 || st.ObservedGeneration != 4 || st.Ready != "True" {
		t.Fatalf("parsed %+v", st)
	}
}

// Flux keeps status.observedGeneration at the last success when a reconcile
// fails; the failure still speaks about the current generation through the
// Ready condition's own observedGeneration.
func TestFailureOfCurrentGenerationWithStaleObservedGeneration(t *testing.T) {
	st := ParseStatus(ksGen(1, -1, 1, "False", "ReconciliationFailed", "ConfigMap/x/y not found"))
	if got := Interpret(st); got != Failed {
		t.Fatalf("Interpret = %s, want failed (%+v)", got, st)
	}
	st = ParseStatus(ksGen(2, 1, 1, "False", "ReconciliationFailed", "old failure"))
	if got := Interpret(st); got != Pending {
		t.Fatalf("failure of an older generation: Interpret = %s, want pending", got)
	}
}

func TestAppliedOutcomeWaitsForTheRevision(t *testing.T) {
	ready := Status{Generation: 1, ObservedGeneration: 1, ReadyGeneration: 1, Ready: "True", LastAppliedRevision: "main@sha1:old", LastAttemptedRevision: "main@sha1:old"}
	if got := AppliedOutcome(ready, "main@sha1:new"); got != Pending {
		t.Fatalf("Ready at the old revision: %s, want pending", got)
	}
	ready.LastAppliedRevision, ready.LastAttemptedRevision = "main@sha1:new", "main@sha1:new"
	if got := AppliedOutcome(ready, "main@sha1:new"); got != Ready {
		t.Fatalf("Ready at the new revision: %s", got)
	}
	failed := Status{Generation: 1, ObservedGeneration: 1, ReadyGeneration: 1, Ready: "False", Reason: "HealthCheckFailed",
		LastAppliedRevision: "main@sha1:old", LastAttemptedRevision: "main@sha1:old"}
	if got := AppliedOutcome(failed, "main@sha1:new"); got != Pending {
		t.Fatalf("a failure of the old revision: %s, want pending (the new commit may fix it)", got)
	}
	failed.LastAttemptedRevision = "main@sha1:new"
	if got := AppliedOutcome(failed, "main@sha1:new"); got != Failed {
		t.Fatalf("a failure of the new revision: %s, want failed", got)
	}
}
