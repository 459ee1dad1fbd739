//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

var installExpect = installcheck.Expect{Namespace: operator.Namespace, OldNamespace: operator.UpstreamNamespace}

var _ = Describe("Installing the bundled operator", Label(LabelInstall, LabelAPITier), func() {
	BeforeEach(func() {
		atLevel(Highest)
		DeferCleanup(dumpOnFailure(operator.Namespace, operator.UpstreamNamespace))
	})

	It("lands every object in "+operator.Namespace+" and nothing in "+operator.UpstreamNamespace, func(ctx SpecContext) {
		By("checking that the CRD "+operator.CRDName+" is Established", func() {
			Expect(installcheck.WaitCRDEstablished(ctx, k8s, operator.CRDName)).To(Succeed())
		})
		By("checking that every rendered object is present, namespaced ones in "+operator.Namespace, func() {
			fs, err := installcheck.Check(ctx, k8s, bundle.Objects, installExpect)
			Expect(err).NotTo(HaveOccurred())
			Expect(finding.Violations(fs)).To(BeEmpty(), finding.Lines(fs))
		})
		By("checking that the operator Deployment is "+operator.DeploymentName+", selected by control-plane=controller-manager (not the guide's dragonfly-operator)", func() {
			var d appsv1.Deployment
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d)).To(Succeed())
			Expect(d.Spec.Selector.MatchLabels).To(Equal(operator.ControllerSelector))
		})
		By("checking that every object was server-side applied by field manager "+installcheck.FieldManager, func() {
			for _, o := range bundle.Objects {
				live := &unstructured.Unstructured{}
				live.SetGroupVersionKind(o.GroupVersionKind())
				Expect(k8s.Get(ctx, client.ObjectKeyFromObject(o), live)).To(Succeed())
				applied := false
				for _, m := range live.GetManagedFields() {
					applied = applied || (m.Manager == installcheck.FieldManager && m.Operation == metav1.ManagedFieldsOperationApply)
				}
				Expect(applied).To(BeTrue(), "%s has no Apply entry of field manager %s", installcheck.Ref(o), installcheck.FieldManager)
			}
		})
	})
})
