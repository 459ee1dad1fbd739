//go:build e2e

package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/netpolcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/netprobe"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// Namespaces and names of the network suite's own objects.
const (
	netProofNS  = "dfe2e-netpol-proof"
	netOtherNS  = "dfe2e-netprobe-elsewhere"
	netDenyName = "dfe2e-default-deny"
	// enforceDeadline bounds how long a policy change may take to show in
	// the data path (kube-router resyncs on every policy event; seconds).
	enforceDeadline = 60 * time.Second
)

// netEnforcement is the preflight's outcome, proven once per suite process:
// every network spec needs it, whichever runs first.
var netEnforcement struct {
	done    bool
	blocked string
	took    time.Duration
}

// requireEnforcement blocks the spec unless NetworkPolicy enforcement was
// proven on this cluster: a verdict about policies the cluster ignores
// would be a lie either way.
func requireEnforcement(ctx context.Context) {
	GinkgoHelper()
	needNodes()
	if !netEnforcement.done {
		blocked, took, err := proveEnforcement(ctx)
		Expect(err).NotTo(HaveOccurred())
		netEnforcement.done, netEnforcement.blocked, netEnforcement.took = true, blocked, took
	}
	if netEnforcement.blocked != "" {
		Skip(netEnforcement.blocked)
	}
}

// proveEnforcement: a server and a probe in a namespace of their own; the
// probe connects, a default-deny ingress policy makes it refused, removing
// the policy lets it through again. took is policy-created → refused plus
// policy-deleted → connected.
func proveEnforcement(ctx context.Context) (blocked string, took time.Duration, err error) {
	img, blocked, err := netprobe.Image(ctx, dataEnv)
	if blocked != "" || err != nil {
		return blocked, 0, err
	}
	if err := ensureNamespace(ctx, netProofNS); err != nil {
		return "", 0, err
	}
	defer deleteNamespace(ctx, netProofNS)
	srv, err := netprobe.Start(ctx, dataEnv, netprobe.ServerPod(netProofNS, "server", img, map[string]string{"app": "netpol-proof-server"}, 6379))
	defer srv.Delete(ctx)
	if err != nil {
		return "", 0, err
	}
	cl, err := netprobe.Start(ctx, dataEnv, netprobe.ClientPod(netProofNS, "probe", img, map[string]string{"app": "netpol-proof-probe"}))
	defer cl.Delete(ctx)
	if err != nil {
		return "", 0, err
	}
	tg := netpolcheck.Target{Namespace: netProofNS, Pod: srv.Pod.Name, Labels: srv.Labels, Port: 6379}
	p := netpolcheck.Proof{Policy: netProofNS + "/" + netDenyName, DenyDeadline: enforceDeadline, RestoreTimeout: enforceDeadline}
	// The baseline is a precondition (a fresh pod may take a moment to be
	// reachable), so it is waited for; the proof's steps below are not.
	if p.Baseline, _, err = probeUntil(ctx, cl, tg, srv.Status.PodIP, true, cl.Name()+" to reach "+tg.String()+" with no policy"); err != nil || !p.Baseline.Connected {
		return verdict.BlockedMessage(p.Blocked(), ""), 0, err
	}
	deny := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: netProofNS, Name: netDenyName},
		Spec:       networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}},
	}
	if err := k8s.Create(ctx, deny); err != nil {
		return "", 0, fmt.Errorf("creating the default-deny policy %s: %w", p.Policy, err)
	}
	p.Denied, p.DenyAfter, err = probeUntil(ctx, cl, tg, srv.Status.PodIP, false, "the default-deny policy "+p.Policy+" to refuse "+cl.Name()+" → "+tg.String())
	if err != nil {
		return "", 0, err
	}
	if !p.Denied.Connected {
		// Refused twice in a row: one lost packet is no proof.
		if p.Denied, err = cl.Probe(ctx, tg, srv.Status.PodIP); err != nil {
			return "", 0, err
		}
	}
	if p.Denied.Connected {
		return verdict.BlockedMessage(p.Blocked(), "offline: dfe2e e2e installs the kube-router enforcer when the network suite is selected; online: kind ≥ v0.24's kindnetd"), 0, nil
	}
	if err := k8s.Delete(ctx, deny); err != nil {
		return "", 0, fmt.Errorf("deleting the default-deny policy %s: %w", p.Policy, err)
	}
	p.Restored, p.RestoreAfter, err = probeUntil(ctx, cl, tg, srv.Status.PodIP, true, "removing "+p.Policy+" to let "+cl.Name()+" → "+tg.String()+" through")
	if err != nil {
		return "", 0, err
	}
	if b := p.Blocked(); b != "" {
		return verdict.BlockedMessage(b, ""), 0, nil
	}
	GinkgoWriter.Printf("NetworkPolicy enforced: refused %s after the policy, through again %s after its removal\n", p.DenyAfter.Round(time.Millisecond), p.RestoreAfter.Round(time.Millisecond))
	return "", p.DenyAfter + p.RestoreAfter, nil
}

