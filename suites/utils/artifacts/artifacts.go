// Package artifacts writes what a failed spec leaves for whoever reads the
// run: the objects of its namespaces, to <dir>/<spec>/objects.yaml.
package artifacts

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// DefaultDir is where dumps go when DFE2E_ARTIFACTS is unset.
const DefaultDir = "artifacts"

// Dir is the directory for dumps and reports: setting (DFE2E_ARTIFACTS) or DefaultDir.
func Dir(setting string) string { return cmp.Or(setting, DefaultDir) }

// DumpedKinds are the kinds a failed spec's dump lists.
var DumpedKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "Namespace"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Version: "v1", Kind: "Service"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"},
	{Group: "admissionregistration.k8s.io", Version: "v1", Kind: "ValidatingWebhookConfiguration"},
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// SpecDir is the directory of one spec's dump: its full text made safe as a
// file name.
func SpecDir(dir, specText string) string {
	return filepath.Join(dir, unsafeChars.ReplaceAllString(specText, "_"))
}

// Spec is what a dump needs to know of the running spec (Ginkgo's
// SpecReport satisfies it).
type Spec interface {
	Failed() bool
	FullText() string
}

// OnFailure dumps when spec failed and a client exists; passing specs
// write nothing. Problems are logged, never fail the spec: the dump is an aid.
func OnFailure(ctx context.Context, c client.Reader, dir string, spec Spec, logf func(string, ...any), namespaces ...string) {
	if !spec.Failed() || c == nil {
		return
	}
	path, err := Dump(ctx, c, SpecDir(dir, spec.FullText()), namespaces...)
	if err != nil {
		logf("dump: %v\n", err)
		return
	}
	logf("dumped objects of the failed spec to %s\n", path)
}

// Dump writes the objects of the given namespaces (plus the cluster-scoped
// ones that concern them) to specDir/objects.yaml and returns its path.
// Kinds the server does not serve are left out.
func Dump(ctx context.Context, c client.Reader, specDir string, namespaces ...string) (string, error) {
	if err := os.MkdirAll(specDir, 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, gvk := range DumpedKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		scopes := append([]string{""}, namespaces...)
		for _, ns := range scopes {
			opts := []client.ListOption{}
			if ns != "" {
				opts = append(opts, client.InNamespace(ns))
			}
			if err := c.List(ctx, list, opts...); err != nil {
				continue
			}
			for i := range list.Items {
				it := &list.Items[i]
				if ns == "" && (it.GetNamespace() != "" || !Relevant(it.GetName(), namespaces)) {
					continue // namespaced items per namespace; cluster-scoped ones only if they concern the spec
				}
				it.SetManagedFields(nil)
				out, _ := yaml.Marshal(it.Object)
				b.WriteString("---\n")
				b.Write(out)
			}
		}
	}
	path := filepath.Join(specDir, "objects.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}

// Relevant keeps the cluster-scoped objects of a dump to the operator's and
// the spec's own (not the API server's dozens of system roles).
func Relevant(name string, namespaces []string) bool {
	if strings.Contains(name, "dragonfly") {
		return true
	}
	for _, ns := range namespaces {
		if strings.HasPrefix(name, ns) {
			return true
		}
	}
	return false
}
