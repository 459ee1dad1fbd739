package flux

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// GroupVersionKinds of the Flux objects this package handles.
var (
	KustomizationGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	GitRepositoryGVK = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
)

// RequestedAtAnnotation asks a Flux controller to reconcile now; it echoes the
// value in status.lastHandledReconcileAt once it has.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// Get reads a Flux object's status.
func Get(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey) (Status, *unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	if err := c.Get(ctx, key, u); err != nil {
		return Status{Ref: gvk.Kind + " " + key.String()}, nil, err
	}
	return ParseStatus(u), u, nil
}

// RequestReconcile sets the requestedAt annotation and returns its token.
func RequestReconcile(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey) (string, error) {
	token := time.Now().UTC().Format(time.RFC3339Nano)
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, RequestedAtAnnotation, token))
	if err := c.Patch(ctx, u, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", fmt.Errorf("requesting reconcile of %s %s: %w", gvk.Kind, key, err)
	}
	return token, nil
}

// WaitHandled waits until the controller has handled token (and finished
// that reconcile: observedGeneration current, Ready not in progress), and
// returns the status it left.
func WaitHandled(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey, token string, timeout wait.Name) (Status, error) {
	var st Status
	_, err := wait.For(ctx, fmt.Sprintf("%s %s to handle reconcile request %s", gvk.Kind, key, token), timeout, func(ctx context.Context) (bool, string, error) {
		var err error
		st, _, err = Get(ctx, c, gvk, key)
		if err != nil {
			return false, err.Error(), nil
		}
		done := st.LastHandledReconcileAt == token && st.ObservedGeneration == st.Generation && st.Reason != "Progressing" && st.Ready != "Unknown"
		return done, st.String(), nil
	})
	return st, err
}

// ReconcileWithSource is `flux reconcile kustomization <name> --with-source`
// in Go: the Kustomization's source is asked to fetch now and waited for,
// then the Kustomization is asked to apply and waited for. It returns the
// Kustomization's status after that reconcile (Ready or not: the caller judges).
func ReconcileWithSource(ctx context.Context, c client.Client, key client.ObjectKey) (Status, error) {
	_, ks, err := Get(ctx, c, KustomizationGVK, key)
	if err != nil {
		return Status{}, fmt.Errorf("reading Kustomization %s: %w", key, err)
	}
	kind, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "kind")
	name, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "name")
	ns, _, _ := unstructured.NestedString(ks.Object, "spec", "sourceRef", "namespace")
	if ns == "" {
		ns = key.Namespace
	}
	if kind != GitRepositoryGVK.Kind {
		return Status{}, fmt.Errorf("Kustomization %s: source kind %q is not supported (GitRepository only)", key, kind)
	}
	srcKey := client.ObjectKey{Namespace: ns, Name: name}
	token, err := RequestReconcile(ctx, c, GitRepositoryGVK, srcKey)
	if err != nil {
		return Status{}, err
	}
	src, err := WaitHandled(ctx, c, GitRepositoryGVK, srcKey, token, wait.SourceReady)
	if err != nil {
		return src, err
	}
	if src.Ready != "True" {
		return src, fmt.Errorf("source %s did not fetch: %s", srcKey, src)
	}
	if token, err = RequestReconcile(ctx, c, KustomizationGVK, key); err != nil {
		return Status{}, err
	}
	return WaitHandled(ctx, c, KustomizationGVK, key, token, wait.KustomizationReady)
}

// WaitReady waits (within timeout) for a Kustomization or source to be Ready,
// ending early when its status shows a failure retrying will not fix, and
// when check (optional) reports one (e.g. an image that cannot be pulled).
func WaitReady(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey, timeout time.Duration, check func(context.Context) error) (Status, time.Duration, error) {
	return waitOutcome(ctx, c, gvk, key, fmt.Sprintf("%s %s to be Ready", gvk.Kind, key), timeout, Interpret, check)
}

// waitOutcome polls the object until outcome says Ready (done) or Failed
// (ends at once with Flux's verdict); check, when set, runs on each poll and
// ends the wait with its error.
func waitOutcome(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, key client.ObjectKey, what string, timeout time.Duration,
	outcome func(Status) Outcome, check func(context.Context) error) (Status, time.Duration, error) {
	var st Status
	took, err := wait.ForDuration(ctx, what, timeout, func(ctx context.Context) (bool, string, error) {
		var err error
		st, _, err = Get(ctx, c, gvk, key)
		if err != nil {
			return false, err.Error(), nil
		}
		switch outcome(st) {
		case Ready:
			return true, st.String(), nil
		case Failed:
			return false, st.String(), fmt.Errorf("%s", Verdict(st))
		}
		if check != nil {
			if err := check(ctx); err != nil {
				return false, st.String(), err
			}
		}
		return false, fmt.Sprintf("%s (applied %s)", st, st.LastAppliedRevision), nil
	})
	return st, took, err
}

// AppliedOutcome interprets a Kustomization's status against the revision
// it must apply: Ready only once it applied that revision and is Ready;
// Failed only when the failure is about that revision (a failure of the
// revision before is what a new commit is there to fix).
func AppliedOutcome(st Status, revision string) Outcome {
	o := Interpret(st)
	switch {
	case o == Ready && st.LastAppliedRevision != revision:
		return Pending
	case o == Failed && st.LastAttemptedRevision != revision:
		return Pending
	}
	return o
}

// requestedOutcome is AppliedOutcome once the controller has handled the
// reconcile request token: until then the status may still be the one left
// by the previous reconcile of the same revision, Ready though objects it
// applied have been deleted since.
func requestedOutcome(st Status, revision, token string) Outcome {
	if token != "" && st.LastHandledReconcileAt != token {
		return Pending
	}
	return AppliedOutcome(st, revision)
}

// WaitApplied requests a reconcile of Kustomization key and waits (within
// timeout) until it applied revision and is Ready; a failure of that
// revision ends the wait at once with Flux's verdict. check, when set, runs
// on each poll and ends the wait with its error (a crash of a workload).
func WaitApplied(ctx context.Context, c client.Client, key client.ObjectKey, revision string, timeout time.Duration, check func(context.Context) error) (Status, time.Duration, error) {
	// One its parent has yet to create reconciles when it is created.
	token, err := RequestReconcile(ctx, c, KustomizationGVK, key)
	if client.IgnoreNotFound(err) != nil {
		return Status{}, 0, err
	}
	return waitOutcome(ctx, c, KustomizationGVK, key, fmt.Sprintf("Kustomization %s to apply %s and be Ready", key, revision), timeout,
		func(st Status) Outcome { return requestedOutcome(st, revision, token) }, check)
}