// probeUntil tries the connection until it is (connected) or is not, for at
// most enforceDeadline; the last probe says what was seen. A deadline is an
// observation here (the caller turns it into a blocked verdict), not an error.
func probeUntil(ctx context.Context, cl *netprobe.Pod, tg netpolcheck.Target, ip string, connected bool, what string) (netpolcheck.Probe, time.Duration, error) {
	var last netpolcheck.Probe
	took, err := wait.ForDuration(ctx, what, enforceDeadline, func(ctx context.Context) (bool, string, error) {
		p, err := cl.Probe(ctx, tg, ip)
		if err != nil {
			return false, "", err
		}
		last = p
		return p.Connected == connected, fmt.Sprintf("connected=%v %s", p.Connected, p.Detail), nil
	})
	if _, timedOut := err.(*wait.TimeoutError); timedOut {
		return last, took, nil
	}
	return last, took, err
}

func ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

func deleteNamespace(ctx context.Context, name string) {
	objects.DeleteAndForget(ctx, k8s, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
}

// netFixture is the replicated instance the network specs probe, deployed
// by the first spec that needs it and removed after the last.
var netFixture *targets.Dragonfly

func networkInstance(ctx context.Context) instance.Roles {
	GinkgoHelper()
	if netFixture == nil {
		t := &targets.Dragonfly{Name: instances.Replicated, Env: dataEnv}
		blocked, err := t.Deploy(ctx)
		netFixture = t
		Expect(err).NotTo(HaveOccurred())
		if blocked != "" {
			Skip(blocked)
		}
	}
	roles, err := instance.WaitReady(ctx, k8s, instances.Namespace, instances.Replicated)
	Expect(err).NotTo(HaveOccurred())
	return roles
}

// target is port of pod as a policy sees it.
func target(pod *corev1.Pod, port int32) netpolcheck.Target {
	t := netpolcheck.Target{Namespace: pod.Namespace, Pod: pod.Name, Labels: pod.Labels, Port: port}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.ContainerPort == port {
				t.PortName = p.Name
			}
		}
	}
	return t
}

// policies are the NetworkPolicies of ns, and each one's ingress in words.
func policies(ctx context.Context, ns string) ([]networkingv1.NetworkPolicy, map[string]string) {
	GinkgoHelper()
	var l networkingv1.NetworkPolicyList
	Expect(k8s.List(ctx, &l, client.InNamespace(ns))).To(Succeed())
	describe := map[string]string{}
	for _, p := range l.Items {
		describe[p.Namespace+"/"+p.Name] = netpolcheck.DescribeIngress(p)
	}
	return l.Items, describe
}

func namespaceLabels(ctx context.Context, ns string) map[string]string {
	GinkgoHelper()
	var n corev1.Namespace
	Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, &n)).To(Succeed())
	return n.Labels
}

// startProbe starts a client pod and deletes it after the spec.
func startProbe(ctx context.Context, ns, name, image string, l map[string]string) *netprobe.Pod {
	GinkgoHelper()
	p, err := netprobe.Start(ctx, dataEnv, netprobe.ClientPod(ns, name, image, l))
	DeferCleanup(func(ctx SpecContext) { p.Delete(ctx) }, NodeTimeout(time.Minute))
	Expect(err).NotTo(HaveOccurred())
	return p
}

func probeImage(ctx context.Context) string {
	GinkgoHelper()
	img, blocked, err := netprobe.Image(ctx, dataEnv)
	Expect(err).NotTo(HaveOccurred())
	if blocked != "" {
		Skip(blocked)
	}
	return img
}

// operatorTemplateLabels are the labels the operator Deployment gives its
// pods: a probe with them is, to a policy, one of the operator's pods.
func operatorTemplateLabels(ctx context.Context) map[string]string {
	GinkgoHelper()
	var d appsv1.Deployment
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d)).To(Succeed())
	out := map[string]string{}
	for k, v := range d.Spec.Template.Labels {
		out[k] = v
	}
	return out
}

