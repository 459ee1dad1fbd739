//go:build e2e

package suites

import (
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/lint"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

var _ = Describe("The installed bundle", Label(LabelInstall, LabelAPITier), func() {
	It("serves the CRD of the running operator's own release (a CRD left at an older release fails, naming both versions)", func(ctx SpecContext) {
		atLevel(Highest)
		var d appsv1.Deployment
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: operator.Namespace, Name: operator.DeploymentName}, &d)).To(Succeed())
		image := ""
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == operator.ManagerContainer {
				image = c.Image
			}
		}
		Expect(image).NotTo(BeEmpty(), "Deployment %s has no %s container", operator.DeploymentName, operator.ManagerContainer)
		tag := image[strings.LastIndex(image, ":")+1:]
		running := "v" + strings.TrimPrefix(tag, "v")

		crd := &unstructured.Unstructured{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(k8s.Get(ctx, client.ObjectKey{Name: operator.CRDName}, crd)).To(Succeed())
		served, exact, err := lint.CRDReleases(crd, bundleSource())
		Expect(err).NotTo(HaveOccurred())
		AddReportEntry("bundle releases", "manager image "+image+" ("+running+"); CRD "+operator.CRDName+" served by the API server matches "+strings.Join(served, ", "))
		Expect(exact && slices.Contains(served, running)).To(BeTrue(),
			"CRD %s served by the API server matches %v (exact %v), the running operator is %s (image %s): the CRD was left at another release",
			operator.CRDName, served, exact, running, image)
	})
})
