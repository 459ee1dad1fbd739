package netpolcheck

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

// contractPolicy is the per-instance policy as the contract describes
// operator v1.6.1's: 6379 from the instance's namespace; 9999 from the
// operator's pods in its namespace and from the instance's own pods.
func contractPolicy() networkingv1.NetworkPolicy {
	data, admin := intstr.FromInt(DataPort), intstr.FromInt(AdminPort)
	return networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "database", Name: "test-replicated"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "test-replicated"}},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &data}}, From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}},
				{Ports: []networkingv1.NetworkPolicyPort{{Port: &admin}}, From: []networkingv1.NetworkPolicyPeer{
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{OperatorLabelKey: OperatorLabelValue}},
						NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "dragonfly-operator-system"}}},
					{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "test-replicated"}}},
				}},
			},
		},
	}
}

var (
	pod0      = map[string]string{"app": "test-replicated", "role": "master"}
	dataPort  = Target{Namespace: "database", Pod: "test-replicated-0", Labels: pod0, Port: DataPort}
	adminPort = Target{Namespace: "database", Pod: "test-replicated-0", Labels: pod0, Port: AdminPort}
	opLabels  = map[string]string{OperatorLabelKey: OperatorLabelValue, "app.kubernetes.io/name": "dragonfly-operator"}
	operator  = Peer{Namespace: "dragonfly-operator-system", Labels: opLabels}
	sameNS    = Peer{Namespace: "database", Labels: map[string]string{"app": "probe"}}
	otherNS   = Peer{Namespace: "elsewhere", Labels: map[string]string{"app": "probe"}}
)

func admit(t *testing.T, pols []networkingv1.NetworkPolicy, tg Target, p Peer) Admission {
	t.Helper()
	a, err := Admit(pols, tg, p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAdmitReadsTheContractPolicy(t *testing.T) {
	pols := []networkingv1.NetworkPolicy{contractPolicy()}
	for _, tc := range []struct {
		name string
		tg   Target
		p    Peer
		want bool
	}{
		{"same namespace on 6379", dataPort, sameNS, true},
		{"other namespace on 6379", dataPort, otherNS, false},
		{"operator on 9999", adminPort, operator, true},
		{"same-namespace stranger on 9999", adminPort, sameNS, false},
		{"peer pod on 9999", adminPort, Peer{Namespace: "database", Labels: map[string]string{"app": "test-replicated"}}, true},
		{"operator labels in the wrong namespace on 9999", adminPort, Peer{Namespace: "elsewhere", Labels: opLabels}, false},
		{"operator without its label on 9999", adminPort, Peer{Namespace: operator.Namespace, Labels: map[string]string{"app.kubernetes.io/name": "dragonfly-operator"}}, false},
	} {
		a := admit(t, pols, tc.tg, tc.p)
		if a.Allowed() != tc.want || len(a.Selecting) != 1 {
			t.Errorf("%s: %+v allowed=%v, want %v", tc.name, a, a.Allowed(), tc.want)
		}
	}
	// A pod no policy selects takes everything.
	free := Target{Namespace: "database", Pod: "x", Labels: map[string]string{"app": "other"}, Port: AdminPort}
	if a := admit(t, pols, free, otherNS); !a.Allowed() || len(a.Selecting) != 0 {
		t.Errorf("unselected pod: %+v", a)
	}
}

func violations(fs []finding.Finding) string { return finding.Lines(finding.Violations(fs)) }

// Planted defect: the operator's pods lost control-plane=controller-manager.
// The verdict names the label and the refused admin connection.
func TestOperatorWithoutItsLabelFailsNamingTheLabel(t *testing.T) {
	pols := []networkingv1.NetworkPolicy{contractPolicy()}
	lost := map[string]string{"app.kubernetes.io/name": "dragonfly-operator"}
	a := admit(t, pols, adminPort, Peer{Namespace: operator.Namespace, Labels: lost})
	p := Probe{Client: "dragonfly-operator-system/netprobe-operator", Target: adminPort, Detail: "Could not connect to Redis at 10.244.0.7:9999: Connection refused"}
	got := violations(AdminFromOperator(p, a, lost, nil))
	for _, want := range []string{CheckOperatorLabel, "control-plane=controller-manager", "database/test-replicated", "connection from dragonfly-operator-system/netprobe-operator to database/test-replicated-0:9999 refused"} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict lacks %q:\n%s", want, got)
		}
	}
	// The same probe with the label and a connection passes.
	p.Connected = true
	if got := violations(AdminFromOperator(p, admit(t, pols, adminPort, operator), opLabels, nil)); got != "" {
		t.Errorf("operator admitted and connected, yet: %s", got)
	}
}

