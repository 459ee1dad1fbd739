package admissioncheck

import (
	"strings"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

func TestJudge(t *testing.T) {
	reject := Case{Name: "pdb both", Want: Rejected, Rule: "CEL rule on spec.pdb", WantMessage: "cannot be both set"}
	if fs := Judge(Result{Case: reject, Message: "spec.pdb: Invalid value: minAvailable and maxUnavailable cannot be both set"}); len(fs) != 0 {
		t.Fatalf("expected rejection judged as a violation: %v", fs)
	}
	fs := Judge(Result{Case: reject, Accepted: true})
	if len(finding.Violations(fs)) != 1 || !strings.Contains(fs[0].Message, "CEL rule on spec.pdb") {
		t.Fatalf("accepted object must fail naming the rule: %v", fs)
	}
	fs = Judge(Result{Case: reject, Message: "spec.replicas: Invalid value"})
	if len(finding.Violations(fs)) != 1 || !strings.Contains(fs[0].Message, "not by the CEL rule") {
		t.Fatalf("rejection by another rule must fail: %v", fs)
	}
	neg := Case{Name: "replicas -1", Want: Accepted, NotValidated: true}
	fs = Judge(Result{Case: neg, Accepted: true})
	if len(finding.Violations(fs)) != 0 || len(finding.Infos(fs)) != 1 || !strings.Contains(fs[0].Message, "not validated at admission") {
		t.Fatalf("want one info finding: %v", fs)
	}
}

func TestNoWebhookIsAFindingNamingTheGuidesWebhook(t *testing.T) {
	fs, err := CheckWebhooks(t.Context(), nil, WebhookTarget{Namespace: "database"})
	if err != nil || len(fs) != 1 || fs[0].Severity != finding.Info || !strings.Contains(fs[0].Message, GuideWebhookName) {
		t.Fatalf("got %v, %v", fs, err)
	}
}
