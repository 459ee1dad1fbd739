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
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/takeover"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

var _ = Describe("Node failure", Label(LabelNodeFailure, labelDataDisruptive), func() {
	bound := "within " + nodes.FailoverBound().String() + " (node-monitor-grace-period " + nodes.Monitor.String() + " + " + string(wait.FailoverRecovered) + ")"
	It("promotes a replica on another node when the master's node is stopped under write load; the Service follows "+bound+"; RTO and RPO are reported; no acknowledged write is lost beyond the replication-lag tail", func(ctx SpecContext) {
		nodeFailover(ctx, nodes.Stop)
	}, NodeTimeout(15*time.Minute))
	It("promotes a replica on another node when the master's node is paused (unreachable, not gone) under write load; the Service follows "+bound+"; RTO and RPO are reported; no acknowledged write is lost beyond the replication-lag tail", func(ctx SpecContext) {
		nodeFailover(ctx, nodes.Pause)
	}, NodeTimeout(15*time.Minute))
})

// The spread spec runs with the failover specs (the default filter) and the
// node-failure ones: a node failure is survivable only if the replicas are
// on other nodes than the master.
var _ = Describe("Pod spread", Label(LabelFailover, LabelNodeFailure), func() {
	It("places the replicated instance's pods on different nodes (pod anti-affinity on "+instances.SpreadKey+"): no node holds more pods than an even spread over the schedulable nodes puts on one", func(ctx SpecContext) {
		reportDataPlane()
		atLevel(High)
		needNodes()
		sched := schedulableNodes(ctx)
		if len(sched) < 2 {
			Skip(fmt.Sprintf("needs 2 or more schedulable nodes to spread pods over; this cluster has %d (%v; dfe2e e2e --nodes 3)", len(sched), sched))
		}
		t := &targets.Dragonfly{Name: instances.Replicated, Env: dataEnv}
		blocked, err := t.Deploy(ctx)
		DeferCleanup(func(ctx SpecContext) { t.Teardown(ctx) }, NodeTimeout(3*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		if blocked != "" {
			Skip(blocked)
		}
		_, err = instance.WaitReady(ctx, k8s, instances.Namespace, instances.Replicated)
		Expect(err).NotTo(HaveOccurred())
		expectSpread(ctx, schedulableNodes(ctx))
	}, NodeTimeout(6*time.Minute))
})

// schedulableNodes are the nodes the instance's pods can be placed on.
func schedulableNodes(ctx context.Context) []string {
	GinkgoHelper()
	var list corev1.NodeList
	Expect(k8s.List(ctx, &list)).To(Succeed())
	return nodes.Schedulable(list.Items)
}

// expectSpread fails naming the node that holds more of the replicated
// instance's pods than an even spread over sched allows, with the pod
// template's anti-affinity as the operator rendered it (absent: the
// operator dropped spec.affinity).
func expectSpread(ctx context.Context, sched []string) {
	GinkgoHelper()
	By(fmt.Sprintf("checking that the pods of %s are spread over the schedulable nodes %v", instances.Replicated, sched))
	var pods corev1.PodList
	Expect(k8s.List(ctx, &pods, client.InNamespace(instances.Namespace), client.MatchingLabels{dfapi.AppLabel: instances.Replicated})).To(Succeed())
	Expect(nodes.CheckSpread(pods.Items, sched)).To(Succeed(), func() string {
		var sts appsv1.StatefulSet
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: instances.Namespace, Name: instances.Replicated}, &sts); err != nil {
			return "StatefulSet: " + err.Error()
		}
		if a := sts.Spec.Template.Spec.Affinity; a == nil || a.PodAntiAffinity == nil {
			return "the StatefulSet's pod template has no pod anti-affinity: the operator did not copy spec.affinity"
		}
		return fmt.Sprintf("the StatefulSet's pod template has the anti-affinity %+v", sts.Spec.Template.Spec.Affinity.PodAntiAffinity)
	})
}