// Planted defect: a policy that leaves the operator out of 9999. The
// verdict names the policy and its rules, and is no timeout.
func TestPolicyDenyingTheOperatorFailsNamingIt(t *testing.T) {
	pol := contractPolicy()
	pol.Name = "denies-operator"
	pol.Spec.Ingress[1].From = pol.Spec.Ingress[1].From[1:] // peers only
	pols := []networkingv1.NetworkPolicy{pol}
	a := admit(t, pols, adminPort, operator)
	if a.Allowed() {
		t.Fatalf("the planted policy admits the operator: %+v", a)
	}
	p := Probe{Client: "dragonfly-operator-system/netprobe-operator", Target: adminPort}
	got := violations(AdminFromOperator(p, a, opLabels, map[string]string{"database/denies-operator": DescribeIngress(pol)}))
	for _, want := range []string{CheckPolicyOperator, "NetworkPolicy database/denies-operator", "9999 from pods app=test-replicated", "refuses the operator's pods", "refused"} {
		if !strings.Contains(got, want) {
			t.Errorf("verdict lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "timed out") || strings.Contains(got, "timeout") {
		t.Errorf("verdict reads as a timeout: %s", got)
	}
}

// A refusal the policies do not explain blames the enforcer, not a policy.
func TestRefusalThePoliciesAllowBlamesTheEnforcer(t *testing.T) {
	pols := []networkingv1.NetworkPolicy{contractPolicy()}
	got := violations(AdminFromOperator(Probe{Client: "op/x", Target: adminPort}, admit(t, pols, adminPort, operator), opLabels, nil))
	if !strings.Contains(got, CheckEnforcer) {
		t.Errorf("got %s", got)
	}
	got = violations(SameNamespace(Probe{Client: "database/probe", Target: dataPort}, admit(t, pols, dataPort, sameNS)))
	if !strings.Contains(got, CheckEnforcer) {
		t.Errorf("got %s", got)
	}
}

func TestDataPortVerdicts(t *testing.T) {
	pols := []networkingv1.NetworkPolicy{contractPolicy()}
	same := admit(t, pols, dataPort, sameNS)
	if got := violations(SameNamespace(Probe{Client: "database/probe", Target: dataPort, Connected: true}, same)); got != "" {
		t.Errorf("connected same-namespace client fails: %s", got)
	}
	other := admit(t, pols, dataPort, otherNS)
	refused := OtherNamespace(Probe{Client: "elsewhere/probe", Target: dataPort}, other)
	if violations(refused) != "" || !strings.Contains(finding.Lines(refused), "NetworkPolicy database/test-replicated (upstream v1.6 behaviour") {
		t.Errorf("refused other-namespace client: %s", finding.Lines(refused))
	}
	if got := violations(OtherNamespace(Probe{Client: "elsewhere/probe", Target: dataPort, Connected: true}, other)); !strings.Contains(got, "reached database/test-replicated-0:6379 from another namespace") {
		t.Errorf("connected other-namespace client: %s", got)
	}
	if got := violations(OtherNamespace(Probe{Client: "elsewhere/probe", Target: dataPort}, Admission{})); !strings.Contains(got, "no NetworkPolicy selects the pod") {
		t.Errorf("refusal without a policy: %s", got)
	}
}

func TestAdminFromOthers(t *testing.T) {
	pols := []networkingv1.NetworkPolicy{contractPolicy()}
	a := admit(t, pols, adminPort, sameNS)
	if got := violations(AdminFromOthers(Probe{Client: "database/probe", Target: adminPort, Connected: true}, a)); !strings.Contains(got, "answered database/probe, which is not the operator's pod") {
		t.Errorf("got %s", got)
	}
	if got := violations(AdminFromOthers(Probe{Client: "database/probe", Target: adminPort}, a)); got != "" {
		t.Errorf("refused stranger fails: %s", got)
	}
}

func TestProofBlocked(t *testing.T) {
	tg := Target{Namespace: "p", Pod: "server", Port: 6379}
	ok := Probe{Client: "p/probe", Target: tg, Connected: true}
	no := Probe{Client: "p/probe", Target: tg}
	for _, tc := range []struct {
		name  string
		proof Proof
		want  string
	}{
		{"proven", Proof{Baseline: ok, Denied: no, Restored: ok}, ""},
		{"no baseline", Proof{Baseline: no, Denied: no, Restored: ok}, "even without any policy"},
		{"not enforced", Proof{Policy: "p/default-deny", Baseline: ok, Denied: ok, Restored: ok}, "does not enforce NetworkPolicy: with the default-deny policy p/default-deny"},
		{"stale", Proof{Policy: "p/default-deny", Baseline: ok, Denied: no, Restored: no}, "did not let the probe through again"},
	} {
		got := tc.proof.Blocked()
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
