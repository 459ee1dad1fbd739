//go:build e2e

package suites

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/images"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/snapshots"
)

// foPair is the failover stand-in: master a, replica b, Service on role=master.
type foPair struct {
	a, b *corev1.Pod
	svc  *corev1.Service
}

func (p *foPair) teardown(ctx context.Context) {
	for _, o := range []client.Object{p.a, p.b, p.svc} {
		objects.DeleteAndForget(ctx, k8s, o)
	}
}

// setupFailoverStandIn starts the pair and makes b a replica of a; blocked
// when the stand-in image cannot be put on the node.
func setupFailoverStandIn(ctx context.Context) (*foPair, string) {
	GinkgoHelper()
	img, err := images.EnsureStandIn(ctx, func(f string, a ...any) { GinkgoWriter.Printf(f+"\n", a...) })
	Expect(err).NotTo(HaveOccurred())
	blocked, err := nodes.EnsureImage(ctx, k8s, provider.Name(), img.Ref, img.Archive, GinkgoWriter.Printf)
	Expect(err).NotTo(HaveOccurred())
	if blocked != "" {
		return nil, blocked
	}
	a, b, svc := standin.FailoverObjects(instances.Namespace, img.Ref)
	p := &foPair{a: a, b: b, svc: svc}
	p.teardown(ctx)
	DeferCleanup(func(ctx SpecContext) { p.teardown(ctx) }, NodeTimeout(2*time.Minute))
	for _, o := range []client.Object{svc, a, b} {
		Expect(k8s.Create(ctx, o)).To(Succeed())
	}
	for _, pod := range []*corev1.Pod{a, b} {
		_, err := wait.For(ctx, "pod "+pod.Name+" to be Ready", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return false, err.Error(), nil
			}
			return instance.PodReady(pod), string(pod.Status.Phase), nil
		})
		Expect(err).NotTo(HaveOccurred())
	}
	bc := forwardClient(ctx, b)
	Expect(bc.SlaveOf(ctx, a.Status.PodIP, "6379").Err()).To(Succeed())
	_, err = wait.For(ctx, b.Name+" to replicate from "+a.Name, wait.PodsReady, func(ctx context.Context) (bool, string, error) {
		info, err := bc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up"), "", nil
	})
	Expect(err).NotTo(HaveOccurred())
	return p, ""
}

// forwardClient is a dataset client to pod p through a port-forward (closed
// at the end of the spec).
func forwardClient(ctx context.Context, p *corev1.Pod) *redis.Client {
	GinkgoHelper()
	f, err := instance.PortForward(ctx, restConfig(), clientset, p.Namespace, p.Name, 6379)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.Close)
	c, err := dataset.Connect(ctx, f.Addr, "", 2)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	return c
}

// killAndPromote deletes the master pod (grace 0) and does what the operator
// would: REPLICAOF NO ONE on b, then (when relabel) moves role=master to b.
func killAndPromote(ctx context.Context, p *foPair, bc *redis.Client, relabel bool) time.Time {
	GinkgoHelper()
	zero := int64(0)
	Expect(k8s.Delete(ctx, p.a, &client.DeleteOptions{GracePeriodSeconds: &zero})).To(Succeed())
	killedAt := time.Now()
	Expect(bc.SlaveOf(ctx, "NO", "ONE").Err()).To(Succeed())
	if relabel {
		patch := client.MergeFrom(p.b.DeepCopy())
		p.b.Labels[standin.RoleLabel] = "master"
		Expect(k8s.Patch(ctx, p.b, patch)).To(Succeed())
	}
	return killedAt
}

