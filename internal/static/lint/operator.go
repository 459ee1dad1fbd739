package lint

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator/dfapi"
)

// operatorWorkload is a rendered workload that runs the Dragonfly operator.
type operatorWorkload struct {
	gitops.Object
	Container container
	Image     string
	// Version is the operator version the checks assume; From says where it
	// came from, for messages.
	Version, From string
	// Fallback: the image does not say its version, so Version is
	// --operator-version; Why says what the image lacks.
	Fallback bool
	Why      string
}

// operators lists the workloads of the applied tree that run the operator.
//
// The operator is recognised by its role, not its image repository: images
// are routinely mirrored (kustomize images: newName), and a check keyed on
// docker.dragonflydb.io would silently skip every mirrored install. A
// workload runs the operator when a container runs /manager (command or
// args) and the tree renders the operator's CRD, either next to it (same
// Flux Kustomization) or with RBAC on dragonflydb.io bound to its
// ServiceAccount. The upstream image repository is recognised as well.
func (c *Context) operators() []operatorWorkload {
	if c.opsLoaded {
		return c.ops
	}
	c.opsLoaded, c.ops = true, nil
	crdBy := map[*gitops.Kustomization]bool{}
	for _, o := range c.applied.Objects() {
		if o.GetKind() == "CustomResourceDefinition" && o.GetName() == operator.CRDName {
			crdBy[o.By] = true
		}
	}
	for _, o := range c.applied.Objects() {
		if _, workload := podSpecPaths[o.GetKind()]; !workload {
			continue
		}
		for _, ct := range containers(o.Unstructured) {
			if ct.What != "container" {
				continue
			}
			repo, _, _ := splitImage(ct.Image)
			upstream := repo == operator.ManagerImageRepository || strings.HasSuffix(repo, "/dragonflydb/operator")
			role := runsManager(ct) && len(crdBy) > 0 && (crdBy[o.By] || grantsOnDragonflies(c.applied, o.Unstructured))
			if !upstream && !role {
				continue
			}
			c.ops = append(c.ops, c.operatorVersion(o, ct))
			break
		}
	}
	return c.ops
}

// runsManager: the container's entry point is the controller-runtime manager binary.
func runsManager(ct container) bool {
	for _, s := range append(append([]string(nil), ct.Command...), ct.Args...) {
		if strings.HasPrefix(s, "/") && path.Base(s) == "manager" {
			return true
		}
	}
	return false
}

// serviceAccountOf returns the namespace and ServiceAccount a workload runs as.
func serviceAccountOf(o *unstructured.Unstructured) (ns, sa string) {
	spec, _, _ := unstructured.NestedMap(o.Object, podSpecPaths[o.GetKind()]...)
	sa, _ = spec["serviceAccountName"].(string)
	if sa == "" {
		sa = "default"
	}
	return o.GetNamespace(), sa
}

// grantsOnDragonflies: a role bound to the workload's ServiceAccount names
// the dragonflydb.io group explicitly (a wildcard, as cluster-admin has,
// says nothing about which controller this is).
func grantsOnDragonflies(t *gitops.Tree, o *unstructured.Unstructured) bool {
	ns, sa := serviceAccountOf(o)
	roles := append(boundTo(t, "ClusterRoleBinding", "ClusterRole", ns, sa), boundTo(t, "RoleBinding", "Role", ns, sa)...)
	for _, r := range roles {
		for _, rule := range rulesOf(r.Unstructured) {
			for _, g := range rule.groups {
				if g == dfapi.Group {
					return true
				}
			}
		}
	}
	return false
}

func (c *Context) operatorVersion(o gitops.Object, ct container) operatorWorkload {
	op := operatorWorkload{Object: o, Container: ct, Image: ct.Image}
	_, tag, digest := splitImage(ct.Image)
	if v, ok := versionOfTag(tag); ok {
		op.Version, op.From = v, "manager image "+ct.Image
		return op
	}
	switch {
	case tag == "" && digest != "":
		op.Why = "it is pinned by digest, without a version tag"
	case tag == "":
		op.Why = "it has no tag"
	default:
		op.Why = fmt.Sprintf("its tag %s is not a version", tag)
	}
	op.Version, op.Fallback = c.OperatorVersion, true
	op.From = fmt.Sprintf("--operator-version, assumed because the manager image %s does not say its version: %s", ct.Image, op.Why)
	return op
}

// versionOfTag reads a release version from an image tag: "v1.6.1" and
// "1.6.1" both mean v1.6.1 (registries and mirrors often drop the v).
func versionOfTag(tag string) (string, bool) {
	v := strings.TrimPrefix(tag, "v")
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return "", false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return "", false
		}
	}
	return "v" + v, true
}
