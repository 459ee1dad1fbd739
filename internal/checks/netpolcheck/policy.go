// Package netpolcheck judges what the network suite observes: whether the
// cluster enforces NetworkPolicy at all, and whether the operator's
// per-instance policy lets the right clients in. The NetworkPolicy reading
// here names the policy behind a refusal, so a refused connection is
// reported as the policy that refuses it, never as a timeout.
package netpolcheck

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Peer is a client pod as a policy sees it: its labels and its namespace's.
type Peer struct {
	Namespace       string
	Labels          map[string]string
	NamespaceLabels map[string]string
}

// Target is a server pod and one of its TCP ports (with the port's name,
// if the container names it).
type Target struct {
	Namespace string
	Pod       string
	Labels    map[string]string
	Port      int32
	PortName  string
}

func (t Target) String() string { return fmt.Sprintf("%s/%s:%d", t.Namespace, t.Pod, t.Port) }

// Admission is what the policies of a target's namespace say about one
// client: Isolated when some policy selects the target for ingress;
// Admitting are the policies whose rules let the client in.
type Admission struct {
	Selecting, Admitting []string
}

// Allowed is the policies' verdict: a target no policy isolates takes
// everything; an isolated one only what some selecting policy admits.
func (a Admission) Allowed() bool { return len(a.Selecting) == 0 || len(a.Admitting) > 0 }

// Admit evaluates the namespace's policies for ingress from peer to target.
func Admit(policies []networkingv1.NetworkPolicy, target Target, peer Peer) (Admission, error) {
	var a Admission
	for _, p := range policies {
		if p.Namespace != target.Namespace || !appliesToIngress(p) {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			return a, fmt.Errorf("NetworkPolicy %s/%s podSelector: %w", p.Namespace, p.Name, err)
		}
		if !sel.Matches(labels.Set(target.Labels)) {
			continue
		}
		name := p.Namespace + "/" + p.Name
		a.Selecting = append(a.Selecting, name)
		for _, r := range p.Spec.Ingress {
			ok, err := ruleAdmits(r, p.Namespace, target, peer)
			if err != nil {
				return a, fmt.Errorf("NetworkPolicy %s: %w", name, err)
			}
			if ok {
				a.Admitting = append(a.Admitting, name)
				break
			}
		}
	}
	sort.Strings(a.Selecting)
	sort.Strings(a.Admitting)
	return a, nil
}

func appliesToIngress(p networkingv1.NetworkPolicy) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return true // ingress is implied
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == networkingv1.PolicyTypeIngress {
			return true
		}
	}
	return false
}

func ruleAdmits(r networkingv1.NetworkPolicyIngressRule, policyNS string, t Target, peer Peer) (bool, error) {
	if !portMatches(r.Ports, t) {
		return false, nil
	}
	if len(r.From) == 0 {
		return true, nil // from everywhere
	}
	for _, f := range r.From {
		ok, err := peerMatches(f, policyNS, peer)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

func portMatches(ports []networkingv1.NetworkPolicyPort, t Target) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		if p.Protocol != nil && *p.Protocol != corev1.ProtocolTCP {
			continue
		}
		if p.Port == nil {
			return true
		}
		if p.Port.Type == intstr.Int && p.Port.IntValue() == int(t.Port) {
			return true
		}
		if p.Port.Type == intstr.String && p.Port.StrVal == t.PortName && t.PortName != "" {
			return true
		}
		if p.Port.Type == intstr.Int && p.EndPort != nil && int32(p.Port.IntValue()) <= t.Port && t.Port <= *p.EndPort {
			return true
		}
	}
	return false
}

// peerMatches: an ipBlock never matches here (the clients are pods, judged
// by labels); podSelector alone means the policy's namespace.
func peerMatches(f networkingv1.NetworkPolicyPeer, policyNS string, peer Peer) (bool, error) {
	if f.IPBlock != nil {
		return false, nil
	}
	if f.NamespaceSelector == nil && peer.Namespace != policyNS {
		return false, nil
	}
	if f.NamespaceSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(f.NamespaceSelector)
		if err != nil {
			return false, err
		}
		if !s.Matches(labels.Set(nsLabels(peer))) {
			return false, nil
		}
	}
	if f.PodSelector != nil {
		s, err := metav1.LabelSelectorAsSelector(f.PodSelector)
		if err != nil {
			return false, err
		}
		if !s.Matches(labels.Set(peer.Labels)) {
			return false, nil
		}
	}
	return true, nil
}

// nsLabels adds the label the API server sets on every namespace.
func nsLabels(p Peer) map[string]string {
	m := map[string]string{"kubernetes.io/metadata.name": p.Namespace}
	for k, v := range p.NamespaceLabels {
		m[k] = v
	}
	return m
}

// DescribeIngress renders a policy's ingress rules in one line, for the
// messages that name it: "6379 from pods in namespace database; 9999 from
// pods control-plane=controller-manager in namespaces ...".
func DescribeIngress(p networkingv1.NetworkPolicy) string {
	var rules []string
	for _, r := range p.Spec.Ingress {
		var ports []string
		for _, pt := range r.Ports {
			if pt.Port == nil {
				ports = append(ports, "all ports")
			} else {
				ports = append(ports, pt.Port.String())
			}
		}
		if len(ports) == 0 {
			ports = []string{"all ports"}
		}
		var from []string
		for _, f := range r.From {
			from = append(from, describePeer(f))
		}
		if len(from) == 0 {
			from = []string{"anywhere"}
		}
		rules = append(rules, strings.Join(ports, ",")+" from "+strings.Join(from, " or "))
	}
	if len(rules) == 0 {
		return "no ingress at all"
	}
	return strings.Join(rules, "; ")
}

func describePeer(f networkingv1.NetworkPolicyPeer) string {
	if f.IPBlock != nil {
		return "ipBlock " + f.IPBlock.CIDR
	}
	pods := "all pods"
	if f.PodSelector != nil {
		pods = "pods " + metav1.FormatLabelSelector(f.PodSelector)
	}
	if f.NamespaceSelector == nil {
		return pods + " of the policy's namespace"
	}
	return pods + " in namespaces " + metav1.FormatLabelSelector(f.NamespaceSelector)
}