// judge records the findings and fails the spec on any violation.
func judge(what string, fs []finding.Finding) {
	GinkgoHelper()
	report(what, fs)
	Expect(finding.Violations(fs)).To(BeEmpty(), "%s", finding.Lines(finding.Violations(fs)))
}

// operatorClone is a probe pod in the operator's namespace labelled as
// opLabels say the operator's pods are (plus a marker of its own).
func operatorClone(ctx context.Context, name string, opLabels map[string]string) *netprobe.Pod {
	GinkgoHelper()
	l := map[string]string{"dfe2e.io/netprobe": name}
	for k, v := range opLabels {
		l[k] = v
	}
	return startProbe(ctx, operator.Namespace, name, probeImage(ctx), l)
}

// adminFromOperator probes pod's admin port from the operator clone pr and
// judges the outcome against the policies (settle: see probeAdmitted).
func adminFromOperator(ctx context.Context, pr *netprobe.Pod, opLabels map[string]string, pod *corev1.Pod, pols []networkingv1.NetworkPolicy, describe map[string]string, settle bool) []finding.Finding {
	GinkgoHelper()
	tg := target(pod, netpolcheck.AdminPort)
	a, err := netpolcheck.Admit(pols, tg, pr.Peer(namespaceLabels(ctx, operator.Namespace)))
	Expect(err).NotTo(HaveOccurred())
	var obs netpolcheck.Probe
	if settle {
		obs = probeAdmitted(ctx, pr, tg, pod.Status.PodIP)
	} else {
		obs, err = pr.Probe(ctx, tg, pod.Status.PodIP)
		Expect(err).NotTo(HaveOccurred())
	}
	return netpolcheck.AdminFromOperator(obs, a, opLabels, describe)
}

// probeAdmitted is the probe of a client the policies should let in: a
// probe pod is new, and an enforcer lets a new pod's IP in only once it has
// programmed it (the preflight measured how long that takes), so the
// connection is tried until enforceDeadline; a client still refused then
// is the observation judged.
func probeAdmitted(ctx context.Context, pr *netprobe.Pod, tg netpolcheck.Target, ip string) netpolcheck.Probe {
	GinkgoHelper()
	obs, took, err := probeUntil(ctx, pr, tg, ip, true, pr.Name()+" to reach "+tg.String())
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("%s → %s: connected=%v after %s\n", pr.Name(), tg, obs.Connected, took.Round(time.Millisecond))
	return obs
}

