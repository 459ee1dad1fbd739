//go:build e2e

package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/rbaccheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/suites/utils/mutants"
)

// tenantNamespace stands for any namespace a Dragonfly may live in other
// than the operator's; SubjectAccessReviews do not need it to exist.
const tenantNamespace = "dfe2e-tenant"

var operatorSA = rbaccheck.Subject{Namespace: operator.Namespace, Name: operator.ServiceAccountName}

var _ = Describe("The operator's RBAC", Label(LabelRBAC, LabelAPITier), func() {
	BeforeEach(func() {
		DeferCleanup(dumpOnFailure(operator.Namespace))
	})

	It("allows the operator's ServiceAccount everything the operator needs", func(ctx SpecContext) {
		atLevel(High)
		By("checking that no binding subject is left outside "+operator.Namespace, func() {
			fs := rbaccheck.SubjectsInPlace(bundle.Objects, operatorSA)
			Expect(fs).To(BeEmpty(), finding.Lines(fs))
		})
		By("checking that SubjectAccessReviews as "+operatorSA.User()+" are allowed cluster-wide, in "+tenantNamespace+" and in "+operator.Namespace, func() {
			fs, err := rbaccheck.Allowed(ctx, clientset, rbaccheck.Target{Subject: operatorSA, OtherNamespace: tenantNamespace, Objects: bundle.Objects}, rbaccheck.NeededFor(bundle.Version))
			Expect(err).NotTo(HaveOccurred())
			Expect(fs).To(BeEmpty(), finding.Lines(fs))
		})
	})

	// Excess yields info findings only, so this spec could never fail on
	// them: it ends as a skip carrying the report, never as a pass.
	It("[info] reports what its bindings grant beyond that (least privilege)", func(ctx SpecContext) {
		atLevel(Medium)
		var fs []finding.Finding
		By("reading what the live bindings of "+operatorSA.String()+" grant beyond the needed set", func() {
			var err error
			fs, err = rbaccheck.Excess(ctx, clientset, operatorSA, rbaccheck.NeededFor(bundle.Version))
			Expect(err).NotTo(HaveOccurred())
			report("least-privilege report", fs)
		})
		Skip(InfoPrefix + rbaccheck.ExcessSummary(fs))
	})

	It("gives every other pinned version's own RBAC what that version needs", func(ctx SpecContext) {
		atLevel(Low)
		for _, v := range operator.Versions() {
			if v == bundle.Version {
				continue
			}
			By("checking that operator "+v+" with its own RBAC is allowed what "+v+" needs", func() {
				b, err := operator.Render(ctx, v, upstreamSource())
				Expect(err).NotTo(HaveOccurred())
				ns := "dfe2e-version-" + strings.ReplaceAll(v, ".", "-")
				objs := mutants.Isolate(b.Objects, ns)
				applyAside(ctx, objs, ns)
				sa := rbaccheck.Subject{Namespace: ns, Name: operator.ServiceAccountName}
				fs, err := rbaccheck.Allowed(ctx, clientset, rbaccheck.Target{Subject: sa, OtherNamespace: tenantNamespace, Objects: objs}, rbaccheck.NeededFor(v))
				Expect(err).NotTo(HaveOccurred())
				Expect(fs).To(BeEmpty(), finding.Lines(fs))
			})
		}
	})
})
