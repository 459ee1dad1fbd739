//go:build e2e

package suites

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/snapshots"
)

var _ = Describe("Failover machinery on a stand-in [stand-in: "+standin.Description+"]", Label(LabelFailover), func() {
	It("measures RTO, counts RPO exactly and sees the Service follow when the replica is promoted (promotion done by the test, not an operator)", func(ctx SpecContext) {
		atLevel(High)
		p := startFailoverPair(ctx)
		ac, closeA, err := p.Connect(ctx, p.A)
		Expect(err).NotTo(HaveOccurred())
		defer closeA()
		bc, closeB, err := p.Connect(ctx, p.B)
		Expect(err).NotTo(HaveOccurred())
		defer closeB()
		ds := dataset.Spec{Keys: 20000, Seed: snapshots.Seed + 3}
		_, err = dataset.Write(ctx, ac, ds, dataset.Options{})
		Expect(err).NotTo(HaveOccurred())
		_, err = wait.For(ctx, "the replica to hold the whole dataset", wait.PodsReady, func(ctx context.Context) (bool, string, error) {
			n, err := bc.DBSize(ctx).Result()
			return err == nil && n >= int64(ds.Keys), fmt.Sprintf("%d keys", n), nil
		})
		Expect(err).NotTo(HaveOccurred())

		sf, log, stopWriter := writeThroughService(ctx, instances.Namespace, standin.FailoverService, 200)

		killedAt, err := p.KillAndPromote(ctx, bc, true)
		Expect(err).NotTo(HaveOccurred())
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
		// Reported, not asserted: this spec proves the measuring; the bound
		// is asserted where the operator promotes (failover_kill_test.go).
		v := rpo.Judge(failover.Kill{At: killedAt, Addr: sf.AddrOf(standin.FailoverA)}, failover.ReplicationLag)
		GinkgoWriter.Printf("stand-in failover: RTO %s, RPO %s; %s\n", rto.Round(time.Millisecond), v, rpo)
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RTO (redis-server stand-in, test-driven promotion)", Unit: "s", Better: reports.Lower, Values: []float64{rto.Seconds()}})
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RPO (redis-server stand-in, acknowledged writes lost)", Unit: "writes", Better: reports.Lower, Values: []float64{float64(v.LostWrites())}})
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RPO (redis-server stand-in, time span of the lost writes; bound " + v.Bound.String() + ")", Unit: "ms", Better: reports.Lower, Values: []float64{v.SpanMillis()}})
		Expect(rpo.Lost).To(Equal(missing), "CountRPO and an independent SCAN disagree")
		Expect(v.LostWrites()).To(Equal(missing), "the loss judgement and an independent SCAN disagree")
		Expect(rpo.Acked).To(Equal(len(log.Acked())))
		r, err := dataset.Verify(ctx, bc, ds, dataset.Options{})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Err()).NotTo(HaveOccurred())
	}, NodeTimeout(6*time.Minute))

	It("detects a Service that keeps pointing at the dead master within "+string(wait.FailoverRecovered)+" (planted defect: no relabel)", Label(LabelDataSelfTest), func(ctx SpecContext) {
		atLevel(Medium)
		p := startFailoverPair(ctx)
		bc, closeB, err := p.Connect(ctx, p.B)
		Expect(err).NotTo(HaveOccurred())
		defer closeB()
		sf, log, _ := writeThroughService(ctx, instances.Namespace, standin.FailoverService, 50)

		killedAt, err := p.KillAndPromote(ctx, bc, false)
		Expect(err).NotTo(HaveOccurred())
		// Both checks run at once, each bounded by FailoverRecovered.
		follows := make(chan error, 1)
		go func() { follows <- failover.WaitServiceFollows(ctx, sf.Pod, standin.FailoverA, standin.FailoverB) }()
		_, err = failover.MeasureRTO(ctx, log, killedAt, sf.AddrOf(standin.FailoverA))
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
		Expect(apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(p.A), &gone))).To(BeTrue(), "the master was not killed")
	}, NodeTimeout(6*time.Minute))
})
