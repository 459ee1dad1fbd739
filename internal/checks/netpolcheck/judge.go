package netpolcheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
)

// The label operator v1.6.1's per-instance policy admits to the admin port
// (contract: 9999 only from pods labelled control-plane=controller-manager,
// in the operator's namespace, and the instance's own pods).
const (
	OperatorLabelKey   = "control-plane"
	OperatorLabelValue = "controller-manager"
	DataPort           = 6379
	AdminPort          = 9999
)

// Check ids.
const (
	CheckSameNamespace  = "netpol.same-namespace-client-reaches-6379"
	CheckOtherNamespace = "netpol.other-namespace-client-refused-6379"
	CheckOperatorLabel  = "netpol.operator-pods-carry-control-plane-label"
	CheckPolicyOperator = "netpol.policy-admits-operator-to-9999"
	CheckAdminOthers    = "netpol.admin-port-refuses-other-pods"
	CheckEnforcer       = "netpol.enforcer-passes-admitted-traffic"
)

// Probe is one connection attempt from a client pod to a target.
type Probe struct {
	Client    string // namespace/pod
	Target    Target
	Connected bool
	// Detail is the client's output when it did not connect.
	Detail string
}

func (p Probe) refusal() string {
	s := fmt.Sprintf("connection from %s to %s refused", p.Client, p.Target)
	if d := strings.TrimSpace(p.Detail); d != "" {
		s += " (" + d + ")"
	}
	return s
}

func v(check, obj, format string, a ...any) finding.Finding {
	return finding.Finding{Check: check, Severity: finding.Violation, Object: obj, Message: fmt.Sprintf(format, a...)}
}

func info(check, obj, format string, a ...any) finding.Finding {
	return finding.Finding{Check: check, Severity: finding.Info, Object: obj, Message: fmt.Sprintf(format, a...)}
}

// SameNamespace: a client in the instance's namespace reaches 6379.
func SameNamespace(p Probe, a Admission) []finding.Finding {
	if p.Connected {
		return []finding.Finding{info(CheckSameNamespace, p.Target.String(), "%s connected (admitted by %s)", p.Client, list(a.Admitting, "no policy isolates it"))}
	}
	if a.Allowed() {
		return []finding.Finding{v(CheckEnforcer, p.Target.String(), "%s although %s admits it: the enforcer drops traffic the policies allow", p.refusal(), list(a.Admitting, "no policy isolates the pod and"))}
	}
	return []finding.Finding{v(CheckSameNamespace, p.Target.String(), "%s by NetworkPolicy %s: a client in the instance's own namespace must reach %d", p.refusal(), list(a.Selecting, "?"), DataPort)}
}

// OtherNamespace: a client in another namespace is refused on 6379 — the
// upstream v1.6 behaviour, reported with the policy that does it.
func OtherNamespace(p Probe, a Admission) []finding.Finding {
	if p.Connected {
		return []finding.Finding{v(CheckOtherNamespace, p.Target.String(), "%s reached %s from another namespace; operator v1.6.1's NetworkPolicy (%s) admits %d only from the instance's namespace", p.Client, p.Target, list(a.Selecting, "none selects the pod"), DataPort)}
	}
	if len(a.Selecting) == 0 {
		return []finding.Finding{v(CheckOtherNamespace, p.Target.String(), "%s, but no NetworkPolicy selects the pod: something other than a policy refused it", p.refusal())}
	}
	return []finding.Finding{info(CheckOtherNamespace, p.Target.String(), "%s by NetworkPolicy %s (upstream v1.6 behaviour: %d only from the instance's namespace)", p.refusal(), list(a.Selecting, ""), DataPort)}
}

// AdminFromOperator judges the admin-port connection of a client that has
// the operator's pod labels (operatorLabels, as its Deployment's template
// has them) in the operator's namespace. A refusal names its cause: the
// missing control-plane label, or the policy that leaves the operator out.
func AdminFromOperator(p Probe, a Admission, operatorLabels map[string]string, describe map[string]string) []finding.Finding {
	if p.Connected {
		return []finding.Finding{info(CheckPolicyOperator, p.Target.String(), "the operator's pods reach the admin port: %s connected (admitted by %s)", p.Client, list(a.Admitting, "no policy isolates it"))}
	}
	var fs []finding.Finding
	if operatorLabels[OperatorLabelKey] != OperatorLabelValue {
		fs = append(fs, v(CheckOperatorLabel, p.Target.String(), "the operator's pods lack the label %s=%s that NetworkPolicy %s admits to the admin port %d: admin %s",
			OperatorLabelKey, OperatorLabelValue, list(a.Selecting, "?"), AdminPort, p.refusal()))
		return fs
	}
	if len(a.Selecting) > 0 && len(a.Admitting) == 0 {
		var why []string
		for _, n := range a.Selecting {
			why = append(why, "NetworkPolicy "+n+" (ingress: "+describe[n]+")")
		}
		return []finding.Finding{v(CheckPolicyOperator, p.Target.String(), "%s refuses the operator's pods (%s=%s in %s) on the admin port %d: admin %s",
			strings.Join(why, " and "), OperatorLabelKey, OperatorLabelValue, namespaceOf(p.Client), AdminPort, p.refusal())}
	}
	return []finding.Finding{v(CheckEnforcer, p.Target.String(), "admin %s although %s admits the operator's pods: the enforcer drops traffic the policies allow", p.refusal(), list(a.Admitting, "no policy isolates the pod and"))}
}

// AdminFromOthers: a pod that is not the operator's is refused on 9999.
func AdminFromOthers(p Probe, a Admission) []finding.Finding {
	if p.Connected {
		return []finding.Finding{v(CheckAdminOthers, p.Target.String(), "the admin port %d answered %s, which is not the operator's pod (policies selecting the target: %s)", AdminPort, p.Client, list(a.Selecting, "none"))}
	}
	return []finding.Finding{info(CheckAdminOthers, p.Target.String(), "admin %s by NetworkPolicy %s", p.refusal(), list(a.Selecting, "?"))}
}

// Proof is the enforcement preflight's observations: a probe connects with
// no policy (Baseline), is refused once a default-deny policy exists
// (Denied, after DenyAfter), and connects again once it is removed
// (Restored, after RestoreAfter).
type Proof struct {
	Policy                       string
	Baseline, Denied, Restored   Probe
	DenyAfter, RestoreAfter      time.Duration
	DenyDeadline, RestoreTimeout time.Duration
}

// Blocked is "" when the proof holds, else why NetworkPolicy enforcement
// is not proven (every network spec is then blocked with it).
func (p Proof) Blocked() string {
	switch {
	case !p.Baseline.Connected:
		return fmt.Sprintf("the probe cannot reach its target even without any policy (%s): nothing can be proven about NetworkPolicy", p.Baseline.refusal())
	case p.Denied.Connected:
		return fmt.Sprintf("the cluster does not enforce NetworkPolicy: with the default-deny policy %s in place %s still connected to %s after %s (install an enforcer: the offline pipeline's kube-router, or kind's kindnetd ≥ v0.24 online)",
			p.Policy, p.Denied.Client, p.Denied.Target, p.DenyDeadline)
	case !p.Restored.Connected:
		return fmt.Sprintf("removing the default-deny policy %s did not let the probe through again within %s (%s): the enforcer's view of policies is stale", p.Policy, p.RestoreTimeout, p.Restored.refusal())
	}
	return ""
}

func list(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

func namespaceOf(client string) string {
	ns, _, _ := strings.Cut(client, "/")
	return "namespace " + ns
}
