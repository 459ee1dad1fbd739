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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/env/cluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/imagepull"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/fluxfixture"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/objects"
	"github.com/dragonfly-e2e/dragonfly-e2e/verdict"
)

// fluxRun is what BeforeAll set up for the ordered specs.
var fluxRun struct {
	served  *gitserver.Served
	files   map[string][]byte
	tree    *gitops.Tree
	order   []*gitops.Kustomization
	blocked map[string]string // Kustomization key → blocked message
	// blockedImage is the first image found missing (for the remedy).
	blockedImage string
	// setupBlocked is set when Flux itself cannot run (its controller
	// images cannot be had): every spec of the tier then ends blocked.
	setupBlocked string
}

// ContinueOnFailure: a failed spec (e.g. a planted-defect check) must not
// turn the remaining, independent checks into skips.
var _ = Describe("Flux GitOps install and health", Ordered, ContinueOnFailure, Label(LabelHealth), func() {
	BeforeAll(func(ctx SpecContext) {
		if provider == nil || provider.Name() == "envtest" {
			Skip("the Flux tier needs a cluster with nodes: run it with make e2e (kind) or DFE2E_CLUSTER=kubeconfig")
		}
		mode, err := config.FromEnv().FluxTierValue()
		must(err)
		runInstalled, clusterFlux := mode == config.FluxTierRunInstalled, mode == config.FluxTierClusterFlux
		if !disposable() && !runInstalled && !clusterFlux {
			// It installs Flux, applies the chain and removes the operator's
			// Kustomization on purpose: never on a cluster someone keeps,
			// unless dfe2e installed Flux there for this run (and removes
			// it, with everything labelled with the run, afterwards).
			Skip("the Flux tier installs Flux and prunes the operator on purpose: it runs only on disposable clusters (kind via make e2e), or where `dfe2e e2e --kubeconfig` installed Flux for the run or found the cluster's own (" + config.EnvFluxTier + "=" + string(config.FluxTierRunInstalled) + " or " + string(config.FluxTierClusterFlux) + ")")
		}
		image := config.FromEnv().GitServerImage
		if image == "" {
			Fail(config.EnvGitServerImage + " is not set: the in-cluster Git server image is built and loaded by `dfe2e e2e` (make e2e); for another cluster build it with `go run ./cmd/dfe2e flux-images`, push it where the cluster pulls from and pass `dfe2e e2e --kubeconfig … --git-server-image REF`")
		}
		fluxRun.blocked = map[string]string{}

		if runInstalled {
			By("using the Flux "+flux.Version+" that dfe2e installed for this run (it removes it afterwards)", func() {
				for _, comp := range flux.Components {
					err := flux.WaitDeployment(ctx, k8s, flux.Namespace, comp)
					var be *imagepull.BlockedError
					if errors.As(err, &be) {
						fluxRun.setupBlocked = be.BlockedMessage("Flux controllers cannot run")
						return
					}
					must(err)
				}
			})
		} else if clusterFlux {
			By("using the cluster's own Flux, which nothing of the tier installs, changes or removes: the fixture's Flux objects go into namespace "+flux.TierNamespace, func() {
				fluxfixture.Namespace = flux.TierNamespace
			})
		} else {
			installFlux(ctx)
		}
		if fluxRun.setupBlocked != "" {
			return
		}
		By("rendering the fixtures tree (operator bundle filled in)", func() {
			files, tree, err := fluxfixture.ExportTree(ctx, bundle.Version, bundleSource())
			must(err)
			fluxRun.files, fluxRun.tree = files, tree
			fluxRun.order, err = flux.ChainOrder(tree)
			must(err)
		})
		if clusterFlux {
			By("moving the tree's Flux Kustomizations and their references into namespace "+flux.TierNamespace+", apart from the cluster's own Flux objects", func() {
				_, err := fluxfixture.RelocateTree(fluxRun.files, fluxRun.tree, flux.TierNamespace)
				must(err)
				if out := fluxfixture.OutsideNamespace(fluxRun.files, flux.TierNamespace); len(out) > 0 {
					Fail("Flux objects of the served tree left beside the cluster's own Flux: " + strings.Join(out, "; "))
				}
				fluxRun.order, err = flux.ChainOrder(fluxRun.tree)
				must(err)
			})
		}
		if labels := fluxRunLabels(); labels != nil {
			By("labelling what Flux applies with the run's labels (spec.commonMetadata of every Flux Kustomization), so that the run removes it", func() {
				rewrote, err := fluxfixture.LabelTree(fluxRun.files, fluxRun.tree, labels)
				must(err)
				AddReportEntry("run labels", fmt.Sprintf("%v on the Kustomizations of %s", labels, strings.Join(rewrote, ", ")))
			})
		}

		// Each repetition starts from a chain it applies itself: Flux keeps a
		// Kustomization Ready at a revision it served before even when what
		// it applied is gone, and the Git server serves the same tree as the
		// same commit, so nothing a repetition left would be re-applied.
		chain := fluxfixture.NewChain(fluxRun.order)
		By("removing, through Flux, any chain an earlier repetition or run left", func() {
			removed, err := chain.Remove(ctx, k8s)
			must(err)
			if len(removed) > 0 {
				AddReportEntry("removed before the install", strings.Join(removed, "\n"))
			}
		})
		DeferCleanup(func(ctx SpecContext) {
			By("removing what the tier created: Flux prunes what the chain applied, then the source, the Git server and the neighbour tenant go")
			_, err := chain.Remove(ctx, k8s)
			Expect(err).NotTo(HaveOccurred())
			Expect(chain.Present(ctx, k8s)).To(BeEmpty(), "left after the Flux tier's cleanup")
		}, NodeTimeout(20*time.Minute))
		By("serving the tree from an in-cluster Git server", func() {
			var err error
			fluxRun.served, err = gitserver.Deploy(ctx, k8s, fluxfixture.GitServerNamespace, image, fluxRun.files)
			must(err)
			AddReportEntry("git source", fluxRun.served.URL+" "+fluxRun.served.Revision)
		})
		if clusterFlux {
			// After the removal of earlier leftovers, which takes it too.
			By("creating namespace "+flux.TierNamespace+" for the fixture's Flux objects", func() {
				ns := &unstructured.Unstructured{}
				ns.SetAPIVersion("v1")
				ns.SetKind("Namespace")
				ns.SetName(flux.TierNamespace)
				must(installcheck.Apply(ctx, k8s, []*unstructured.Unstructured{ns}))
			})
		}
		By("applying the GitRepository and the entry-point Kustomization "+fluxfixture.ClusterApps+" from the tree", func() {
			entry := fluxRun.tree.Kustomization(fluxfixture.Namespace, fluxfixture.ClusterApps)
			if entry == nil {
				Fail("the fixtures tree has no Flux Kustomization " + fluxfixture.ClusterApps)
			}
			must(installcheck.Apply(ctx, k8s, []*unstructured.Unstructured{fluxfixture.GitRepository(fluxRun.served.URL), entry.Object.DeepCopy()}))
		})
	}, NodeTimeout(20*time.Minute))

	BeforeEach(func() {
		if fluxRun.setupBlocked != "" {
			Skip(fluxRun.setupBlocked)
		}
	})

	It("fetches the served revision and reconciles "+fluxfixture.ClusterApps+" on a forced reconcile with source", func(ctx SpecContext) {
		start := time.Now()
		st, err := flux.ReconcileWithSource(ctx, k8s, fluxfixture.KSKey(fluxfixture.ClusterApps))
		Expect(err).NotTo(HaveOccurred(), "forced reconcile of %s with its source", fluxfixture.ClusterApps)
		AddReportEntry("waited", fmt.Sprintf("%s for GitRepository %s then Kustomization %s to handle the reconcile request (bounds: %s, %s)",
			time.Since(start).Round(100*time.Millisecond), fluxfixture.SourceName, fluxfixture.ClusterApps, wait.Timeout(wait.SourceReady), wait.Timeout(wait.KustomizationReady)))
		src, _, err := flux.Get(ctx, k8s, flux.GitRepositoryGVK, fluxfixture.KSKey(fluxfixture.SourceName))
		Expect(err).NotTo(HaveOccurred())
		Expect(src.ArtifactRevision).To(Equal(fluxRun.served.Revision), "GitRepository %s must hold the commit the in-cluster server serves", fluxfixture.SourceName)
		Expect(st.LastAppliedRevision).To(Equal(fluxRun.served.Revision), "%s", st)
	})

	It("brings every Kustomization of the chain to Ready at the served revision in dependency order, each within its timeout, with everything it applied present", func(ctx SpecContext) {
		var report []string
		readyAt := map[string]time.Time{}
		for _, k := range fluxRun.order {
			timeout := fluxfixture.KSTimeout(k)
			for _, d := range k.DependsOn {
				if _, ok := fluxRun.blocked[d.Namespace+"/"+d.Name]; ok {
					fluxRun.blocked[k.Key()] = fmt.Sprintf("dependsOn %s, which is blocked", d.Name)
				}
			}
			if _, ok := fluxRun.blocked[k.Key()]; ok {
				report = append(report, k.Key()+": blocked")
				continue
			}
			k := k
			st, took, err := flux.WaitReadyAt(ctx, k8s, fluxfixture.KSKey(k.Name), fluxRun.served.Revision, timeout, func(ctx context.Context) error {
				return fluxfixture.WorkloadsFailing(ctx, k8s, clientset, k)
			})
			var be *imagepull.BlockedError
			if errors.As(err, &be) {
				fluxRun.blocked[k.Key()] = be.Failure.String()
				if fluxRun.blockedImage == "" {
					fluxRun.blockedImage = be.Failure.Image
				}
				report = append(report, fmt.Sprintf("%s: blocked after %s (%s)", k.Key(), took.Round(time.Second), be.Failure.Image))
				continue
			}
			Expect(err).NotTo(HaveOccurred(), "waited %s (its timeout + 30s) for Kustomization %s", timeout, k.Key())
			Expect(flux.CheckApplied(ctx, k8s, fluxfixture.KSKey(k.Name))).To(Succeed())
			readyAt[k.Key()] = time.Now()
			for _, d := range k.DependsOn {
				dep, _, err := flux.Get(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(d.Name))
				Expect(err).NotTo(HaveOccurred())
				Expect(dep.Ready).To(Equal("True"), "%s is Ready but its dependency is not: %s", k.Key(), dep)
			}
			report = append(report, fmt.Sprintf("%s: Ready in %s (timeout %s) at %s", k.Key(), took.Round(time.Second), timeout, st.LastAppliedRevision))
		}
		AddReportEntry("kustomization chain", strings.Join(report, "\n"))
		if len(fluxRun.blocked) > 0 {
			var msgs []string
			for _, k := range fluxRun.order {
				if m, ok := fluxRun.blocked[k.Key()]; ok {
					msgs = append(msgs, k.Key()+": "+m)
				}
			}
			Skip(verdict.BlockedMessage("chain not Ready: "+strings.Join(report, "; ")+" — "+strings.Join(msgs, " | "),
				imagepull.Remedy(fluxRun.blockedImage)))
		}
	})

	It("has every object of the operator bundle applied by Flux (kustomize-controller owns its fields)", func(ctx SpecContext) {
		k := fluxRun.tree.Kustomization(fluxfixture.Namespace, fluxfixture.OperatorKS)
		Expect(k).NotTo(BeNil())
		var missing []string
		what := fmt.Sprintf("the %d objects of Kustomization %s to be applied by kustomize-controller", len(k.Objects), fluxfixture.OperatorKS)
		took, err := wait.For(ctx, what, wait.ObjectPresent,
			func(ctx context.Context) (bool, string, error) {
				missing = missing[:0]
				for _, o := range k.Objects {
					live, err := objects.Get(ctx, k8s, o)
					if err != nil || !objects.ManagedBy(live, "kustomize-controller") {
						missing = append(missing, installcheck.Ref(o))
					}
				}
				return len(missing) == 0, fmt.Sprintf("not applied by Flux: %v", missing), nil
			})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("waited", fmt.Sprintf("%s for %s (bound %s)", took.Round(100*time.Millisecond), what, wait.Timeout(wait.ObjectPresent)))
	})

	It("runs the operator: Deployment "+fluxfixture.OperatorDeployment+" Available", func(ctx SpecContext) {
		err := flux.WaitDeployment(ctx, k8s, operator.Namespace, fluxfixture.OperatorDeployment)
		var be *imagepull.BlockedError
		if errors.As(err, &be) {
			Skip(be.BlockedMessage("Deployment " + operator.Namespace + "/" + fluxfixture.OperatorDeployment + " cannot become Available"))
		}
		Expect(err).NotTo(HaveOccurred())
	})

	It("runs test-cache: Dragonfly phase Ready and PING answered over RESP from its own namespace", func(ctx SpecContext) {
		reportDataPlane()
		if msg, ok := fluxRun.blocked[fluxfixture.Namespace+"/"+fluxfixture.TestCache]; ok {
			Skip(verdict.BlockedMessage("Dragonfly database/test-cache is never applied: Kustomization test-cache "+msg+" ("+fluxRun.blocked[fluxfixture.Namespace+"/"+fluxfixture.OperatorKS]+")",
				"supply the operator image and the Dragonfly image it deploys (docker.dragonflydb.io/dragonflydb/dragonfly) with --image-archive, or override the images"))
		}
		df := &unstructured.Unstructured{}
		df.SetGroupVersionKind(dfapi.GVK)
		err := podwait.WaitPods(ctx, podwait.FromReader(k8s).WithLogs(clientset), "Dragonfly database/test-cache to reach phase Ready", wait.DragonflyReady,
			"database", labels.SelectorFromSet(labels.Set{dfapi.AppLabel: "test-cache"}), func(ctx context.Context, _ []corev1.Pod) (bool, string, error) {
				if err := k8s.Get(ctx, client.ObjectKey{Namespace: "database", Name: "test-cache"}, df); err != nil {
					return false, err.Error(), nil
				}
				phase, _, _ := unstructured.NestedString(df.Object, "status", "phase")
				return phase == "Ready", "phase " + phase, nil
			})
		var be *imagepull.BlockedError
		if errors.As(err, &be) {
			Skip(be.BlockedMessage("Dragonfly database/test-cache cannot become Ready"))
		}
		Expect(err).NotTo(HaveOccurred())
		out, err := fluxfixture.Ping(ctx, k8s, clientset, "database", "test-cache")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("PONG"))
	})

	Context("planted defects", Label(LabelFluxDefect), func() {
		for _, d := range []struct {
			name, defect, mustName string
			mutate                 func(map[string]any)
		}{
			{"dfe2e-defect-healthcheck", "a healthCheck naming a Deployment that does not exist", "no-such-deployment",
				func(s map[string]any) {
					s["healthChecks"] = []any{map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "name": "no-such-deployment", "namespace": fluxfixture.DefectNamespace}}
				}},
			{"dfe2e-defect-dependson", "a dependsOn naming a Kustomization that does not exist", "no-such-kustomization",
				func(s map[string]any) { s["dependsOn"] = []any{map[string]any{"name": "no-such-kustomization"}} }},
			{"dfe2e-defect-path", "a path the source does not have", "kubernetes/apps/no-such-dir",
				func(s map[string]any) { s["path"] = "./kubernetes/apps/no-such-dir" }},
		} {
			It("fails the readiness check on "+d.defect+", naming it, within the Kustomization's timeout", func(ctx SpecContext) {
				ks := defectKustomization(d.name, d.mutate)
				must(installcheck.Apply(ctx, k8s, []*unstructured.Unstructured{ks}))
				DeferCleanup(func(ctx SpecContext) {
					_, err := objects.DeleteAndWait(ctx, k8s, ks, wait.ObjectDeleted, "")
					Expect(err).NotTo(HaveOccurred())
				})
				// 20s timeout + 60s for the controller to pick it up and report.
				bound := 80 * time.Second
				st, took, err := flux.WaitReady(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(d.name), bound, nil)
				Expect(err).To(HaveOccurred(), "the readiness check passed on %s: %s", d.defect, st)
				var te *wait.TimeoutError
				Expect(errors.As(err, &te)).To(BeFalse(), "the check hung until its own bound instead of giving a verdict: %v", err)
				Expect(err.Error()).To(ContainSubstring(d.mustName))
				AddReportEntry("verdict", fmt.Sprintf("after %s (bound %s): %v", took.Round(time.Second), bound, err))
			})
		}

		It("fails the prune-safety check when a shared namespace lacks the prune opt-out, naming the namespace", func(ctx SpecContext) {
			ks := defectKustomization("dfe2e-defect-prune", func(s map[string]any) { s["path"] = "./" + fluxfixture.UnprotectedDir })
			must(installcheck.Apply(ctx, k8s, []*unstructured.Unstructured{ks}))
			DeferCleanup(func(ctx SpecContext) {
				_, err := objects.DeleteAndWait(ctx, k8s, ks, wait.ObjectDeleted, "")
				Expect(err).NotTo(HaveOccurred())
			})
			_, _, err := flux.WaitReady(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(ks.GetName()), 80*time.Second, nil)
			Expect(err).NotTo(HaveOccurred(), "the unprotected-namespace Kustomization must apply before it is removed")
			Expect(fluxfixture.PlantNeighbour(ctx, k8s, fluxfixture.UnprotectedNamespace)).To(Succeed())
			Expect(fluxfixture.NeighbourKept(ctx, k8s, fluxfixture.UnprotectedNamespace)).To(Succeed(), "before the removal")
			// The planted defect is the missing opt-out, so the failure below
			// is for that reason and no other.
			var live corev1.Namespace
			Expect(k8s.Get(ctx, client.ObjectKey{Name: fluxfixture.UnprotectedNamespace}, &live)).To(Succeed())
			Expect(live.Annotations).NotTo(HaveKeyWithValue(operator.PruneAnnotation, operator.PruneDisabled),
				"Namespace %s must lack %s: %s for this defect", fluxfixture.UnprotectedNamespace, operator.PruneAnnotation, operator.PruneDisabled)
			took, err := objects.DeleteAndWait(ctx, k8s, ks, wait.ObjectDeleted, " (no health checks: nothing holds its finalizer)")
			Expect(err).NotTo(HaveOccurred())
			err = fluxfixture.NeighbourKept(ctx, k8s, fluxfixture.UnprotectedNamespace)
			Expect(err).To(HaveOccurred(), "the prune-safety check passed although the namespace had no prune opt-out")
			// The namespace itself, not only the tenant in it, is named as deleted.
			Expect(err.Error()).To(ContainSubstring("shared namespace " + fluxfixture.UnprotectedNamespace + " "))
			AddReportEntry("verdict", fmt.Sprintf("after a removal that took %s: %v", took.Round(time.Second), err))
		})
	})

	It("restores a bundled object deleted behind Flux's back (drift)", func(ctx SpecContext) {
		svc := &unstructured.Unstructured{}
		svc.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Service"})
		svc.SetNamespace(operator.Namespace)
		svc.SetName(fluxfixture.DriftObject)
		before, err := objects.Get(ctx, k8s, svc)
		Expect(err).NotTo(HaveOccurred(), "bundled Service %s/%s must exist before the drift", operator.Namespace, fluxfixture.DriftObject)
		_, err = objects.DeleteAndWait(ctx, k8s, svc, wait.ObjectDeleted, "")
		Expect(err).NotTo(HaveOccurred())
		_, err = flux.RequestReconcile(ctx, k8s, flux.KustomizationGVK, fluxfixture.KSKey(fluxfixture.OperatorKS))
		Expect(err).NotTo(HaveOccurred())
		took, err := wait.For(ctx, fmt.Sprintf("Flux to re-create Service %s/%s (the request is handled after any in-flight reconcile of %s, which holds for up to its 5m health-check timeout)",
			operator.Namespace, fluxfixture.DriftObject, fluxfixture.OperatorKS), wait.FluxRestored, func(ctx context.Context) (bool, string, error) {
			live, err := objects.Get(ctx, k8s, svc)
			if err != nil {
				return false, err.Error(), nil
			}
			return live.GetUID() != before.GetUID() && objects.ManagedBy(live, "kustomize-controller"), "present, uid " + string(live.GetUID()), nil
		})
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("waited", fmt.Sprintf("%s for Flux to re-create Service %s/%s (bound %s)", took.Round(time.Second), operator.Namespace, fluxfixture.DriftObject, wait.Timeout(wait.FluxRestored)))
	})

	It("keeps the database namespace and a neighbour tenant when the operator's Kustomization is suspended", func(ctx SpecContext) {
		Expect(fluxfixture.PlantNeighbour(ctx, k8s, operator.Namespace)).To(Succeed())
		DeferCleanup(removeNeighbour)
		Expect(fluxfixture.SetSuspend(ctx, k8s, fluxfixture.KSKey(fluxfixture.OperatorKS), true)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(fluxfixture.SetSuspend(ctx, k8s, fluxfixture.KSKey(fluxfixture.OperatorKS), false)).To(Succeed())
		})
		_, err := flux.ReconcileWithSource(ctx, k8s, fluxfixture.KSKey(fluxfixture.ClusterApps))
		Expect(err).NotTo(HaveOccurred())
		Expect(fluxfixture.NeighbourKept(ctx, k8s, operator.Namespace)).To(Succeed())
	})

	It("keeps the database namespace and a neighbour tenant when the operator's Kustomization is removed (prune)", Label(LabelDisruptive), func(ctx SpecContext) {
		Expect(fluxfixture.PlantNeighbour(ctx, k8s, operator.Namespace)).To(Succeed())
		DeferCleanup(removeNeighbour)
		// cluster-apps would re-create the Kustomization: hold it while the removal runs.
		Expect(fluxfixture.SetSuspend(ctx, k8s, fluxfixture.KSKey(fluxfixture.ClusterApps), true)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			// The removal pruned the Dragonfly CRD and with it test-cache's
			// Dragonfly, which Flux would re-apply only at test-cache's next
			// interval: every Kustomization is reconciled and checked.
			By("restoring the chain: resume " + fluxfixture.ClusterApps + ", reconcile it with source, then every Kustomization applies the served revision again")
			err := fluxfixture.RestoreChain(ctx, k8s, fluxRun.order, fluxRun.served.Revision, func(ctx context.Context, k *gitops.Kustomization) error {
				return fluxfixture.WorkloadsFailing(ctx, k8s, clientset, k)
			})
			var be *imagepull.BlockedError
			if errors.As(err, &be) && len(fluxRun.blocked) > 0 {
				AddReportEntry("restore", "stopped where the chain was blocked before the removal: "+err.Error())
				return
			}
			Expect(err).NotTo(HaveOccurred())
		})
		ks := &unstructured.Unstructured{}
		ks.SetGroupVersionKind(flux.KustomizationGVK)
		ks.SetNamespace(fluxfixture.Namespace)
		ks.SetName(fluxfixture.OperatorKS)
		took, err := objects.DeleteAndWait(ctx, k8s, ks, wait.FluxRestored, " (its finalizer prunes what it applied, after any in-flight reconcile: up to its 5m health-check timeout)")
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("waited", fmt.Sprintf("%s for Kustomization %s to be removed and its objects pruned (bound %s)", took.Round(time.Second), fluxfixture.OperatorKS, wait.Timeout(wait.FluxRestored)))
		// The removal really pruned: a bundled object without the prune
		// opt-out is gone (otherwise the namespace check below proves nothing).
		svc := &unstructured.Unstructured{}
		svc.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "Service"})
		svc.SetNamespace(operator.Namespace)
		svc.SetName(fluxfixture.DriftObject)
		_, err = wait.For(ctx, "pruned Service "+operator.Namespace+"/"+fluxfixture.DriftObject+" to be gone", wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
			_, err := objects.Get(ctx, k8s, svc)
			return apierrors.IsNotFound(err), fmt.Sprint(err), nil
		})
		Expect(err).NotTo(HaveOccurred(), "removing the Kustomization pruned nothing, so prune-safety was not exercised")
		Expect(fluxfixture.NeighbourKept(ctx, k8s, operator.Namespace)).To(Succeed())
	})
})

