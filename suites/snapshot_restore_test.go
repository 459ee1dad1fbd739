//go:build e2e

package suites

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/standin"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/instance"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
)

const datasetSeed = 20261126

func datasetSpec() dataset.Spec {
	n := dataset.DefaultKeys
	k, set, err := config.FromEnv().DatasetKeysValue()
	if err != nil {
		Fail(err.Error())
	}
	if set {
		n = k
	}
	return dataset.Spec{Keys: n, Seed: datasetSeed}
}

// snapshotTargetsSelected reads DFE2E_SNAPSHOT_TARGET: a comma list of
// "dragonfly" (default) and "redis-standin".
func snapshotTargetsSelected() []string {
	v := config.FromEnv().SnapshotTarget
	if v == "" {
		return []string{"dragonfly"}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(s))
	}
	return out
}

// snapState is one target's run: deployed once, then disrupted spec by spec.
type snapState struct {
	t       snapTarget
	key     string // dragonfly | redis-standin
	skip    string // why every spec skips (not selected, or blocked)
	ds      dataset.Spec
	loaded  bool
	podNode string
}

// needNodes skips on envtest: these specs need a kubelet, images and storage.
func needNodes() {
	if provider != nil && provider.Name() == "envtest" {
		Skip("needs a cluster with nodes and local-path storage (make e2e, or DFE2E_CLUSTER=kind|kubeconfig); envtest has an API server only")
	}
}

func (s *snapState) require() {
	needNodes()
	if s.skip != "" {
		Skip(s.skip)
	}
	if s.t.standIn() != "" {
		AddReportEntry(reports.StandInEntry, s.t.standIn())
	}
}

// forward opens a port-forward to the target's current master on port.
func (s *snapState) forward(ctx context.Context, port int, since time.Time) (*instance.Forward, *corev1.Pod) {
	GinkgoHelper()
	m, err := s.t.master(ctx, since)
	Expect(err).NotTo(HaveOccurred())
	f, err := instance.PortForward(ctx, restConfig(), clientset, m.Namespace, m.Name, port)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(f.Close)
	s.podNode = m.Spec.NodeName
	return f, m
}

// survived waits for the target to serve again after a disruption at since,
// records the time to Ready, and verifies the dataset: nil when no key was
// lost, else an error naming the lost keys and where the snapshot dir lives.
func (s *snapState) survived(ctx context.Context, kind, detail string, since time.Time) error {
	disruption := kind + " (" + detail + ")"
	m, err := s.t.master(ctx, since)
	if err != nil {
		return fmt.Errorf("%s did not serve again after %s: %w", s.t.label(), disruption, err)
	}
	ready := time.Since(since)
	// Named by target and kind of disruption only, so runs compare.
	metric := reports.Metric{Name: fmt.Sprintf("%s: time to Ready after %s", s.t.label(), kind), Unit: "s",
		Better: reports.Lower, Values: []float64{ready.Seconds()}}
	AddReportEntry(reports.MetricEntry, metric)
	GinkgoWriter.Printf("%s: Ready %s after %s (pod %s)\n", s.t.label(), ready.Round(100*time.Millisecond), disruption, m.Name)
	f, err := instance.PortForward(ctx, restConfig(), clientset, m.Namespace, m.Name, s.t.dataPort())
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := dataset.Connect(ctx, f.Addr, "", 4)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := dataset.Verify(ctx, c, s.ds, dataset.Options{})
	if err != nil {
		return err
	}
	GinkgoWriter.Printf("%s after %s: %s (verified in %s)\n", s.t.label(), disruption, r, r.Duration.Round(time.Millisecond))
	if r.Lost() == 0 && r.ExtraCount == 0 {
		return nil
	}
	where, _ := standin.DirVolume(m, s.t.container(), s.t.snapshotDir())
	return fmt.Errorf("%s lost data across %s: %s — %s", s.t.label(), disruption, r, where)
}

// snapshotsBounded takes one snapshot, then five more with changes between
// them, and fails when the snapshot dir holds more files than after the
// first: a dir that grows with every snapshot fills the volume.
func (s *snapState) snapshotsBounded(ctx context.Context) error {
	f, m := s.forward(ctx, s.t.adminPort(), time.Time{})
	c, err := dataset.Connect(ctx, f.Addr, "", 1)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := s.t.save(ctx, c); err != nil {
		return fmt.Errorf("SAVE on %s: %w", s.t.label(), err)
	}
	first, err := s.snapshotFiles(ctx, m)
	if err != nil {
		return err
	}
	if len(first) == 0 {
		return fmt.Errorf("no file in snapshot dir %s of %s after SAVE", s.t.snapshotDir(), m.Name)
	}
	for i := 0; i < 4; i++ {
		if err := c.Set(ctx, "dfe2e:snapshot-round", i, 0).Err(); err != nil {
			return err
		}
		if err := s.t.save(ctx, c); err != nil {
			return fmt.Errorf("SAVE on %s: %w", s.t.label(), err)
		}
	}
	if err := c.Del(ctx, "dfe2e:snapshot-round").Err(); err != nil {
		return err
	}
	after, err := s.snapshotFiles(ctx, m)
	if err != nil {
		return err
	}
	GinkgoWriter.Printf("snapshot dir %s: after 1 SAVE %v, after 5 %v\n", s.t.snapshotDir(), first, after)
	if len(after) > len(first) {
		return fmt.Errorf("snapshot dir %s grows with every snapshot: %d files after one SAVE, %d after five (%s) — the volume will fill",
			s.t.snapshotDir(), len(first), len(after), strings.Join(after, " "))
	}
	return nil
}

