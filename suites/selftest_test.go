//go:build e2e

package suites

import (
	"context"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/admissioncheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/rbaccheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/mutants"
)

var _ = Describe("Planted defects at the API level", Label(LabelSelfTest, LabelAPITier), func() {
	BeforeEach(func() { atLevel(Medium) })

	It("fails the rbac check on v1.5.0 RBAC kept with the v1.6.x operator, naming configmaps", func(ctx SpecContext) {
		if operator.CompareVersions(bundle.Version, "v1.6.0") < 0 {
			Skip("the operator under test (" + bundle.Version + ") predates v1.6.0: v1.5.0 RBAC is its own")
		}
		const ns = "dfe2e-selftest-oldrbac"
		v150, err := operator.Render(ctx, "v1.5.0", upstreamSource())
		Expect(err).NotTo(HaveOccurred())
		objs, err := mutants.OldRBAC(bundle.Objects, v150.Objects, ns)
		Expect(err).NotTo(HaveOccurred())
		applyAside(ctx, objs, ns)
		sa := rbaccheck.Subject{Namespace: ns, Name: operator.ServiceAccountName}

		By("checking that the same RBAC satisfies what v1.5.0 needs (the check is not failing for another reason)", func() {
			fs, err := rbaccheck.Allowed(ctx, clientset, rbaccheck.Target{Subject: sa, OtherNamespace: tenantNamespace, Objects: objs}, rbaccheck.NeededFor("v1.5.0"))
			Expect(err).NotTo(HaveOccurred())
			Expect(fs).To(BeEmpty(), finding.Lines(fs))
		})
		By("checking that the rbac check fails for "+bundle.Version+" and names configmaps cluster-wide", func() {
			fs, err := rbaccheck.Allowed(ctx, clientset, rbaccheck.Target{Subject: sa, OtherNamespace: tenantNamespace, Objects: objs}, rbaccheck.NeededFor(bundle.Version))
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(messages(fs)).To(ContainSubstring("get,list,watch configmaps cluster-wide"))
			Expect(messages(fs)).To(ContainSubstring("configmaps in namespace " + tenantNamespace))
		})
	})

	It("fails the rbac check when a binding subject is left in "+operator.UpstreamNamespace+", naming the subject", func(ctx SpecContext) {
		const ns = "dfe2e-selftest-subject"
		objs := mutants.SubjectLeftBehind(bundle.Objects, ns)
		applyAside(ctx, objs, ns)
		sa := rbaccheck.Subject{Namespace: ns, Name: operator.ServiceAccountName}
		stray := "ServiceAccount " + operator.UpstreamNamespace + "/" + operator.ServiceAccountName

		By("checking that SubjectAccessReviews are denied and the failure names "+stray, func() {
			fs, err := rbaccheck.Allowed(ctx, clientset, rbaccheck.Target{Subject: sa, OtherNamespace: tenantNamespace, Objects: objs}, rbaccheck.NeededFor(bundle.Version))
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(finding.Violations(fs)).NotTo(BeEmpty())
			Expect(messages(fs)).To(ContainSubstring("may not get,list,watch dragonflies.dragonflydb.io cluster-wide"))
			Expect(messages(fs)).To(ContainSubstring("likely cause: the bindings name " + stray + " instead"))
			Expect(messages(fs)).To(ContainSubstring("binds subject " + stray))
		})
		By("checking that the static subject check names the binding and the subject", func() {
			fs := rbaccheck.SubjectsInPlace(objs, sa)
			Expect(messages(fs)).To(ContainSubstring("ClusterRoleBinding/" + ns + "-dragonfly-operator-manager-rolebinding binds subject " + stray))
		})
	})

	It("fails the install check when the upstream Namespace is kept and objects land in it, naming "+operator.UpstreamNamespace, func(ctx SpecContext) {
		if !disposable() {
			Skip("creates Namespace " + operator.UpstreamNamespace + ": only on a disposable cluster (DFE2E_CLUSTER=envtest)")
		}
		objs := mutants.OldNamespaceKept(bundle.Objects)
		applyAside(ctx, objs, operator.UpstreamNamespace)

		By("checking that the install check fails and names the Namespace and the objects in it", func() {
			fs, err := installcheck.Check(ctx, k8s, append(append([]*unstructured.Unstructured{}, bundle.Objects...), objs...), installExpect)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(messages(fs)).To(ContainSubstring("the bundle still carries the upstream Namespace " + operator.UpstreamNamespace))
			Expect(messages(fs)).To(ContainSubstring("the upstream namespace " + operator.UpstreamNamespace + " exists on the API server"))
			Expect(messages(fs)).To(ContainSubstring("ServiceAccount/" + operator.UpstreamNamespace + "/" + operator.ServiceAccountName))
		})
	})

	It("fails the webhook check on a webhook whose service is still in "+operator.UpstreamNamespace+", naming it", func(ctx SpecContext) {
		const sel = "dfe2e-selftest-webhook-ns"
		objs := mutants.WebhookOldNamespace(sel)
		applyAside(ctx, objs)

		By("checking that the webhook check fails and names the service in "+operator.UpstreamNamespace, func() {
			fs, err := admissioncheck.CheckWebhooks(ctx, k8s, admissioncheck.WebhookTarget{Objects: objs, Namespace: operator.Namespace, ProbeNamespace: sel, GVK: dfapi.GVK})
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(messages(fs)).To(ContainSubstring("calls Service " + operator.UpstreamNamespace + "/dragonfly-operator-webhook-service, outside the operator's namespace " + operator.Namespace))
		})
	})

	It("fails the webhook check on a relocated webhook that nothing serves, naming it", func(ctx SpecContext) {
		const sel = "dfe2e-selftest-webhook-down"
		objs := append([]*unstructured.Unstructured{mutants.SelftestNamespace(sel)}, mutants.WebhookNoBackend(sel)...)
		applyAside(ctx, objs, sel)

		By("waiting for the API server to call the new webhook (it reads webhook configurations through an informer)", func() {
			_, err := wait.For(ctx, "webhook of "+objs[1].GetName()+" to intercept Dragonfly creates in "+sel, wait.WebhookEffective, func(ctx context.Context) (bool, string, error) {
				err := k8s.Create(ctx, admissioncheck.Object(dfapi.GVK, sel, "effect-probe", map[string]any{"replicas": int64(1)}), client.DryRunAll)
				return err != nil && strings.Contains(err.Error(), "failed calling webhook"), fmt.Sprint(err), nil
			})
			Expect(err).NotTo(HaveOccurred())
		})
		By("checking that the webhook check fails because the webhook does not answer", func() {
			fs, err := admissioncheck.CheckWebhooks(ctx, k8s, admissioncheck.WebhookTarget{Objects: objs, Namespace: operator.Namespace, ProbeNamespace: sel, GVK: dfapi.GVK})
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(messages(fs)).To(ContainSubstring("ValidatingWebhookConfiguration/" + sel + "-dragonfly-operator-validating-webhook-configuration: does not answer"))
		})
	})

	It("fails the admission table on a CRD without the pdb CEL rule and with unknown fields preserved, naming both", func(ctx SpecContext) {
		crd, err := mutants.PermissiveCRD(bundle.Objects)
		Expect(err).NotTo(HaveOccurred())
		applyAside(ctx, []*unstructured.Unstructured{crd})
		gvk := schema.GroupVersionKind{Group: mutants.PermissiveGroup, Version: dfapi.GVK.Version, Kind: dfapi.GVK.Kind}

		By("checking that the admission table fails on the pdb rule and on strict field validation", func() {
			_, fs, err := admissioncheck.Run(ctx, k8s, gvk, operator.Namespace, admissioncheck.Table)
			Expect(err).NotTo(HaveOccurred())
			GinkgoWriter.Print(finding.Lines(fs))
			Expect(messages(fs)).To(ContainSubstring("accepted at admission, but the CEL rule on spec.pdb (minAvailable and maxUnavailable not both) should reject it"))
			Expect(messages(fs)).To(ContainSubstring("accepted at admission, but the strict field validation against the structural schema should reject it"))
		})
	})
})
