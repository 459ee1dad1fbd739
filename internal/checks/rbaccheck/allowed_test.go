package rbaccheck

import (
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// shortSettle sets a settle window far shorter than one pass (~90 reviews × 2 ms).
func shortSettle(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"RBACSettled":"50ms"}`)
}

// authorizer answers SubjectAccessReviews slowly, denying resources in deny.
func authorizer(deny string) *fake.Clientset {
	cs := fake.NewClientset()
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		time.Sleep(2 * time.Millisecond)
		sar := a.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Resource != deny
		return true, sar, nil
	})
	return cs
}

var target = Target{Subject: Subject{Namespace: "database", Name: "op"}, OtherNamespace: "tenant"}

func TestAllowedPassLongerThanTheSettleWindowStillCompletes(t *testing.T) {
	shortSettle(t)
	fs, err := Allowed(t.Context(), authorizer(""), target, NeededFor("v1.6.1"))
	if err != nil || len(fs) != 0 {
		t.Fatalf("want all allowed, got %v, %v", fs, err)
	}
}

func TestAllowedNamesTheDeniedResourceClusterWideAndElsewhere(t *testing.T) {
	shortSettle(t)
	fs, err := Allowed(t.Context(), authorizer("configmaps"), target, NeededFor("v1.6.1"))
	if err != nil {
		t.Fatal(err)
	}
	msgs := finding.Lines(finding.Violations(fs))
	for _, want := range []string{"may not get,list,watch configmaps cluster-wide", "may not get,list,watch configmaps in namespace tenant", "needed since v1.6.0"} {
		if !strings.Contains(msgs, want) {
			t.Errorf("violations lack %q:\n%s", want, msgs)
		}
	}
	if fs, _ := Allowed(t.Context(), authorizer("configmaps"), target, NeededFor("v1.5.0")); len(fs) != 0 {
		t.Errorf("v1.5.0 does not need configmaps: %v", fs)
	}
}
