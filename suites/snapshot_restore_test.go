//go:build e2e

package suites

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/nodes"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/snapshots"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/targets"
)

var _ = Describe("Snapshot and restore", Label(LabelSnapshotRestore), func() {
	for _, key := range []string{"dragonfly", standin.TargetName} {
		s := snapshots.New(key, config.FromEnv().SnapshotTarget, dataEnv, reportMetric)
		title := s.Target.Label()
		if s.Target.StandIn() != "" {
			title += " [stand-in: " + s.Target.StandIn() + "]"
		}
		Context(title, Ordered, func() {
			BeforeAll(func(ctx SpecContext) {
				atLevel(High)
				if s.Skip != "" || noNodes() != "" {
					return
				}
				if err := targets.CheckSelected(config.FromEnv().SnapshotTarget); err != nil {
					Fail(err.Error())
				}
				s.DS = datasetSpec()
				blocked, err := s.Target.Deploy(ctx)
				Expect(err).NotTo(HaveOccurred())
				s.Skip = blocked
			}, NodeTimeout(10*time.Minute))
			AfterAll(func(ctx SpecContext) {
				if s.Skip == "" || s.Loaded {
					s.Target.Teardown(ctx)
				}
			}, NodeTimeout(3*time.Minute))

			It("loads the dataset through a port-forward to the master", func(ctx SpecContext) {
				requireTarget(s)
				c, _, closeC, err := s.Connect(ctx, s.Target.DataPort(), 4, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				defer closeC()
				w, err := dataset.Write(ctx, c, s.DS, dataset.Options{})
				Expect(err).NotTo(HaveOccurred())
				s.Loaded = true
				AddReportEntry(reports.MetricEntry, reports.Metric{Name: s.Target.Label() + ": dataset write through port-forward", Unit: "s", Better: reports.Lower, Values: []float64{w.Duration.Seconds()}})
				r, err := dataset.Verify(ctx, c, s.DS, dataset.Options{})
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Err()).NotTo(HaveOccurred())
				GinkgoWriter.Printf("wrote %d keys in %s, verified in %s\n", s.DS.Keys, w.Duration.Round(time.Millisecond), r.Duration.Round(time.Millisecond))
			}, NodeTimeout(5*time.Minute))

			It("SAVE writes a snapshot file into the snapshot dir, and repeated snapshots do not add files", func(ctx SpecContext) {
				requireTarget(s)
				Expect(s.Loaded).To(BeTrue(), "the dataset was not loaded")
				Expect(s.SnapshotsBounded(ctx)).To(Succeed())
			}, NodeTimeout(3*time.Minute))

			It("takes periodic snapshots without being asked (cron / save policy)", func(ctx SpecContext) {
				requireTarget(s)
				c, _, closeC, err := s.Connect(ctx, s.Target.AdminPort(), 1, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				defer closeC()
				before, err := c.LastSave(ctx).Result()
				Expect(err).NotTo(HaveOccurred())
				Expect(c.Set(ctx, "dfe2e:periodic", "1", 0).Err()).To(Succeed())
				defer c.Del(context.Background(), "dfe2e:periodic")
				_, err = wait.For(ctx, s.Target.Label()+" to take a snapshot on its own (LASTSAVE to advance)", wait.PeriodicSnapshot,
					func(ctx context.Context) (bool, string, error) {
						now, err := c.LastSave(ctx).Result()
						if err != nil {
							return false, err.Error(), nil
						}
						return now > before, fmt.Sprintf("LASTSAVE %d", now), nil
					})
				Expect(err).NotTo(HaveOccurred())
			}, NodeTimeout(4*time.Minute))

			It("keeps every key when the master pod is deleted", func(ctx SpecContext) {
				requireTarget(s)
				Expect(s.Loaded).To(BeTrue(), "the dataset was not loaded")
				m, err := s.Target.Master(ctx, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				since := time.Now()
				Expect(k8s.Delete(ctx, m)).To(Succeed())
				Expect(s.Survived(ctx, "master pod deletion", m.Name, since)).To(Succeed())
			}, NodeTimeout(8*time.Minute))

			It("keeps every key when scaled to 0 and back", func(ctx SpecContext) {
				requireTarget(s)
				Expect(s.Loaded).To(BeTrue(), "the dataset was not loaded")
				Expect(s.Target.Scale(ctx, 0)).To(Succeed())
				_, err := wait.For(ctx, s.Target.Label()+" to have no pods", wait.PodsReady, s.Target.PodsGone)
				Expect(err).NotTo(HaveOccurred())
				since := time.Now() // time to Ready counts from the scale-up
				Expect(s.Target.Scale(ctx, 1)).To(Succeed())
				Expect(s.Survived(ctx, "scale 0 → 1", "all pods removed first", since)).To(Succeed())
			}, NodeTimeout(10*time.Minute))

			It("keeps every key when the kind node container restarts", Label(labelDataDisruptive), func(ctx SpecContext) {
				requireTarget(s)
				Expect(s.Loaded).To(BeTrue(), "the dataset was not loaded")
				needKindNodes()
				m, err := s.Target.Master(ctx, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				since := time.Now()
				Expect(nodes.RestartKind(ctx, k8s, m.Spec.NodeName)).To(Succeed())
				Expect(s.Survived(ctx, "node container restart", "kind node "+m.Spec.NodeName, since)).To(Succeed())
			}, NodeTimeout(12*time.Minute))
		})
	}
})

// Planted defect: the snapshot dir off the volume. The same survival check
// must fail after a pod deletion, naming the dir.
var _ = Describe("Snapshot dir off the volume (planted defect)", Label(LabelSnapshotRestore, LabelDataSelfTest), func() {
	for _, key := range []string{"dragonfly", standin.TargetName} {
		s := snapshots.New(key, config.FromEnv().SnapshotTarget, dataEnv, reportMetric)
		var dir string
		switch key {
		case "dragonfly":
			s.Target = &targets.Dragonfly{Name: instances.SnapshotOffVolume, Env: dataEnv}
		default:
			s.Target = &targets.StandIn{Options: standin.OffVolume(instances.Namespace, ""), Env: dataEnv}
		}
		dir = s.Target.SnapshotDir()
		It("makes the survival check fail naming "+dir+" ("+s.Target.Label()+")", func(ctx SpecContext) {
			atLevel(Medium)
			needNodes()
			if s.Skip != "" {
				Skip(s.Skip)
			}
			s.DS = dataset.Spec{Keys: 5000, Seed: snapshots.Seed + 1}
			blocked, err := s.Target.Deploy(ctx)
			DeferCleanup(func(ctx SpecContext) { s.Target.Teardown(ctx) }, NodeTimeout(3*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			if blocked != "" {
				Skip(blocked)
			}
			requireTarget(s)
			c, _, closeC, err := s.Connect(ctx, s.Target.DataPort(), 2, time.Time{})
			Expect(err).NotTo(HaveOccurred())
			_, err = dataset.Write(ctx, c, s.DS, dataset.Options{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Save(ctx).Err()).To(Succeed())
			closeC()
			m, err := s.Target.Master(ctx, time.Time{})
			Expect(err).NotTo(HaveOccurred())
			since := time.Now()
			Expect(k8s.Delete(ctx, m)).To(Succeed())
			err = s.Survived(ctx, "master pod deletion", m.Name, since)
			Expect(err).To(HaveOccurred(), "the check passed although snapshots were written to %s, off the volume", dir)
			Expect(err.Error()).To(And(ContainSubstring(dir), ContainSubstring("missing"), ContainSubstring("no volume")))
			GinkgoWriter.Printf("planted defect detected: %v\n", err)
		}, NodeTimeout(10*time.Minute))
	}
})

// Planted defect: a server that names every snapshot by its time (as
// Dragonfly's default --dbfilename dump-{timestamp} does) keeps them all;
// the bounded-count check must fail naming the dir and the counts.
var _ = Describe("Snapshots that accumulate (planted defect)", Label(LabelSnapshotRestore, LabelDataSelfTest), func() {
	It("makes the snapshot-count check fail naming the dir ("+standin.TargetName+")", func(ctx SpecContext) {
		atLevel(Medium)
		needNodes()
		s := snapshots.New(standin.TargetName, config.FromEnv().SnapshotTarget, dataEnv, reportMetric)
		if s.Skip != "" {
			Skip(s.Skip)
		}
		o := standin.Default(instances.Namespace, "")
		o.Name, o.TimestampedSnapshots = standin.GrowingName, true
		s.Target = &targets.StandIn{Options: o, Env: dataEnv}
		blocked, err := s.Target.Deploy(ctx)
		DeferCleanup(func(ctx SpecContext) { s.Target.Teardown(ctx) }, NodeTimeout(3*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		if blocked != "" {
			Skip(blocked)
		}
		requireTarget(s)
		err = s.SnapshotsBounded(ctx)
		Expect(err).To(HaveOccurred(), "the check passed although every snapshot is kept under its own name")
		Expect(err.Error()).To(And(ContainSubstring(standin.SnapshotDir), ContainSubstring("grows with every snapshot")))
		GinkgoWriter.Printf("planted defect detected: %v\n", err)
	}, NodeTimeout(6*time.Minute))
})
