//go:build e2e

package suites

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	fixture "github.com/dragonfly-e2e/dragonfly-e2e/fixtures/upgrade"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/upgradecheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/data/dataset"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/lint"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/reports"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/fluxfixture"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/upgrade"
)

// The hops of --upgrade-from/--upgrade-to, known when the spec tree is built
// (each hop is a spec named after its versions).
var upgradeChain, upgradeChainErr = upgradecheck.Chain(config.FromEnv().UpgradeFrom, config.FromEnv().UpgradeTo)

// upgradeRun is what BeforeAll set up for the ordered hops.
var upgradeRun struct {
	install upgrade.Install
	// head is the commit the repository serves and Flux applied.
	head   *upgrade.Commit
	served *gitserver.Served
	ds     dataset.Spec
	image  string
}

// The instances that hold the dataset.
var upgradeDataInstances = []string{fixture.Replicated, fixture.Snapshot}

var _ = Describe("Operator upgrade through Flux", Ordered, Label(LabelUpgrade, LabelDisruptive), func() {
	BeforeAll(func(ctx SpecContext) {
		needNodes()
		if !disposable() {
			Skip("the upgrade suite replaces the operator install (CRD included) on purpose: it runs only on disposable clusters (kind via make e2e)")
		}
		must(upgradeChainErr)
		upgradeRun.image = config.FromEnv().GitServerImage
		if upgradeRun.image == "" {
			Fail(config.EnvGitServerImage + " is not set: the in-cluster Git server image is built and loaded by `dfe2e e2e` (make e2e)")
		}
		var err error
		upgradeRun.ds, err = upgrade.DatasetSpec(config.FromEnv())
		must(err)
		first, err := upgrade.NewCommit(ctx, upgradeChain[0], bundleSource(), nil)
		must(err)
		for _, k := range first.Order {
			upgradeRun.install.Kustomizations = append(upgradeRun.install.Kustomizations, k.Name)
		}
		upgradeRun.install.Bundle = bundle.Objects

		// The suite owns the install: every suite process applies the bundle
		// in BeforeSuite, and the Flux tier leaves its chain for the load
		// that follows a run. Both are replaced here, and said so.
		By("removing any install of the operator and its chain (this process's BeforeSuite, an earlier tier or run) so the upgrade starts from its own", func() {
			removed, err := upgradeRun.install.Remove(ctx, k8s, clientset)
			must(err)
			if len(removed) > 0 {
				AddReportEntry("replaced before the install", strings.Join(removed, "\n"))
			}
		})
		DeferCleanup(func(ctx SpecContext) {
			By("removing what the suite created: Flux prunes the operator and the instances, then the source, the Git server and the claims go")
			_, err := upgradeRun.install.Remove(ctx, k8s, clientset)
			Expect(err).NotTo(HaveOccurred())
			Expect(upgradeRun.install.Present(ctx, k8s)).To(BeEmpty(), "left after the upgrade suite's cleanup")
		}, NodeTimeout(12*time.Minute))

		start := time.Now()
		By("installing Flux "+flux.Version, func() {
			_, err := flux.Install(ctx, k8s, flux.OptionsFromEnv())
			var be *imagepull.BlockedError
			if errors.As(err, &be) {
				Skip(be.BlockedMessage("Flux controllers cannot run"))
			}
			must(err)
		})
		By("serving the tree with the bundle of "+upgradeChain[0]+" and applying the GitRepository and "+fluxfixture.ClusterApps, func() {
			served, err := upgrade.Serve(ctx, k8s, upgradeRun.image, first)
			must(err)
			entry := first.Tree.Kustomization(flux.Namespace, fluxfixture.ClusterApps)
			if entry == nil {
				Fail("the upgrade tree has no Flux Kustomization " + fluxfixture.ClusterApps)
			}
			must(installcheck.Apply(ctx, k8s, []*unstructured.Unstructured{fluxfixture.GitRepository(served.URL), entry.Object.DeepCopy()}))
			must(applyCommit(ctx, first, served, true))
		})
		By("operator "+upgradeChain[0]+" runs and every instance is Ready", func() {
			_, _, err := upgrade.WaitOperator(ctx, k8s, clientset, upgradeChain[0])
			must(err)
			_, err = upgrade.WaitSettled(ctx, k8s, fixture.Instances())
			must(err)
		})
		By(fmt.Sprintf("writing the dataset (%d keys of every type, checksummed) through each data instance's master", upgradeRun.ds.Keys), func() {
			for _, name := range upgradeDataInstances {
				must(upgrade.OnMaster(ctx, k8s, restConfig(), clientset, name, func(ctx context.Context, c *redis.Client) error {
					if _, err := dataset.Write(ctx, c, upgradeRun.ds, dataset.Options{}); err != nil {
						return fmt.Errorf("writing the dataset to %s: %w", name, err)
					}
					// A snapshot now, not at the next cron tick: the data
					// on the volume is what a restart loads.
					return c.Save(ctx).Err()
				}))
			}
		})
		AddReportEntry("install", fmt.Sprintf("operator %s, %d instances and the dataset through Flux in %s", upgradeChain[0], len(fixture.Instances()), time.Since(start).Round(time.Second)))
	}, NodeTimeout(25*time.Minute))

	if upgradeChainErr != nil {
		It("selects the upgrade's versions", func() { Fail(upgradeChainErr.Error()) })
		return
	}

	It("fails a hop that bumps only the operator image tag (CRD and RBAC left at the old release), naming configmaps", Label(LabelSelfTest), func(ctx SpecContext) {
		atLevel(Medium)
		from, to := upgradeChain[0], ""
		for _, v := range upgradeChain[1:] {
			if to == "" && upgradecheck.CrossesConfigmapsRBAC(from, v) {
				to = v
			}
		}
		if to == "" {
			Skip(fmt.Sprintf("the tag-only bump breaks a hop across the release that made the manager read ConfigMaps cluster-wide; %s → %s does not cross it", from, upgradeChain[len(upgradeChain)-1]))
		}
		DeferCleanup(dumpOnFailure(operator.Namespace, flux.Namespace))
		defect, err := upgrade.NewCommit(ctx, from, bundleSource(), func(t fs.FS) (fs.FS, error) { return fixture.TagOnlyBump(t, to) })
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			By("reverting the commit: the whole bundle of " + from + " again, operator back with 0 restarts")
			Expect(applyCommit(ctx, upgradeRun.head, nil, false)).To(Succeed())
			_, _, err := upgrade.WaitOperator(ctx, k8s, clientset, from)
			Expect(err).NotTo(HaveOccurred(), "the operator did not come back at %s after the revert", from)
		}, NodeTimeout(10*time.Minute))

		By("committing only the image tag bump to " + to)
		served, err := upgrade.Serve(ctx, k8s, upgradeRun.image, defect)
		Expect(err).NotTo(HaveOccurred())
		_, err = flux.RequestReconcile(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(fluxfixture.OperatorKS))
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("defect", fmt.Sprintf("%s: bundle of %s, manager image tag %s", served.Revision, from, to))

		By("judging the operator the way every hop does")
		_, took, err := upgrade.WaitOperator(ctx, k8s, clientset, to)
		Expect(err).To(HaveOccurred(), "the hop with only the image tag bumped to %s passed", to)
		var te *wait.TimeoutError
		Expect(errors.As(err, &te)).To(BeFalse(), "the check ran out its bound instead of naming the defect: %v", err)
		Expect(err.Error()).To(ContainSubstring("configmaps"))
		AddReportEntry("verdict", fmt.Sprintf("after %s: %v", took.Round(time.Second), err))

		By("the live bundle check names the CRD left at " + from)
		err = bundleConsistent(ctx, to)
		Expect(err).To(HaveOccurred(), "the bundle check passed a %s manager over the %s CRD", to, from)
		Expect(err.Error()).To(ContainSubstring(from))
	})

	for i := 1; i < len(upgradeChain); i++ {
		from, to := upgradeChain[i-1], upgradeChain[i]
		It(fmt.Sprintf("upgrades %s → %s by a commit that bumps the bundle: operator Available with 0 restarts, chain Ready, instances Ready with one master, dataset intact, no instance's only Ready pod deleted, status fields kept, served CRD of the running release", from, to), func(ctx SpecContext) {
			reportDataPlane()
			atLevel(High)
			DeferCleanup(dumpOnFailure(operator.Namespace, flux.Namespace))
			upgradeHop(ctx, from, to)
		})
	}
})

