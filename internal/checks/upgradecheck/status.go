package upgradecheck

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// StatusFields are the Dragonfly status fields health checks read: the
// suites' instance readiness (internal/kube/instance) and users' alerts read
// status.phase. Every pinned release declares it (with isRollingUpdate).
var StatusFields = []string{"phase"}

// CRDVersion is the Dragonfly API version the operator serves.
const CRDVersion = "v1alpha1"

// CheckStatusFields fails when the served CRD no longer declares a status
// field health checks read, or an instance does not carry it (Ready) after
// the hop to version. Each problem names the field, the object and version.
func CheckStatusFields(version string, crd *unstructured.Unstructured, instances []*unstructured.Unstructured) error {
	var problems []string
	vs, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var schema map[string]any
	for _, v := range vs {
		m, _ := v.(map[string]any)
		if m["name"] == CRDVersion {
			schema, _, _ = unstructured.NestedMap(m, "schema", "openAPIV3Schema")
			if _, ok, _ := unstructured.NestedMap(m, "subresources", "status"); !ok {
				problems = append(problems, fmt.Sprintf("CRD %s %s has no status subresource", crd.GetName(), CRDVersion))
			}
		}
	}
	if schema == nil {
		problems = append(problems, fmt.Sprintf("CRD %s serves no %s schema", crd.GetName(), CRDVersion))
	}
	for _, f := range StatusFields {
		if schema != nil {
			if _, ok, _ := unstructured.NestedMap(schema, "properties", "status", "properties", f); !ok {
				problems = append(problems, fmt.Sprintf("CRD %s %s no longer declares status.%s", crd.GetName(), CRDVersion, f))
			}
		}
		for _, in := range instances {
			v, ok, _ := unstructured.NestedString(in.Object, "status", f)
			switch {
			case !ok || v == "":
				problems = append(problems, fmt.Sprintf("Dragonfly %s/%s has no status.%s", in.GetNamespace(), in.GetName(), f))
			case f == "phase" && !strings.EqualFold(v, "Ready"):
				problems = append(problems, fmt.Sprintf("Dragonfly %s/%s has status.phase %q, not Ready", in.GetNamespace(), in.GetName(), v))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("after the hop to %s, the status fields health checks read: %s", version, strings.Join(problems, "; "))
	}
	return nil
}

// CheckBundle is the live bundle-consistency check after a hop: the manager
// image runs the hop's version and the CRD the API server serves is that
// release's (served: the pinned releases whose CRD it equals, exact: equal,
// not merely compatible — see lint.CRDReleases).
func CheckBundle(version, image string, served []string, exact bool) error {
	running := VersionOfImage(image)
	if running != version {
		return fmt.Errorf("the operator Deployment runs %s (image %s), not %s: the hop did not roll out the new manager", running, image, version)
	}
	for _, s := range served {
		if s == running && exact {
			return nil
		}
	}
	return fmt.Errorf("the served CRD matches %v (exact %v) but the running operator is %s (image %s): the CRD was left at another release — bump the whole bundle", served, exact, running, image)
}

// StatusProperties lists the status fields the CRD declares for CRDVersion,
// sorted (for the report: what each release exposes).
func StatusProperties(crd *unstructured.Unstructured) []string {
	vs, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	var out []string
	for _, v := range vs {
		m, _ := v.(map[string]any)
		if m["name"] != CRDVersion {
			continue
		}
		props, _, _ := unstructured.NestedMap(m, "schema", "openAPIV3Schema", "properties", "status", "properties")
		for p := range props {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}
