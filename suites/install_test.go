//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/installcheck"
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
		By("checking that the operator Deployment is the upstream one, selected by "+"control-plane=controller-manager", func() {
			var d appsv1.Deployment
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d)).To(Succeed())
			Expect(d.Spec.Selector.MatchLabels).To(Equal(operator.ControllerSelector))
		})
		By("checking that every object was applied by field manager "+installcheck.FieldManager, func() {
			var d appsv1.Deployment
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d)).To(Succeed())
			var managers []string
			for _, m := range d.ManagedFields {
				managers = append(managers, m.Manager)
			}
			Expect(managers).To(ContainElement(installcheck.FieldManager))
		})
	})
})
