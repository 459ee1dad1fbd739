package lint

import (
	"context"
	"slices"
	"testing"

	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// The live bundle check's planted defect: a CRD left at v1.5.0 is told
// apart from the v1.6.x one, so a v1.6.1 manager next to it is caught.
func TestCRDReleasesNamesTheReleaseOfACRD(t *testing.T) {
	src := options(t, "").Source
	for _, v := range []string{"v1.5.0", "v1.6.1"} {
		b, err := operator.Render(context.Background(), v, src)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range b.Objects {
			if o.GetKind() != "CustomResourceDefinition" {
				continue
			}
			vs, exact, err := CRDReleases(o, src)
			if err != nil {
				t.Fatal(err)
			}
			if !exact || !slices.Contains(vs, v) {
				t.Fatalf("CRD of %s matched %v (exact %v)", v, vs, exact)
			}
			if v == "v1.5.0" && slices.Contains(vs, "v1.6.1") {
				t.Fatalf("the v1.5.0 CRD is taken for v1.6.1's: %v", vs)
			}
		}
	}
}