var _ = Describe("Failover machinery on a stand-in [stand-in: "+standin.Description+"]", Label(LabelFailover), func() {
	It("measures RTO, counts RPO exactly and sees the Service follow when the replica is promoted (promotion done by the test, not an operator)", func(ctx SpecContext) {
		atLevel(High)
		needNodes()
		p, blocked := setupFailoverStandIn(ctx)
		if blocked != "" {
			Skip(blocked)
		}
		AddReportEntry(reports.StandInEntry, standin.Description)
		ac, bc := forwardClient(ctx, p.a), forwardClient(ctx, p.b)
		ds := dataset.Spec{Keys: 20000, Seed: snapshots.Seed + 3}
		_, err := dataset.Write(ctx, ac, ds, dataset.Options{})
		Expect(err).NotTo(HaveOccurred())
		_, err = wait.For(ctx, "the replica to hold the whole dataset", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
			n, err := bc.DBSize(ctx).Result()
			return err == nil && n >= int64(ds.Keys), fmt.Sprintf("%d keys", n), nil
		})
		Expect(err).NotTo(HaveOccurred())

		sf, log, stopWriter := writeThroughService(ctx, instances.Namespace, standin.FailoverService, 200)

		killedAt := killAndPromote(ctx, p, bc, true)
		rto, err := failover.MeasureRTO(ctx, log, killedAt, sf.AddrOf(standin.FailoverA))
		Expect(err).NotTo(HaveOccurred())
		Expect(failover.WaitServiceFollows(ctx, sf.Pod, standin.FailoverA, standin.FailoverB)).To(Succeed())
		stopWriter()

		rpo, err := failover.CountRPO(ctx, bc, log)
		Expect(err).NotTo(HaveOccurred())
		// Cross-check the count: which acknowledged keys does b hold (SCAN)?
		have := map[string]bool{}
		iter := bc.Scan(ctx, 0, failover.KeyPrefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			have[iter.Val()] = true
		}
		Expect(iter.Err()).NotTo(HaveOccurred())
		missing := 0
		for _, seq := range log.Acked() {
			if !have[failover.Key(seq)] {
				missing++
			}
		}
		GinkgoWriter.Printf("stand-in failover: RTO %s, RPO %s\n", rto.Round(time.Millisecond), rpo)
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RTO (redis-server stand-in, test-driven promotion)", Unit: "s", Better: reports.Lower, Values: []float64{rto.Seconds()}})
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RPO (redis-server stand-in, acknowledged writes lost)", Unit: "writes", Better: reports.Lower, Values: []float64{float64(rpo.Lost)}})
		Expect(rpo.Lost).To(Equal(missing), "CountRPO and an independent SCAN disagree")
		Expect(rpo.Acked).To(Equal(len(log.Acked())))
		r, err := dataset.Verify(ctx, bc, ds, dataset.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Err()).NotTo(HaveOccurred())
	}, NodeTimeout(6*time.Minute))

	It("detects a Service that keeps pointing at the dead master within "+string(wait.FailoverRecovered)+" (planted defect: no relabel)", Label(LabelDataSelfTest), func(ctx SpecContext) {
		atLevel(Medium)
		needNodes()
		p, blocked := setupFailoverStandIn(ctx)
		if blocked != "" {
			Skip(blocked)
		}
		AddReportEntry(reports.StandInEntry, standin.Description)
		bc := forwardClient(ctx, p.b)
		sf, log, _ := writeThroughService(ctx, instances.Namespace, standin.FailoverService, 50)

		killedAt := killAndPromote(ctx, p, bc, false)
		// Both checks run at once, each bounded by FailoverRecovered.
		follows := make(chan error, 1)
		go func() { follows <- failover.WaitServiceFollows(ctx, sf.Pod, standin.FailoverA, standin.FailoverB) }()
		_, err := failover.MeasureRTO(ctx, log, killedAt, sf.AddrOf(standin.FailoverA))
		var re *failover.RecoveryError
		Expect(errors.As(err, &re)).To(BeTrue(), "RTO measured although the Service selects only the dead master: %v", err)
		err = <-follows
		took := time.Since(killedAt)
		Expect(took).To(BeNumerically("<", wait.Timeout(wait.FailoverRecovered)+30*time.Second), "detection is not bounded")
		// The reason, not just a failure: the stuck Service is named by the
		// master it is stuck on.
		Expect(err).To(MatchError(ContainSubstring("the dead master " + standin.FailoverA)))
		GinkgoWriter.Printf("planted defect detected after %s: %v; %v\n", took.Round(time.Millisecond), re, err)
		var gone corev1.Pod
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(p.a), &gone))).To(BeTrue(), "the master was not killed")
	}, NodeTimeout(6*time.Minute))
})
