// Package fluxfixture is the Flux tier's fixture: the served tree with its
// planted-defect additions, the GitRepository and Kustomizations the specs
// apply, and the neighbour tenant whose survival proves prune-safety.
package fluxfixture

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/fixtures"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/flux/gitserver"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/kube/podwait"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/static/gitops"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

// Where the Flux tier puts things.
const (
	GitServerNamespace = "dfe2e-git"
	SourceName         = "flux-system" // the GitRepository every fixture Kustomization names
	// DefectDir is added to the served tree (beside kubernetes/, which the
	// chain reads) for the planted-defect Kustomizations: objects that are
	// harmless to apply.
	DefectDir       = "dfe2e-selftest/harmless"
	DefectNamespace = "dfe2e-selftest"
	// UnprotectedDir applies UnprotectedNamespace, a shared namespace
	// without the prune opt-out.
	UnprotectedDir       = "dfe2e-selftest/unprotected-namespace"
	UnprotectedNamespace = "dfe2e-unprotected"
)

// The Flux tier's names from the fixtures tree.
const (
	ClusterApps        = "cluster-apps"
	OperatorKS         = "dragonfly-operator"
	TestCache          = "test-cache"
	OperatorDeployment = "dragonfly-operator-controller-manager"
	// DriftObject is the bundled object the drift spec deletes behind Flux's back.
	DriftObject = "dragonfly-operator-controller-manager-metrics-service"
	// NeighbourTenant stands in for the guide's CloudNativePG Cluster
	// database/test-db (no CloudNativePG here): an object in `database`
	// that no Flux Kustomization of the operator owns.
	NeighbourTenant = "test-db"
)

// DefectFiles are added to the served tree for the planted defects.
var DefectFiles = map[string][]byte{
	DefectDir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml\n  - ./configmap.yaml\n"),
	DefectDir + "/namespace.yaml":     []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + DefectNamespace + "\n"),
	DefectDir + "/configmap.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: harmless\n  namespace: " + DefectNamespace +
		"\ndata:\n  why: applied by planted-defect Kustomizations of the dragonfly-e2e Flux tier\n"),
	// A shared namespace WITHOUT kustomize.toolkit.fluxcd.io/prune: disabled:
	// the prune-safety check must fail on it.
	UnprotectedDir + "/kustomization.yaml": []byte("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ./namespace.yaml\n"),
	UnprotectedDir + "/namespace.yaml":     []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + UnprotectedNamespace + "\n"),
}

// ExportTree writes the fixtures tree with operator version's bundle filled
// in, renders it (for the chain's order and timeouts) and returns its files
// with DefectFiles added.
func ExportTree(ctx context.Context, version string, src operator.SourceOptions) (map[string][]byte, *gitops.Tree, error) {
	files, tree, err := ExportFS(ctx, fixtures.Tree(), version, src)
	if err != nil {
		return nil, nil, err
	}
	for p, b := range DefectFiles {
		files[p] = b
	}
	return files, tree, nil
}

// ExportFS writes fsys (a GitOps tree) with operator version's bundle filled
// in, as a user's repository holds it, and renders it the way Flux does.
func ExportFS(ctx context.Context, fsys fs.FS, version string, src operator.SourceOptions) (map[string][]byte, *gitops.Tree, error) {
	dir, err := os.MkdirTemp("", "dfe2e-flux-tree-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "tree")
	o := gitops.Options{OperatorVersion: version, Source: src}
	if err := gitops.Export(ctx, fsys, out, o); err != nil {
		return nil, nil, fmt.Errorf("exporting the GitOps tree at operator %s: %w", version, err)
	}
	tree, err := gitops.Load(ctx, out, o)
	if err != nil {
		return nil, nil, err
	}
	files, err := gitserver.ReadFS(os.DirFS(out))
	if err != nil {
		return nil, nil, err
	}
	return files, tree, nil
}

// KSTimeout is spec.timeout (Flux's default: the interval) plus a margin
// for the controller to report.
func KSTimeout(k *gitops.Kustomization) time.Duration {
	for _, f := range []string{"timeout", "interval"} {
		if s, ok, _ := unstructured.NestedString(k.Object.Object, "spec", f); ok {
			if d, err := time.ParseDuration(s); err == nil {
				return d + 30*time.Second
			}
		}
	}
	return wait.Timeout(wait.KustomizationReady)
}

// Namespace holds the fixture's Flux objects (GitRepository,
// Kustomizations): Flux's own namespace, or flux.TierNamespace on a
// cluster whose Flux is the user's (the suites set it before the tier's
// specs, with RelocateTree for the served tree).
var Namespace = flux.Namespace

// KSKey is the key of a fixture's Flux object (in Namespace).
func KSKey(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: Namespace, Name: name}
}

// GitRepository is the source every fixture Kustomization names.
func GitRepository(url string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": SourceName, "namespace": Namespace},
		"spec": map[string]any{"interval": "10m", "timeout": "60s", "url": url,
			"ref": map[string]any{"branch": gitserver.DefaultBranch}},
	}}
}