// removeNeighbour removes the neighbour tenant a prune-safety spec planted
// in the operator's namespace.
func removeNeighbour(ctx SpecContext) {
	Expect(client.IgnoreNotFound(k8s.Delete(ctx, fluxfixture.Neighbour(operator.Namespace)))).To(Succeed())
}

// installFlux installs Flux for the tier on a disposable cluster.
func installFlux(ctx SpecContext) {
	By("installing Flux "+flux.Version+" (source-controller, kustomize-controller) through manifestgen/install", func() {
		start := time.Now()
		_, err := flux.Install(ctx, k8s, flux.OptionsFromEnv())
		var be *imagepull.BlockedError
		if errors.As(err, &be) {
			fluxRun.setupBlocked = be.BlockedMessage("Flux controllers cannot run")
			return
		}
		must(err)
		AddReportEntry("flux install", time.Since(start).Round(time.Second).String())
	})
}

// fluxRunLabels are the labels of what Flux applies for the tier: the
// run's, on a cluster the run does not own (nil on the run's own cluster).
func fluxRunLabels() map[string]string {
	if id := config.FromEnv().RunID; id != "" {
		return cluster.RunLabels(id)
	}
	return nil
}

// defectKustomization is a planted-defect Kustomization whose applied
// objects carry the run's labels like the chain's.
func defectKustomization(name string, mutate func(map[string]any)) *unstructured.Unstructured {
	GinkgoHelper()
	u := fluxfixture.DefectKustomization(name, mutate)
	must(fluxfixture.SetRunLabels(u, fluxRunLabels()))
	return u
}
