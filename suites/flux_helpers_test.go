//go:build e2e

package suites

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/checks/installcheck"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// Where the Flux tier puts things.
const (
	gitServerNamespace = "dfe2e-git"
	fluxSourceName     = "flux-system" // the GitRepository every fixture Kustomization names
	// fluxDefectDir is added to the served tree (beside kubernetes/, which the
	// chain reads) for the planted-defect Kustomizations: objects that are
	// harmless to apply.
	fluxDefectDir       = "dfe2e-selftest/harmless"
	fluxDefectNamespace = "dfe2e-selftest"
)

var fluxDefectFiles = map[string][]byte{
	fluxDefectDir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml\n  - ./configmap.yaml\n"),
	fluxDefectDir + "/namespace.yaml":     []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + fluxDefectNamespace + "\n"),
	fluxDefectDir + "/configmap.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: harmless\n  namespace: " + fluxDefectNamespace +
		"\ndata:\n  why: applied by planted-defect Kustomizations of the dragonfly-e2e Flux tier\n"),
	// A shared namespace WITHOUT kustomize.toolkit.fluxcd.io/prune: disabled:
	// the prune-safety check must fail on it.
	unprotectedDir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml\n"),
	unprotectedDir + "/namespace.yaml":     []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + unprotectedNamespace + "\n"),
}

const (
	unprotectedDir       = "dfe2e-selftest/unprotected-namespace"
	unprotectedNamespace = "dfe2e-unprotected"
)

// exportTree writes the fixtures tree with the operator bundle filled in,
// renders it (for the chain's order and timeouts) and returns its files.
func exportTree(ctx context.Context) (map[string][]byte, *gitops.Tree, error) {
	dir, err := os.MkdirTemp("", "dfe2e-flux-tree-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "tree")
	o := gitops.Options{OperatorVersion: bundle.Version, Source: bundleSource()}
	if err := gitops.Export(ctx, fixtures.Tree(), out, o); err != nil {
		return nil, nil, fmt.Errorf("exporting the fixtures tree: %w", err)
	}
	tree, err := gitops.Load(ctx, out, o)
	if err != nil {
		return nil, nil, err
	}
	files, err := gitserver.ReadFS(os.DirFS(out))
	if err != nil {
		return nil, nil, err
	}
	for p, b := range fluxDefectFiles {
		files[p] = b
	}
	return files, tree, nil
}

// ksTimeout is spec.timeout (Flux's default: the interval) plus a margin
// for the controller to report.
func ksTimeout(k *gitops.Kustomization) time.Duration {
	for _, f := range []string{"timeout", "interval"} {
		if s, ok, _ := unstructured.NestedString(k.Object.Object, "spec", f); ok {
			if d, err := time.ParseDuration(s); err == nil {
				return d + 30*time.Second
			}
		}
	}
	return wait.Timeout(wait.KustomizationReady)
}

// gitRepository is the source every fixture Kustomization names.
func gitRepository(url string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": fluxSourceName, "namespace": flux.Namespace},
		"spec": map[string]any{"interval": "10m", "timeout": "60s", "url": url,
			"ref": map[string]any{"branch": gitserver.DefaultBranch}},
	}}
	return u
}

// workloadsFailing says, from the pods of the workloads k renders (their
// selectors, never whole namespaces: another workload's missing image must
// not decide k's verdict), whether they crashed (*imagepull.CrashError) or
// cannot start for lack of an image (*imagepull.BlockedError); nil otherwise.
func workloadsFailing(ctx context.Context, k *gitops.Kustomization) error {
	ws, err := podwait.Workloads(k.Objects)
	if err != nil {
		return fmt.Errorf("Kustomization %s: %w", k.Key(), err)
	}
	return podwait.FromReader(k8s).WithLogs(clientset).CheckWorkloads(ctx, ws)
}

// managedBy reports whether field manager m owns fields of the live object.
func managedBy(u *unstructured.Unstructured, m string) bool {
	for _, f := range u.GetManagedFields() {
		if f.Manager == m {
			return true
		}
	}
	return false
}

func getObject(ctx context.Context, ref *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(ref.GroupVersionKind())
	err := k8s.Get(ctx, client.ObjectKey{Namespace: ref.GetNamespace(), Name: ref.GetName()}, u)
	return u, err
}

// setSuspend suspends or resumes a Kustomization (merge patch of spec.suspend).
func setSuspend(ctx context.Context, key client.ObjectKey, suspend bool) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flux.KustomizationGVK)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	return k8s.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"suspend":%v}}`, suspend))))
}

// deleteAndWait deletes obj and waits (within name) until it is gone.
func deleteAndWait(ctx context.Context, obj *unstructured.Unstructured, name wait.Name, why string) (time.Duration, error) {
	if err := k8s.Delete(ctx, obj); err != nil && !apierrors.IsNotFound(err) {
		return 0, err
	}
	return wait.For(ctx, fmt.Sprintf("%s to be deleted%s", installcheck.Ref(obj), why), name, func(ctx context.Context) (bool, string, error) {
		_, err := getObject(ctx, obj)
		if apierrors.IsNotFound(err) {
			return true, "", nil
		}
		if err != nil {
			return false, err.Error(), nil
		}
		return false, "still present", nil
	})
}

// defectKustomization is a planted-defect Flux Kustomization over the served tree.
func defectKustomization(name string, mutate func(spec map[string]any)) *unstructured.Unstructured {
	spec := map[string]any{
		"interval": "15m", "timeout": "20s", "prune": true, "wait": false,
		"path":      "./" + fluxDefectDir,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": fluxSourceName},
	}
	mutate(spec)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": flux.Namespace},
		"spec":     spec,
	}}
}

func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