var _ = Describe("NetworkPolicy", Ordered, ContinueOnFailure, Label(LabelNetwork), func() {
	AfterAll(func(ctx SpecContext) {
		if netFixture != nil {
			netFixture.Teardown(ctx)
			netFixture = nil
		}
		deleteNamespace(ctx, netOtherNS)
	}, NodeTimeout(3*time.Minute))

	It("preflight: the cluster enforces NetworkPolicy — a default-deny policy refuses a probe's connection and removing it lets the probe through", func(ctx SpecContext) {
		requireEnforcement(ctx)
		reportMetric(reports.Metric{Name: "NetworkPolicy enforcement proven (deny + allow took effect)", Unit: "s", Better: reports.Lower,
			Values: []float64{netEnforcement.took.Seconds()}})
	}, NodeTimeout(5*time.Minute))

	It("a client in the instance's namespace reaches 6379", func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		m := networkInstance(ctx).Master
		pols, _ := policies(ctx, m.Namespace)
		pr := startProbe(ctx, m.Namespace, "netprobe-same-ns", probeImage(ctx), map[string]string{"app.kubernetes.io/name": "dfe2e-netprobe"})
		tg := target(m, netpolcheck.DataPort)
		a, err := netpolcheck.Admit(pols, tg, pr.Peer(namespaceLabels(ctx, m.Namespace)))
		Expect(err).NotTo(HaveOccurred())
		judge("same-namespace client on 6379", netpolcheck.SameNamespace(probeAdmitted(ctx, pr, tg, m.Status.PodIP), a))
	}, NodeTimeout(8*time.Minute))

	It("a client in another namespace is refused on 6379 by the operator's NetworkPolicy (upstream v1.6 behaviour)", func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		m := networkInstance(ctx).Master
		pols, _ := policies(ctx, m.Namespace)
		Expect(ensureNamespace(ctx, netOtherNS)).To(Succeed())
		pr := startProbe(ctx, netOtherNS, "netprobe-other-ns", probeImage(ctx), map[string]string{"app.kubernetes.io/name": "dfe2e-netprobe"})
		tg := target(m, netpolcheck.DataPort)
		a, err := netpolcheck.Admit(pols, tg, pr.Peer(namespaceLabels(ctx, netOtherNS)))
		Expect(err).NotTo(HaveOccurred())
		obs, err := pr.Probe(ctx, tg, m.Status.PodIP)
		Expect(err).NotTo(HaveOccurred())
		fs := netpolcheck.OtherNamespace(obs, a)
		judge("other-namespace client on 6379", fs)
		GinkgoWriter.Printf("%s", finding.Lines(fs))
	}, NodeTimeout(8*time.Minute))

	It("the admin port 9999 answers pods labelled as the operator's and refuses other pods", func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		m := networkInstance(ctx).Master
		pols, describe := policies(ctx, m.Namespace)
		opLabels := operatorTemplateLabels(ctx)
		judge("admin port from the operator's pods", adminFromOperator(ctx, operatorClone(ctx, "netprobe-operator", opLabels), opLabels, m, pols, describe, true))

		pr := startProbe(ctx, m.Namespace, "netprobe-stranger", probeImage(ctx), map[string]string{"app.kubernetes.io/name": "dfe2e-netprobe"})
		tg := target(m, netpolcheck.AdminPort)
		a, err := netpolcheck.Admit(pols, tg, pr.Peer(namespaceLabels(ctx, m.Namespace)))
		Expect(err).NotTo(HaveOccurred())
		obs, err := pr.Probe(ctx, tg, m.Status.PodIP)
		Expect(err).NotTo(HaveOccurred())
		judge("admin port from other pods", netpolcheck.AdminFromOthers(obs, a))
	}, NodeTimeout(8*time.Minute))

	It("planted defect: operator pods without control-plane=controller-manager make the admin check fail naming the label and the refused connection", func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		m := networkInstance(ctx).Master
		pols, describe := policies(ctx, m.Namespace)
		lost := operatorTemplateLabels(ctx)
		Expect(lost).To(HaveKeyWithValue(netpolcheck.OperatorLabelKey, netpolcheck.OperatorLabelValue), "the live operator Deployment already lacks the label")
		delete(lost, netpolcheck.OperatorLabelKey) // the planted defect
		fs := adminFromOperator(ctx, operatorClone(ctx, "netprobe-operator-unlabelled", lost), lost, m, pols, describe, false)
		report("planted: operator pods without their label", fs)
		v := finding.Lines(finding.Violations(fs))
		Expect(v).To(ContainSubstring(netpolcheck.CheckOperatorLabel), "the check did not fail on the planted defect: %s", finding.Lines(fs))
		Expect(v).To(ContainSubstring("control-plane=controller-manager"))
		Expect(v).To(MatchRegexp(`admin connection from .* to %s/%s:9999 refused`, m.Namespace, m.Name))
	}, NodeTimeout(8*time.Minute))

	It("planted defect: a NetworkPolicy that leaves the operator out of 9999 makes the admin check fail naming the policy, not a timeout", func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		m := networkInstance(ctx).Master
		img := probeImage(ctx)
		// A server of its own, selected by a copy of the operator's policy
		// without the operator's peer: the operator keeps reconciling its
		// own policy, so the defect is planted beside it.
		planted := "dfe2e-netpol-planted"
		srv, err := netprobe.Start(ctx, dataEnv, netprobe.ServerPod(m.Namespace, planted, img, map[string]string{"app": planted}, netpolcheck.AdminPort))
		DeferCleanup(func(ctx SpecContext) { srv.Delete(ctx) }, NodeTimeout(time.Minute))
		Expect(err).NotTo(HaveOccurred())
		pol := deniesOperator(ctx, m, planted)
		Expect(k8s.Create(ctx, pol)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { objects.DeleteAndForget(ctx, k8s, pol) }, NodeTimeout(time.Minute))
		pols, describe := policies(ctx, m.Namespace)

		opLabels := operatorTemplateLabels(ctx)
		pr := operatorClone(ctx, "netprobe-operator", opLabels)
		start := time.Now()
		var fs []finding.Finding
		// The new policy takes effect within enforceDeadline (the preflight's
		// bound); until then the operator may still get through.
		_, err = wait.ForDuration(ctx, "the planted policy "+pol.Name+" to refuse the operator's pods", enforceDeadline, func(ctx context.Context) (bool, string, error) {
			fs = adminFromOperator(ctx, pr, opLabels, srv.Pod, pols, describe, false)
			return len(finding.Violations(fs)) > 0, finding.Lines(fs), nil
		})
		Expect(err).NotTo(HaveOccurred(), "the planted policy never refused the operator's pods")
		report("planted: policy denying the operator", fs)
		v := finding.Lines(finding.Violations(fs))
		Expect(v).To(ContainSubstring(netpolcheck.CheckPolicyOperator))
		Expect(v).To(ContainSubstring("NetworkPolicy " + m.Namespace + "/" + pol.Name))
		GinkgoWriter.Printf("planted policy judged in %s: %s", time.Since(start).Round(time.Millisecond), v)
	}, NodeTimeout(8*time.Minute))

	It("the operator keeps managing the instance with its NetworkPolicy on: a killed master is replaced by a promoted replica", Label(labelDataDisruptive), func(ctx SpecContext) {
		reportDataPlane()
		requireEnforcement(ctx)
		old := networkInstance(ctx).Master
		pols, _ := policies(ctx, old.Namespace)
		Expect(selecting(pols, old)).NotTo(BeEmpty(), "no NetworkPolicy selects the master %s: the failover would prove nothing about the policy", old.Name)
		zero := int64(0)
		Expect(k8s.Delete(ctx, old, &client.DeleteOptions{GracePeriodSeconds: &zero})).To(Succeed())
		_, err := wait.For(ctx, "the operator to promote a pod other than "+old.Name+" (role=master, Ready) through the admin port its NetworkPolicy admits", wait.FailoverRecovered,
			func(ctx context.Context) (bool, string, error) {
				r, err := instance.Discover(ctx, k8s, instances.Namespace, instances.Replicated)
				if err != nil {
					return false, err.Error(), nil
				}
				nm, why := r.Promoted(old, "")
				return nm != nil, why, nil
			})
		Expect(err).NotTo(HaveOccurred())
		_, err = instance.WaitReady(ctx, k8s, instances.Namespace, instances.Replicated)
		Expect(err).NotTo(HaveOccurred(), "the instance did not become Ready again with the policy on")
	}, NodeTimeout(8*time.Minute))
})

