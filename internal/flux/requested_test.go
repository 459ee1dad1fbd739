package flux

import "testing"

// A Kustomization Ready at the served revision from its previous reconcile
// has not re-applied anything yet: deleted objects are still missing until
// the controller handles the request.
func TestWaitAppliedWaitsForItsOwnRequest(t *testing.T) {
	const rev = "main@sha1:abc"
	stale := Status{Generation: 1, ObservedGeneration: 1, ReadyGeneration: 1, Ready: "True", Reason: "ReconciliationSucceeded",
		LastHandledReconcileAt: "t0", LastAppliedRevision: rev, LastAttemptedRevision: rev}
	if got := AppliedOutcome(stale, rev); got != Ready {
		t.Fatalf("precondition: the stale status reads as %v on its own", got)
	}
	if got := requestedOutcome(stale, rev, "t1"); got != Pending {
		t.Fatalf("status left by the reconcile before request t1 (lastHandledReconcileAt t0) judged %v, want Pending: the wait would end before Flux re-applied anything", got)
	}
	handled := stale
	handled.LastHandledReconcileAt = "t1"
	if got := requestedOutcome(handled, rev, "t1"); got != Ready {
		t.Fatalf("status after request t1 was handled judged %v, want Ready", got)
	}
	// A Kustomization its parent has yet to create reconciles on creation: no token to wait for.
	if got := requestedOutcome(stale, rev, ""); got != Ready {
		t.Fatalf("without a request token judged %v, want Ready", got)
	}
}
