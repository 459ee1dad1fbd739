//go:build e2e

package suites

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/admissioncheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

var _ = Describe("Admission of Dragonfly objects", Label(LabelAdmission, LabelAPITier), func() {
	BeforeEach(func() {
		atLevel(High)
		DeferCleanup(dumpOnFailure(operator.Namespace))
	})

	entries := []TableEntry{}
	for _, k := range admissioncheck.Table {
		entries = append(entries, Entry(k.Name, k))
	}
	DescribeTable("a Dragonfly is admitted as the CRD promises",
		func(ctx SpecContext, k admissioncheck.Case) {
			By("checking that a server-side dry run with strict field validation is "+string(k.Want), func() {
				r, err := admissioncheck.Try(ctx, k8s, dfapi.GVK, operator.Namespace, k)
				Expect(err).NotTo(HaveOccurred())
				fs := admissioncheck.Judge(r)
				Expect(finding.Violations(fs)).To(BeEmpty(), finding.Lines(fs))
				report("admission finding", finding.Infos(fs))
			})
		},
		entries,
	)

	// With no webhook in the bundle there is nothing that could fail, so the
	// statement is reported as info (a skip), not counted as a pass; a bundle
	// that ships webhooks gets the real check, which the self-tests prove.
	It("checks the admission webhooks that guard Dragonfly objects (service refs in "+operator.Namespace+", answering; info when none ships)", func(ctx SpecContext) {
		var fs []finding.Finding
		By("checking the bundle's webhook configurations (service refs in "+operator.Namespace+", answering)", func() {
			var err error
			fs, err = admissioncheck.CheckWebhooks(ctx, k8s, admissioncheck.WebhookTarget{
				Objects: bundle.Objects, Namespace: operator.Namespace, ProbeNamespace: operator.Namespace, GVK: dfapi.GVK,
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(finding.Violations(fs)).To(BeEmpty(), finding.Lines(fs))
			report("webhook finding", fs)
		})
		if len(admissioncheck.Webhooks(bundle.Objects)) == 0 {
			Skip(infoReason(fs))
		}
	})
})
