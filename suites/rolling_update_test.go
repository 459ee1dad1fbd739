//go:build e2e

package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/failover"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/rollout"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/sampling"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/takeover"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

// rolloutArg is the spec change that starts the rolling update: a real
// Dragonfly flag with a harmless value, so the same spec holds for Dragonfly.
const rolloutArg = "--maxclients=10001"

var _ = Describe("Rolling update", Label(LabelRollingUpdate, labelDataDisruptive), func() {
	It("replaces the pods one at a time when spec.args changes, hands the master to an updated replica and deletes the old master last; no acknowledged write is lost and the dataset is intact; takeover RTO and RPO are reported", func(ctx SpecContext) {
		reportDataPlane()
		atLevel(High)
		needNodes()
		oldMaster, ds := replicatedWithDataset(ctx)

		var sts appsv1.StatefulSet
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: instances.Namespace, Name: instances.Replicated}, &sts)).To(Succeed())
		oldRev := sts.Status.UpdateRevision

		By("sampling the pods while writing through the Service, then changing spec.args")
		stopSampling := sampling.Pods(ctx, k8s, instances.Namespace, instances.Replicated, sampling.Interval)
		DeferCleanup(func() { stopSampling() })
		sf, log, stopWriter := writeThroughService(ctx, instances.Namespace, instances.Replicated, 200)
		changedAt := time.Now()
		Expect((&targets.Dragonfly{Name: instances.Replicated, Env: dataEnv}).AppendArg(ctx, rolloutArg)).To(Succeed())

		var newRev string
		took, err := wait.For(ctx, "the operator to roll Dragonfly "+instances.Replicated+" to a new revision: every pod updated, Ready, one master", wait.RollingUpdateDone,
			func(ctx context.Context) (bool, string, error) {
				var s appsv1.StatefulSet
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: instances.Namespace, Name: instances.Replicated}, &s); err != nil {
					return false, err.Error(), nil
				}
				newRev = s.Status.UpdateRevision
				if newRev == oldRev {
					return false, "StatefulSet still at revision " + oldRev, nil
				}
				smp, err := rollout.Take(ctx, k8s, instances.Namespace, instances.Replicated)
				if err != nil {
					return false, err.Error(), nil
				}
				masters, updated := 0, 0
				for _, p := range smp.Pods {
					if p.Role == "master" {
						masters++
					}
					if p.Revision == newRev && p.Ready && !p.Deleting {
						updated++
					}
				}
				return updated == 3 && masters == 1 && len(smp.Pods) == 3, fmt.Sprintf("%d of 3 pods updated and Ready, %d masters", updated, masters), nil
			})
		all := stopSampling()
		Expect(err).NotTo(HaveOccurred(), "rolling update from %s (%d samples)", oldRev, len(all))
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "rolling update duration (" + instances.Replicated + ", 3 pods)", Unit: "s", Better: reports.Lower, Values: []float64{took.Seconds()}})

		By("judging the rollout: one pod at a time, master handed to an updated replica, old master last")
		r := rollout.Judge(all, oldRev, newRev, 3)
		GinkgoWriter.Printf("rollout %s → %s: %d samples, takeover to %s at +%s, most pods not serving at once: %d\n",
			oldRev, newRev, len(all), r.NewMaster, r.Takeover.Sub(changedAt).Round(time.Millisecond), r.MostUnavailable)
		Expect(r.Err()).NotTo(HaveOccurred())

		By("measuring the takeover: RTO from the takeover, RPO on the new master")
		rto, err := failover.MeasureRTO(ctx, log, r.Takeover, sf.AddrOf(oldMaster.Name))
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "rolling-update takeover RTO (" + instances.Replicated + ")", Unit: "s", Better: reports.Lower, Values: []float64{rto.Seconds()}})
		stopWriter()
		final, err := instance.Discover(ctx, k8s, instances.Namespace, instances.Replicated)
		Expect(err).NotTo(HaveOccurred())
		Expect(final.Master).NotTo(BeNil())
		held, err := takeover.Check(ctx, restConfig(), clientset, final.Master, log, ds)
		Expect(err).NotTo(HaveOccurred())
		rpo := held.RPO
		AddReportEntry(reports.MetricEntry, reports.Metric{Name: "rolling-update takeover RPO (" + instances.Replicated + ", acknowledged writes lost)", Unit: "writes", Better: reports.Lower, Values: []float64{float64(rpo.Lost)}})
		Expect(rpo.Lost).To(BeZero(), "acknowledged writes lost in the rolling update: %s", rpo)
		Expect(held.Dataset.Err()).NotTo(HaveOccurred())
	}, NodeTimeout(15*time.Minute))
})