// deniesOperator is the planted policy: the operator's policy for master's
// instance with every admin-port peer that admits the operator's pods
// removed, selecting the planted server instead.
func deniesOperator(ctx context.Context, master *corev1.Pod, planted string) *networkingv1.NetworkPolicy {
	GinkgoHelper()
	pols, _ := policies(ctx, master.Namespace)
	sel := selecting(pols, master)
	Expect(sel).NotTo(BeEmpty(), "no NetworkPolicy selects %s/%s to copy", master.Namespace, master.Name)
	opPeer := netpolcheck.Peer{Namespace: operator.Namespace, Labels: map[string]string{netpolcheck.OperatorLabelKey: netpolcheck.OperatorLabelValue}}
	out := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: master.Namespace, Name: planted + "-denies-operator"}}
	out.Spec = *sel[0].Spec.DeepCopy()
	out.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": planted}}
	var ingress []networkingv1.NetworkPolicyIngressRule
	for _, r := range out.Spec.Ingress {
		var from []networkingv1.NetworkPolicyPeer
		for _, f := range r.From {
			probe := networkingv1.NetworkPolicy{ObjectMeta: out.ObjectMeta, Spec: networkingv1.NetworkPolicySpec{
				PodSelector: out.Spec.PodSelector, Ingress: []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{f}}}}}
			a, err := netpolcheck.Admit([]networkingv1.NetworkPolicy{probe},
				netpolcheck.Target{Namespace: master.Namespace, Labels: map[string]string{"app": planted}, Port: netpolcheck.AdminPort},
				netpolcheck.Peer{Namespace: opPeer.Namespace, Labels: opPeer.Labels, NamespaceLabels: namespaceLabels(ctx, opPeer.Namespace)})
			Expect(err).NotTo(HaveOccurred())
			if len(a.Admitting) == 0 {
				from = append(from, f)
			}
		}
		if len(r.From) > 0 && len(from) == 0 {
			continue // the rule admitted only the operator
		}
		if len(r.From) == 0 {
			continue // from anywhere: the operator too
		}
		r.From = from
		ingress = append(ingress, r)
	}
	out.Spec.Ingress = ingress
	return out
}

// selecting are the policies whose podSelector selects pod.
func selecting(pols []networkingv1.NetworkPolicy, pod *corev1.Pod) []networkingv1.NetworkPolicy {
	var out []networkingv1.NetworkPolicy
	for _, p := range pols {
		s, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err == nil && p.Namespace == pod.Namespace && s.Matches(labels.Set(pod.Labels)) {
			out = append(out, p)
		}
	}
	return out
}
