//go:build e2e

package suites

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/takeover"
)

var _ = Describe("Failover", Label(LabelFailover, labelDataDisruptive), func() {
	It("promotes a replica when the master is killed under write load; the Service follows; RTO and RPO are reported; no acknowledged write is lost beyond the replication-lag tail of the last "+failover.ReplicationLag.Window.String()+" before the kill", func(ctx SpecContext) {
		reportDataPlane()
		atLevel(High)
		needNodes()
		old, ds := replicatedWithDataset(ctx)

		By("writing through the Service and killing the master")
		sf, log, stopWriter := writeThroughService(ctx, instances.Namespace, instances.Replicated, 200)
		zero := int64(0)
		err := k8s.Delete(ctx, old, &client.DeleteOptions{GracePeriodSeconds: &zero})
		// Stamped as soon as the delete returned: the latest instant still
		// tied to the kill, so the loss window is not widened (see
		// failover.Judge).
		kill := failover.Kill{At: time.Now(), Addr: sf.AddrOf(old.Name)}
		Expect(err).NotTo(HaveOccurred(), "deleting the master %s", old.Name)

		rto, err := failover.MeasureRTO(ctx, log, kill.At, kill.Addr)
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RTO (" + instances.Replicated + ")", Unit: "s", Better: reports.Lower, Values: []float64{rto.Seconds()}})

		By("finding the new master by its role label, and the Service pointing at it")
		var nm *corev1.Pod
		_, err = wait.For(ctx, "a pod other than "+old.Name+" to be labelled role=master and Ready", wait.FailoverRecovered,
			func(ctx context.Context) (bool, string, error) {
				r, err := instance.Discover(ctx, k8s, instances.Namespace, instances.Replicated)
				if err != nil {
					return false, err.Error(), nil
				}
				var why string
				nm, why = r.Promoted(old, "")
				return nm != nil, why, nil
			})
		Expect(err).NotTo(HaveOccurred())
		Expect(failover.WaitServiceFollows(ctx, sf.Pod, old.Name, nm.Name)).To(Succeed())
		stopWriter()

		By("judging the acknowledged writes missing on the new master (RPO) against the replication-lag bound, and verifying the dataset")
		held, err := takeover.Check(ctx, restConfig(), clientset, nm, log, ds)
		Expect(err).NotTo(HaveOccurred())
		rpo := held.RPO.Judge(kill, failover.ReplicationLag)
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RPO (" + instances.Replicated + ", acknowledged writes lost)", Unit: "writes", Better: reports.Lower, Values: []float64{float64(rpo.LostWrites())}})
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "failover RPO (" + instances.Replicated + ", time span of the lost writes; bound " + rpo.Bound.String() + ")", Unit: "ms", Better: reports.Lower, Values: []float64{rpo.SpanMillis()}})
		GinkgoWriter.Printf("old master %s → new master %s: RTO %s, RPO %s; %s\n", old.Name, nm.Name, rto.Round(time.Millisecond), rpo, held.RPO)
		Expect(rpo.Err()).NotTo(HaveOccurred(), "acknowledged writes lost in the failover beyond the replication lag")
		Expect(held.Dataset.Err()).NotTo(HaveOccurred())
	}, NodeTimeout(15*time.Minute))
})