// applyCommit serves commit (unless served is given) and waits until Flux
// applied it: every Kustomization of its chain, in dependency order, Ready at
// its revision within its own timeout. With crashes, a workload of the chain
// that crashes ends the wait; a revert leaves it out, since the commit it
// reverts crash-loops the operator on purpose.
func applyCommit(ctx context.Context, commit *upgrade.Commit, served *gitserver.Served, crashes bool) error {
	if served == nil {
		var err error
		if served, err = upgrade.Serve(ctx, k8s, upgradeRun.image, commit); err != nil {
			return err
		}
	}
	for _, k := range commit.Order {
		k := k
		var check func(context.Context) error
		if crashes {
			check = func(ctx context.Context) error { return fluxfixture.WorkloadsFailing(ctx, k8s, clientset, k) }
		}
		if _, _, err := flux.WaitApplied(ctx, k8s, fluxfixture.KSKey(k.Name), served.Revision, fluxfixture.KSTimeout(k), check); err != nil {
			return err
		}
	}
	upgradeRun.head, upgradeRun.served = commit, served
	return nil
}

// upgradeHop commits the bundle of to and checks everything a hop must keep.
func upgradeHop(ctx context.Context, from, to string) {
	GinkgoHelper()
	Expect(upgradeRun.head).NotTo(BeNil(), "no install to upgrade")
	Expect(upgradeRun.head.Version).To(Equal(from), "the repository is at %s, not %s: an earlier hop did not complete", upgradeRun.head.Version, from)
	next, err := upgrade.NewCommit(ctx, to, bundleSource(), nil)
	Expect(err).NotTo(HaveOccurred())
	ins := fixture.Instances()

	start := time.Now()
	stopWatch := upgrade.Watch(ctx, k8s, ins)
	DeferCleanup(func() { stopWatch() })
	By("committing the bundle of "+to+" and letting Flux apply the chain in dependency order", func() {
		Expect(applyCommit(ctx, next, nil, true)).To(Succeed())
	})
	applied := time.Since(start)
	By("operator "+to+": Available, one pod, Ready, 0 restarts, controllers started, nothing forbidden", func() {
		_, _, err := upgrade.WaitOperator(ctx, k8s, clientset, to)
		Expect(err).NotTo(HaveOccurred())
	})
	By("every instance Ready with its role labels, one master, StatefulSet at its update revision", func() {
		_, err := upgrade.WaitSettled(ctx, k8s, ins)
		Expect(err).NotTo(HaveOccurred())
	})
	By("the dataset intact on every data instance's master", func() {
		for _, name := range upgradeDataInstances {
			Expect(upgrade.OnMaster(ctx, k8s, restConfig(), clientset, name, func(ctx context.Context, c *redis.Client) error {
				v, err := dataset.Verify(ctx, c, upgradeRun.ds, dataset.Options{})
				if err != nil {
					return err
				}
				AddReportEntry("dataset", name+": "+v.String())
				if err := v.Err(); err != nil {
					return fmt.Errorf("Dragonfly %s after the hop to %s: %w", name, to, err)
				}
				return nil
			})).To(Succeed())
		}
	})
	samples := stopWatch()
	By("no instance's only Ready pod deleted during the hop", func() {
		var errs []error
		var notes []string
		for _, in := range ins {
			d := upgradecheck.JudgeDeletions(samples[in.Name])
			if n := d.Note(in.Name, in.Replicas); n != "" {
				notes = append(notes, n)
			}
			if err := d.Err(in.Name, in.Replicas); err != nil {
				errs = append(errs, err)
			}
			if len(samples[in.Name]) < 2 {
				errs = append(errs, fmt.Errorf("instance %s: %d samples of its pods, too few to judge the hop", in.Name, len(samples[in.Name])))
			}
		}
		if len(notes) == 0 {
			notes = append(notes, "no pod of any instance was deleted")
		}
		AddReportEntry("pods during the hop", strings.Join(notes, "\n"))
		Expect(errors.Join(errs...)).NotTo(HaveOccurred())
	})
	By("the status fields health checks read are still there", func() {
		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(k8s.Get(ctx, client.ObjectKey{Name: operator.CRDName}, crd)).To(Succeed())
		var dfs []*unstructured.Unstructured
		for _, in := range ins {
			df := &unstructured.Unstructured{}
			df.SetGroupVersionKind(dfapi.GVK)
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: fixture.Namespace, Name: in.Name}, df)).To(Succeed())
			dfs = append(dfs, df)
		}
		AddReportEntry("status fields", fmt.Sprintf("CRD at %s declares status.%s; health checks read status.%s", to,
			strings.Join(upgradecheck.StatusProperties(crd), ", status."), strings.Join(upgradecheck.StatusFields, ", status.")))
		Expect(upgradecheck.CheckStatusFields(to, crd, dfs)).To(Succeed())
	})
	By("the served CRD is the running operator's release", func() {
		Expect(bundleConsistent(ctx, to)).To(Succeed())
	})
	By("still, at the end: operator with 0 restarts, every Kustomization Ready at the commit", func() {
		r, err := upgrade.ReadOperator(ctx, k8s, clientset, to)
		Expect(err).NotTo(HaveOccurred())
		done, state, err := r.Judge()
		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeTrue(), "%s", state)
		for _, k := range next.Order {
			st, _, err := flux.Get(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(k.Name))
			Expect(err).NotTo(HaveOccurred())
			Expect(flux.AppliedOutcome(st, upgradeRun.served.Revision)).To(Equal(flux.Ready), "%s", st)
		}
	})
	took := time.Since(start)
	reportMetric(reports.Metric{Name: "upgrade hop " + from + " → " + to + " (commit to every check passed)", Unit: "s", Better: reports.Lower, Values: []float64{took.Seconds()}})
	AddReportEntry("hop", fmt.Sprintf("%s → %s: Flux applied the chain in %s, every check passed after %s", from, to, applied.Round(time.Second), took.Round(time.Second)))
}

// bundleConsistent is the live bundle check (as bundle_release_test.go):
// the manager image runs version and the served CRD is that release's.
func bundleConsistent(ctx context.Context, version string) error {
	var d appsv1.Deployment
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d); err != nil {
		return err
	}
	image := ""
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == operator.ManagerContainer {
			image = c.Image
		}
	}
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	if err := k8s.Get(ctx, client.ObjectKey{Name: operator.CRDName}, crd); err != nil {
		return err
	}
	served, exact, err := lint.CRDReleases(crd, bundleSource())
	if err != nil {
		return err
	}
	AddReportEntry("bundle releases", "manager image "+image+"; CRD "+operator.CRDName+" served by the API server matches "+strings.Join(served, ", "))
	return upgradecheck.CheckBundle(version, image, served, exact)
}
