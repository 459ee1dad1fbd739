//go:build e2e

package suites

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/finding"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
)

// artifactsDir is the directory for dumps and reports.
func artifactsDir() string { return cmp.Or(config.FromEnv().Artifacts, "artifacts") }

// dumpedKinds are the kinds a failed spec's dump lists.
var dumpedKinds = []schema.GroupVersionKind{
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

// dumpOnFailure is registered with DeferCleanup: when the spec failed it
// writes the objects of the given namespaces (plus cluster-scoped RBAC and
// webhooks) to $DFE2E_ARTIFACTS/<spec>/objects.yaml. Passing specs write nothing.
func dumpOnFailure(namespaces ...string) func(ctx context.Context) {
	return func(ctx context.Context) {
		if !CurrentSpecReport().Failed() || k8s == nil {
			return
		}
		dir := filepath.Join(artifactsDir(), unsafeChars.ReplaceAllString(CurrentSpecReport().FullText(), "_"))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			GinkgoWriter.Printf("dump: %v\n", err)
			return
		}
		var b strings.Builder
		for _, gvk := range dumpedKinds {
			list := &unstructured.UnstructuredList{}
			list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
			scopes := append([]string{""}, namespaces...)
			for _, ns := range scopes {
				opts := []client.ListOption{}
				if ns != "" {
					opts = append(opts, client.InNamespace(ns))
				}
				if err := k8s.List(ctx, list, opts...); err != nil {
					continue
				}
				for i := range list.Items {
					it := &list.Items[i]
					if ns == "" && (it.GetNamespace() != "" || !relevant(it.GetName(), namespaces)) {
						continue // namespaced items per namespace; cluster-scoped ones only if they concern the spec
					}
					it.SetManagedFields(nil)
					out, _ := yaml.Marshal(it.Object)
					b.WriteString("---\n")
					b.Write(out)
				}
			}
		}
		path := filepath.Join(dir, "objects.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			GinkgoWriter.Printf("dump: %v\n", err)
			return
		}
		GinkgoWriter.Printf("dumped objects of the failed spec to %s\n", path)
	}
}

// relevant keeps the cluster-scoped objects of a dump to the operator's and
// the spec's own (not the API server's dozens of system roles).
func relevant(name string, namespaces []string) bool {
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

// FindingsEntry names the Ginkgo report entries that carry findings; the
// entry's value is a []finding.Finding (Value.AsJSON in the JSON report).
const FindingsEntry = "dfe2e.findings"

// report records findings in the Ginkgo report (JSON/JUnit) and the spec log;
// what says what they are ("least-privilege report").
func report(what string, fs []finding.Finding) {
	if len(fs) == 0 {
		return
	}
	AddReportEntry(FindingsEntry, fs)
	GinkgoWriter.Printf("%s:\n%s", what, finding.Lines(fs))
}
