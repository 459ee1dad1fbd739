//go:build e2e

package suites

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures/instances"
)

// The data suites' instances must be what the installed CRD admits — checked
// by the API server itself (server-side dry run, strict field validation),
// beside the static schema test in fixtures/instances.
var _ = Describe("Instance fixtures of the data suites", Label(LabelAdmission, LabelAPITier), func() {
	BeforeEach(func() { atLevel(High) })

	for _, name := range instances.Names() {
		It("admits "+instances.Namespace+"/"+name+" under strict field validation", func(ctx SpecContext) {
			u, err := instances.Get(name)
			Expect(err).NotTo(HaveOccurred())
			// A name no other spec uses: a dry-run create would otherwise
			// collide with the data suites' live instance of the same name.
			u.SetName(dryRunPrefix + name)
			Expect(k8s.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))).To(Succeed())
		})
	}

	// The API server stops at the first decoding problem, so each defect is
	// planted alone.
	defects := map[string]struct {
		value any
		path  []string
	}{
		"a string in spec.replicas":                  {"three", []string{"spec", "replicas"}},
		"the misspelt field spec.snapshot.directory": {"/data", []string{"spec", "snapshot", "directory"}},
	}
	for what, d := range defects {
		It("rejects an instance with "+what+", naming it (planted defect)", Label(LabelSelfTest), func(ctx SpecContext) {
			atLevel(Medium)
			u, err := instances.Get(instances.Snapshot)
			Expect(err).NotTo(HaveOccurred())
			u.SetName(dryRunPrefix + instances.Snapshot)
			Expect(unstructured.SetNestedField(u.Object, d.value, d.path...)).To(Succeed())
			err = k8s.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict"))
			Expect(err).To(HaveOccurred(), "the API server admitted %s", what)
			Expect(err.Error()).To(ContainSubstring(strings.Join(d.path, ".")))
		})
	}
})

// dryRunPrefix starts the name an admission dry run gives a fixture.
const dryRunPrefix = "dfe2e-admission-"