// DefectKustomization is a planted-defect Flux Kustomization over the
// served tree; mutate plants the defect in its spec.
func DefectKustomization(name string, mutate func(spec map[string]any)) *unstructured.Unstructured {
	spec := map[string]any{
		"interval": "15m", "timeout": "20s", "prune": true, "wait": false,
		"path":      "./" + DefectDir,
		"sourceRef": map[string]any{"kind": "GitRepository", "name": SourceName},
	}
	mutate(spec)
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": Namespace},
		"spec":     spec,
	}}
}

// SetSuspend suspends or resumes a Kustomization (merge patch of spec.suspend).
func SetSuspend(ctx context.Context, c client.Client, key client.ObjectKey, suspend bool) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flux.KustomizationGVK)
	u.SetNamespace(key.Namespace)
	u.SetName(key.Name)
	return c.Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"suspend":%v}}`, suspend))))
}

// WorkloadsFailing says, from the pods of the workloads k renders (their
// selectors, never whole namespaces: another workload's missing image must
// not decide k's verdict), whether they crashed (*imagepull.CrashError) or
// cannot start for lack of an image (*imagepull.BlockedError); nil otherwise.
func WorkloadsFailing(ctx context.Context, c client.Reader, cs kubernetes.Interface, k *gitops.Kustomization) error {
	ws, err := podwait.Workloads(k.Objects)
	if err != nil {
		return fmt.Errorf("Kustomization %s: %w", k.Key(), err)
	}
	return podwait.FromReader(c).WithLogs(cs).CheckWorkloads(ctx, ws)
}

// Neighbour is the stand-in tenant in ns (outside any Flux inventory).
func Neighbour(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: NeighbourTenant, Namespace: ns,
		Annotations: map[string]string{"dragonfly-e2e.io/stand-in-for": "CloudNativePG Cluster database/test-db (the guide's neighbour tenant)"}},
		Data: map[string]string{"owner": "not Flux: planted by the dragonfly-e2e prune-safety spec"}}
}

// PlantNeighbour creates the neighbour tenant in ns; one already there is fine.
func PlantNeighbour(ctx context.Context, c client.Client, ns string) error {
	err := c.Create(ctx, Neighbour(ns))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	return nil
}

// NeighbourKept is the prune-safety check: the shared namespace ns exists
// and is not terminating, and the neighbour tenant in it survives.
func NeighbourKept(ctx context.Context, c client.Reader, ns string) error {
	var n corev1.Namespace
	if err := c.Get(ctx, client.ObjectKey{Name: ns}, &n); err != nil {
		return fmt.Errorf("shared namespace %s was deleted by the removal: %w", ns, err)
	}
	if n.DeletionTimestamp != nil {
		return fmt.Errorf("shared namespace %s is being deleted by the removal (and everything in it, the neighbour tenant included)", ns)
	}
	var cm corev1.ConfigMap
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: NeighbourTenant}, &cm); err != nil {
		return fmt.Errorf("neighbour tenant %s/%s was deleted by the removal: %w", ns, NeighbourTenant, err)
	}
	if cm.DeletionTimestamp != nil {
		return fmt.Errorf("neighbour tenant %s/%s is being deleted by the removal", ns, NeighbourTenant)
	}
	return nil
}

// Ping runs redis-cli PING against service in ns from a pod in ns (the
// operator's NetworkPolicy admits 6379 only from the same namespace), using
// the Dragonfly pod's own image, and returns its output. The pod is removed
// before Ping returns.
func Ping(ctx context.Context, c client.Client, cs kubernetes.Interface, ns, service string) (string, error) {
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app": service}); err != nil {
		return "", err
	}
	if len(pods.Items) == 0 {
		return "", fmt.Errorf("no pod labelled app=%s in %s to take the image from", service, ns)
	}
	p := PingPod(ns, service, pods.Items[0].Spec.Containers[0].Image)
	if err := c.Create(ctx, p); err != nil {
		return "", err
	}
	defer func() { _ = c.Delete(context.WithoutCancel(ctx), p) }()
	_, err := wait.For(ctx, "PING pod "+ns+"/"+p.Name+" to finish", wait.ServerReachable, func(ctx context.Context) (bool, string, error) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(p), p); err != nil {
			return false, err.Error(), nil
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, string(p.Status.Phase), nil
	})
	if err != nil {
		return "", err
	}
	out, err := cs.CoreV1().Pods(ns).GetLogs(p.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// PingPod is the one-shot pod that PINGs service.ns on 6379 with image.
func PingPod(ns, service, image string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "dfe2e-ping-", Namespace: ns},
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{
			Name: "ping", Image: image, ImagePullPolicy: corev1.PullIfNotPresent,
			Command: []string{"redis-cli", "-h", service + "." + ns, "-p", "6379", "PING"}}},
			ActiveDeadlineSeconds: ptr.To[int64](60)}}
}