// snapshotFiles lists the snapshot dir of the master.
func (s *snapState) snapshotFiles(ctx context.Context, m *corev1.Pod) ([]string, error) {
	out, err := instance.Exec(ctx, restConfig(), clientset, m.Namespace, m.Name, s.t.container(), s.t.lsCommand()...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

func newSnapState(key string) *snapState {
	s := &snapState{key: key}
	switch key {
	case "dragonfly":
		s.t = &dragonflyTarget{name: instances.Snapshot}
	case standin.TargetName:
		s.t = &standinTarget{o: standin.Default(instances.Namespace, "")}
	}
	if !slices.Contains(snapshotTargetsSelected(), key) {
		s.skip = fmt.Sprintf("snapshot target %s not selected (%s=%s; set %s=dragonfly,%s to run both)",
			key, config.EnvSnapshotTarget, strings.Join(snapshotTargetsSelected(), ","), config.EnvSnapshotTarget, standin.TargetName)
	}
	return s
}

var _ = Describe("Snapshot and restore", Label(LabelSnapshotRestore), func() {
	for _, key := range []string{"dragonfly", standin.TargetName} {
		s := newSnapState(key)
		title := s.t.label()
		if s.t.standIn() != "" {
			title += " [stand-in: " + s.t.standIn() + "]"
		}
		Context(title, Ordered, func() {
			BeforeAll(func(ctx SpecContext) {
				atLevel(High)
				if s.skip != "" || (provider != nil && provider.Name() == "envtest") {
					return
				}
				for _, k := range snapshotTargetsSelected() {
					if k != "dragonfly" && k != standin.TargetName {
						Fail(fmt.Sprintf("%s=%q: unknown target %q; use dragonfly and/or %s", config.EnvSnapshotTarget, config.FromEnv().SnapshotTarget, k, standin.TargetName))
					}
				}
				s.ds = datasetSpec()
				blocked, err := s.t.deploy(ctx)
				Expect(err).NotTo(HaveOccurred())
				s.skip = blocked
			}, NodeTimeout(10*time.Minute))
			AfterAll(func(ctx SpecContext) {
				if s.skip == "" || s.loaded {
					s.t.teardown(ctx)
				}
			}, NodeTimeout(3*time.Minute))

			It("loads the dataset through a port-forward to the master", func(ctx SpecContext) {
				s.require()
				f, _ := s.forward(ctx, s.t.dataPort(), time.Time{})
				c, err := dataset.Connect(ctx, f.Addr, "", 4)
				Expect(err).NotTo(HaveOccurred())
				defer c.Close()
				w, err := dataset.Write(ctx, c, s.ds, dataset.Options{})
				Expect(err).NotTo(HaveOccurred())
				s.loaded = true
				AddReportEntry(reports.MetricEntry, reports.Metric{Name: s.t.label() + ": dataset write through port-forward", Unit: "s", Better: reports.Lower, Values: []float64{w.Duration.Seconds()}})
				r, err := dataset.Verify(ctx, c, s.ds, dataset.Options{})
				Expect(err).NotTo(HaveOccurred())
				Expect(r.Err()).NotTo(HaveOccurred())
				GinkgoWriter.Printf("wrote %d keys in %s, verified in %s\n", s.ds.Keys, w.Duration.Round(time.Millisecond), r.Duration.Round(time.Millisecond))
			}, NodeTimeout(5*time.Minute))

			It("SAVE writes a snapshot file into the snapshot dir, and repeated snapshots do not add files", func(ctx SpecContext) {
				s.require()
				Expect(s.loaded).To(BeTrue(), "the dataset was not loaded")
				Expect(s.snapshotsBounded(ctx)).To(Succeed())
			}, NodeTimeout(3*time.Minute))

			It("takes periodic snapshots without being asked (cron / save policy)", func(ctx SpecContext) {
				s.require()
				f, _ := s.forward(ctx, s.t.adminPort(), time.Time{})
				c, err := dataset.Connect(ctx, f.Addr, "", 1)
				Expect(err).NotTo(HaveOccurred())
				defer c.Close()
				before, err := c.LastSave(ctx).Result()
				Expect(err).NotTo(HaveOccurred())
				Expect(c.Set(ctx, "dfe2e:periodic", "1", 0).Err()).To(Succeed())
				defer c.Del(context.Background(), "dfe2e:periodic")
				_, err = wait.For(ctx, s.t.label()+" to take a snapshot on its own (LASTSAVE to advance)", wait.PeriodicSnapshot,
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
				s.require()
				Expect(s.loaded).To(BeTrue(), "the dataset was not loaded")
				m, err := s.t.master(ctx, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				since := time.Now()
				Expect(k8s.Delete(ctx, m)).To(Succeed())
				Expect(s.survived(ctx, "master pod deletion", m.Name, since)).To(Succeed())
			}, NodeTimeout(8*time.Minute))

			It("keeps every key when scaled to 0 and back", func(ctx SpecContext) {
				s.require()
				Expect(s.loaded).To(BeTrue(), "the dataset was not loaded")
				Expect(s.t.scale(ctx, 0)).To(Succeed())
				_, err := wait.For(ctx, s.t.label()+" to have no pods", wait.PodsReady, s.t.podsGone)
				Expect(err).NotTo(HaveOccurred())
				since := time.Now() // time to Ready counts from the scale-up
				Expect(s.t.scale(ctx, 1)).To(Succeed())
				Expect(s.survived(ctx, "scale 0 → 1", "all pods removed first", since)).To(Succeed())
			}, NodeTimeout(10*time.Minute))

			It("keeps every key when the kind node container restarts", Label(labelDataDisruptive), func(ctx SpecContext) {
				s.require()
				Expect(s.loaded).To(BeTrue(), "the dataset was not loaded")
				if provider.Name() != "kind" {
					Skip("restarting the node container needs the kind cluster of this run (DFE2E_CLUSTER=kind); provider is " + provider.Name())
				}
				m, err := s.t.master(ctx, time.Time{})
				Expect(err).NotTo(HaveOccurred())
				since := time.Now()
				Expect(restartKindNode(ctx, m.Spec.NodeName)).To(Succeed())
				Expect(s.survived(ctx, "node container restart", "kind node "+m.Spec.NodeName, since)).To(Succeed())
			}, NodeTimeout(12*time.Minute))
		})
	}
})

// Planted defect: the snapshot dir off the volume. The same survival check
// must fail after a pod deletion, naming the dir.
var _ = Describe("Snapshot dir off the volume (planted defect)", Label(LabelSnapshotRestore, LabelDataSelfTest), func() {
	for _, key := range []string{"dragonfly", standin.TargetName} {
		s := newSnapState(key)
		var dir string
		switch key {
		case "dragonfly":
			s.t = &dragonflyTarget{name: instances.SnapshotOffVolume}
		default:
			s.t = &standinTarget{o: standin.OffVolume(instances.Namespace, "")}
		}
		dir = s.t.snapshotDir()
		It("makes the survival check fail naming "+dir+" ("+s.t.label()+")", func(ctx SpecContext) {
			atLevel(Medium)
			needNodes()
			if s.skip != "" {
				Skip(s.skip)
			}
			s.ds = dataset.Spec{Keys: 5000, Seed: datasetSeed + 1}
			blocked, err := s.t.deploy(ctx)
			DeferCleanup(func(ctx SpecContext) { s.t.teardown(ctx) }, NodeTimeout(3*time.Minute))
			Expect(err).NotTo(HaveOccurred())
			if blocked != "" {
				Skip(blocked)
			}
			s.require()
			f, _ := s.forward(ctx, s.t.dataPort(), time.Time{})
			c, err := dataset.Connect(ctx, f.Addr, "", 2)
			Expect(err).NotTo(HaveOccurred())
			_, err = dataset.Write(ctx, c, s.ds, dataset.Options{})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Save(ctx).Err()).To(Succeed())
			c.Close()
			m, err := s.t.master(ctx, time.Time{})
			Expect(err).NotTo(HaveOccurred())
			since := time.Now()
			Expect(k8s.Delete(ctx, m)).To(Succeed())
			err = s.survived(ctx, "master pod deletion", m.Name, since)
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
		s := newSnapState(standin.TargetName)
		if s.skip != "" {
			Skip(s.skip)
		}
		o := standin.Default(instances.Namespace, "")
		o.Name, o.TimestampedSnapshots = standin.GrowingName, true
		s.t = &standinTarget{o: o}
		blocked, err := s.t.deploy(ctx)
		DeferCleanup(func(ctx SpecContext) { s.t.teardown(ctx) }, NodeTimeout(3*time.Minute))
		Expect(err).NotTo(HaveOccurred())
		if blocked != "" {
			Skip(blocked)
		}
		s.require()
		err = s.snapshotsBounded(ctx)
		Expect(err).To(HaveOccurred(), "the check passed although every snapshot is kept under its own name")
		Expect(err.Error()).To(And(ContainSubstring(standin.SnapshotDir), ContainSubstring("grows with every snapshot")))
		GinkgoWriter.Printf("planted defect detected: %v\n", err)
	}, NodeTimeout(6*time.Minute))
})
