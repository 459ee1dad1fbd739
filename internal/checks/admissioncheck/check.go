package admissioncheck

import (
	"context"
	"fmt"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

// Check ids.
const (
	CheckOutcome          = "admission.outcome"
	CheckNotValidated     = "admission.not-validated"
	CheckWebhookAbsent    = "admission.no-webhook"
	CheckWebhookNamespace = "admission.webhook-service-in-operator-namespace"
	CheckWebhookAnswers   = "admission.webhook-answers"
)

// Result is what admission did with one case.
type Result struct {
	Case     Case
	Accepted bool
	// Message is the rejection message ("" when accepted).
	Message string
}

// Object builds the Dragonfly of a case.
func Object(gvk schema.GroupVersionKind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": runtime.DeepCopyJSONValue(spec)}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(name)
	return u
}

// Try creates the case's object as a server-side dry run with strict field
// validation (nothing is stored) and records what admission did.
func Try(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, namespace string, k Case) (Result, error) {
	u := Object(gvk, namespace, "admission-probe", k.Spec)
	err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))
	switch {
	case err == nil:
		return Result{Case: k, Accepted: true}, nil
	case apierrors.IsInvalid(err) || apierrors.IsBadRequest(err):
		return Result{Case: k, Message: err.Error()}, nil
	default:
		// Anything else (no such kind, webhook down, server error) is not an
		// admission verdict about the object: stop and say so.
		return Result{Case: k, Message: err.Error()}, fmt.Errorf("admissioncheck: dry-run create for %q: %w", k.Name, err)
	}
}

// Judge turns a result into findings: a violation when the outcome (or the
// rejecting rule) differs from the case; an info finding for an accepted
// value that admission does not validate.
func Judge(r Result) []finding.Finding {
	k := r.Case
	switch {
	case k.Want == Rejected && r.Accepted:
		return []finding.Finding{{Check: CheckOutcome, Severity: finding.Violation, Object: k.Name,
			Message: fmt.Sprintf("accepted at admission, but the %s should reject it", k.Rule)}}
	case k.Want == Rejected && k.WantMessage != "" && !strings.Contains(r.Message, k.WantMessage):
		return []finding.Finding{{Check: CheckOutcome, Severity: finding.Violation, Object: k.Name,
			Message: fmt.Sprintf("rejected, but not by the %s (expected a message containing %q): %s", k.Rule, k.WantMessage, r.Message)}}
	case k.Want == Accepted && !r.Accepted:
		return []finding.Finding{{Check: CheckOutcome, Severity: finding.Violation, Object: k.Name,
			Message: "rejected at admission, but it is a valid Dragonfly: " + r.Message}}
	case k.NotValidated && r.Accepted:
		return []finding.Finding{{Check: CheckNotValidated, Severity: finding.Info, Object: k.Name,
			Message: fmt.Sprintf("spec %v is accepted: not validated at admission (neither the CRD schema nor a webhook checks it)", k.Spec)}}
	}
	return nil
}

// Run tries every case and judges it.
func Run(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, namespace string, cases []Case) ([]Result, []finding.Finding, error) {
	var results []Result
	var out []finding.Finding
	for _, k := range cases {
		r, err := Try(ctx, c, gvk, namespace, k)
		if err != nil {
			return results, out, err
		}
		results = append(results, r)
		out = append(out, Judge(r)...)
	}
	return results, out, nil
}

// Webhooks returns the admission webhook configurations among objs.
func Webhooks(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GroupVersionKind().Group == admissionregistrationv1.GroupName &&
			(o.GetKind() == "ValidatingWebhookConfiguration" || o.GetKind() == "MutatingWebhookConfiguration") {
			out = append(out, o)
		}
	}
	return out
}

// GuideWebhookName is the webhook configuration the install guide names; no
// release ships it.
const GuideWebhookName = "dragonfly-operator-validating-webhook-configuration"

// WebhookTarget is what CheckWebhooks needs.
type WebhookTarget struct {
	// Objects is the applied bundle.
	Objects []*unstructured.Unstructured
	// Namespace is the operator's namespace, where webhook services must live.
	Namespace string
	// ProbeNamespace is a namespace the webhooks cover, where a dry-run
	// Dragonfly is created to see whether they answer.
	ProbeNamespace string
	// GVK of the Dragonfly kind to probe with.
	GVK schema.GroupVersionKind
}

// CheckWebhooks reports, for a bundle without webhooks, that admission is the
// CRD's alone (info); for each webhook configuration the bundle carries, reads
// the live object and checks that every service reference points into the
// operator's namespace, then that the webhooks answer a dry-run create.
func CheckWebhooks(ctx context.Context, c client.Client, t WebhookTarget) ([]finding.Finding, error) {
	hooks := Webhooks(t.Objects)
	if len(hooks) == 0 {
		return []finding.Finding{{Check: CheckWebhookAbsent, Severity: finding.Info, Object: "bundle",
			Message: "the operator ships no ValidatingWebhookConfiguration: Dragonfly objects are admitted by the CRD's structural schema and CEL rule only; guides that name " + GuideWebhookName + " are wrong"}}, nil
	}
	var out []finding.Finding
	refsOK := true
	for _, h := range hooks {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(h.GroupVersionKind())
		if err := c.Get(ctx, client.ObjectKey{Name: h.GetName()}, live); err != nil {
			return out, fmt.Errorf("admissioncheck: reading %s/%s: %w", h.GetKind(), h.GetName(), err)
		}
		webhooks, _, _ := unstructured.NestedSlice(live.Object, "webhooks")
		for _, w := range webhooks {
			wm, _ := w.(map[string]any)
			name, _ := wm["name"].(string)
			obj := h.GetKind() + "/" + h.GetName() + " webhook " + name
			svcNS, hasSvc, _ := unstructured.NestedString(wm, "clientConfig", "service", "namespace")
			svcName, _, _ := unstructured.NestedString(wm, "clientConfig", "service", "name")
			url, hasURL, _ := unstructured.NestedString(wm, "clientConfig", "url")
			switch {
			case hasSvc && svcNS != t.Namespace:
				refsOK = false
				out = append(out, finding.Finding{Check: CheckWebhookNamespace, Severity: finding.Violation, Object: obj,
					Message: fmt.Sprintf("calls Service %s/%s, outside the operator's namespace %s", svcNS, svcName, t.Namespace)})
			case hasURL:
				out = append(out, finding.Finding{Check: CheckWebhookNamespace, Severity: finding.Info, Object: obj,
					Message: "calls URL " + url + " directly: no service reference to relocate"})
			}
		}
	}
	if !refsOK {
		return out, nil
	}
	probe := Object(t.GVK, t.ProbeNamespace, "webhook-probe", map[string]any{"replicas": int64(1)})
	err := c.Create(ctx, probe, client.DryRunAll)
	if err != nil && (strings.Contains(err.Error(), "failed calling webhook") || apierrors.IsInternalError(err) || apierrors.IsTimeout(err)) {
		out = append(out, finding.Finding{Check: CheckWebhookAnswers, Severity: finding.Violation, Object: hookNames(hooks),
			Message: "does not answer a dry-run create of a valid Dragonfly: " + err.Error()})
	}
	return out, nil
}

func hookNames(hooks []*unstructured.Unstructured) string {
	var n []string
	for _, h := range hooks {
		n = append(n, h.GetKind()+"/"+h.GetName())
	}
	return strings.Join(n, ",")
}