// needSeveralKindNodes skips where no node can be failed: one node (the
// control plane itself), or nodes this process cannot stop (not kind).
func needSeveralKindNodes(ctx context.Context) {
	GinkgoHelper()
	needNodes()
	if provider.Name() != "kind" {
		Skip("stops and pauses kind node containers with docker; the cluster is " + provider.Name())
	}
	n, err := nodes.Count(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	if n < 2 {
		Skip(fmt.Sprintf("needs a cluster of 2 or more nodes to fail one under the master; this one has %d (dfe2e e2e --nodes 3)", n))
	}
}

func nodeFailover(ctx SpecContext, d nodes.Disruption) {
	reportDataPlane()
	atLevel(High)
	needSeveralKindNodes(ctx)
	old, ds := replicatedWithDataset(ctx)
	node := old.Spec.NodeName
	appLabels := map[string]string{dfapi.AppLabel: instances.Replicated}
	evidence := func(ctx context.Context) string {
		return nodes.Evidence(ctx, k8s, clientset, instances.Namespace, appLabels)
	}

	expectSpread(ctx, schedulableNodes(ctx))

	By("checking that a Ready replica runs on another node than the master's node " + node)
	roles, err := instance.Discover(ctx, k8s, instances.Namespace, instances.Replicated)
	Expect(err).NotTo(HaveOccurred())
	survivors := 0
	for i := range roles.Others {
		if roles.Others[i].Spec.NodeName != node && instance.PodReady(&roles.Others[i]) {
			survivors++
		}
	}
	Expect(survivors).To(BeNumerically(">", 0), func() string {
		return "no Ready replica outside the master's node " + node + ": nothing could take over when it fails\n" + evidence(ctx)
	})

	By("running the operator on another node than " + node)
	moved, err := nodes.MoveOperatorOff(ctx, k8s, node)
	Expect(err).NotTo(HaveOccurred())
	if moved {
		GinkgoWriter.Printf("the operator ran on %s, the master's node: moved it off (a failover needs a live operator)\n", node)
	}

	By(fmt.Sprintf("writing through the Service, then the %s of node %s under the master %s", d, node, old.Name))
	sf, log, stopWriter := writeThroughService(ctx, instances.Namespace, instances.Replicated, 200)
	// Registered before the disruption, so it runs before the instance's
	// teardown (cleanups run last first), which could not delete pods on a
	// dead node. The failover assertions below carry the evidence (read
	// while the node is still down).
	DeferCleanup(func(ctx SpecContext) {
		start := time.Now()
		Expect(nodes.Restore(ctx, k8s, node)).To(Succeed(), "restoring node %s after its %s", node, d)
		GinkgoWriter.Printf("node %s restored and Ready in %s\n", node, time.Since(start).Round(time.Second))
	}, NodeTimeout(6*time.Minute))

	start := time.Now()
	Expect(nodes.Disrupt(ctx, node, d)).To(Succeed())
	kill := failover.Kill{At: time.Now(), Addr: sf.AddrOf(old.Name)}
	GinkgoWriter.Printf("docker %s %s took %s\n", d, node, kill.At.Sub(start).Round(time.Millisecond))

	By("waiting, " + nodes.FailoverBound().String() + " from the " + string(d) + ", for writes through the Service to succeed on another pod")
	rto, err := nodes.RecoveryTime(ctx, log, start, kill, nodes.FailoverBound(), fmt.Sprintf("the %s of node %s", d, node))
	Expect(err).NotTo(HaveOccurred(), func() string { return evidence(ctx) })
	reportMetric(reports.Metric{Name: "node " + string(d) + " RTO (" + instances.Replicated + ")", Unit: "s", Better: reports.Lower, Values: []float64{rto.Seconds()}})

	By("finding the new master by its role label on another node, and the Service pointing at it")
	var nm *corev1.Pod
	_, err = wait.ForDuration(ctx, "a pod other than "+old.Name+", on another node than "+node+", to be labelled role=master and Ready", nodes.FailoverBound()-time.Since(start)+wait.Timeout(wait.FailoverRecovered),
		func(ctx context.Context) (bool, string, error) {
			r, err := instance.Discover(ctx, k8s, instances.Namespace, instances.Replicated)
			if err != nil {
				return false, err.Error(), nil
			}
			var why string
			nm, why = r.Promoted(old, node)
			return nm != nil, why, nil
		})
	Expect(err).NotTo(HaveOccurred(), func() string { return evidence(ctx) })
	Expect(failover.WaitServiceFollows(ctx, sf.Pod, old.Name, nm.Name)).To(Succeed(), func() string { return evidence(ctx) })
	stopWriter()
	if n, err := nodeNotReadyAfter(ctx, node, start); err == nil {
		GinkgoWriter.Printf("node %s marked not Ready %s after the %s\n", node, n.Round(time.Second), d)
	}

	By("judging the acknowledged writes missing on the new master (RPO) against the replication-lag bound, and verifying the dataset")
	held, err := takeover.Check(ctx, restConfig(), clientset, nm, log, ds)
	Expect(err).NotTo(HaveOccurred())
	rpo := held.RPO.Judge(kill, failover.ReplicationLag)
	suffix := ", acknowledged writes lost; bound " + rpo.Bound.String() + ")"
	reportMetric(reports.Metric{Name: "node " + string(d) + " RPO (" + instances.Replicated + suffix, Unit: "writes", Better: reports.Lower, Values: []float64{float64(rpo.LostWrites())}})
	GinkgoWriter.Printf("%s of node %s: old master %s → new master %s on %s: RTO %s, RPO %s; %s\n", d, node, old.Name, nm.Name, nm.Spec.NodeName, rto.Round(time.Millisecond), rpo, held.RPO)
	Expect(rpo.Err()).NotTo(HaveOccurred(), "acknowledged writes lost in the %s of node %s, beyond the replication lag", d, node)
	Expect(held.Dataset.Err()).NotTo(HaveOccurred())
}

// nodeNotReadyAfter is how long after start the node's Ready condition left
// True (from its transition time; informational).
func nodeNotReadyAfter(ctx context.Context, node string, start time.Time) (time.Duration, error) {
	var n corev1.Node
	if err := k8s.Get(ctx, client.ObjectKey{Name: node}, &n); err != nil {
		return 0, err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
			return c.LastTransitionTime.Sub(start), nil
		}
	}
	return 0, fmt.Errorf("node %s is Ready", node)
}
