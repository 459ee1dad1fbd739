package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// This file is the preflight of a run on a cluster the user already has
// (`dfe2e e2e --kubeconfig`): every check says what is wrong and what to do,
// before the run creates anything.

// Existing names the cluster: a kubeconfig file and, optionally, a context.
type Existing struct {
	Kubeconfig, Context string
}

func (e Existing) String() string {
	if e.Context == "" {
		return "kubeconfig " + e.Kubeconfig + " (its current context)"
	}
	return "kubeconfig " + e.Kubeconfig + ", context " + e.Context
}

// CheckKubeconfigFile rejects a kubeconfig that is missing or unreadable.
func CheckKubeconfigFile(path string) error {
	if path == "" {
		return errors.New("--kubeconfig is empty: give the path of your cluster's kubeconfig")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("--kubeconfig %s: %w — give the path of a kubeconfig this user can read (e.g. ~/.kube/config)", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return fmt.Errorf("--kubeconfig %s is a directory: give the kubeconfig file itself", path)
	}
	if _, err := f.Read(make([]byte, 1)); err != nil {
		return fmt.Errorf("--kubeconfig %s cannot be read (%v) — give a readable kubeconfig", path, err)
	}
	return nil
}

// Connect loads the kubeconfig and waits (APIServerReachable) for the API
// server to answer. The error names the kubeconfig, the context and the
// server, and what to do.
func (e Existing) Connect(ctx context.Context) (*rest.Config, error) {
	if err := CheckKubeconfigFile(e.Kubeconfig); err != nil {
		return nil, err
	}
	c, err := (&Kubeconfig{Path: e.Kubeconfig, Context: e.Context}).Start(ctx)
	if err != nil {
		var ue *UnreachableError
		if errors.As(err, &ue) {
			msg := fmt.Sprintf("the API server %s of %s does not answer: %v — check that the cluster runs and that this machine can reach it (VPN, firewall), or pick another context with --context", ue.Host, e, ue.Err)
			if ue.Waited != "" {
				msg += fmt.Sprintf(" (waited %s=%s)", ue.Waited, wait.Timeout(ue.Waited))
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("%s: %v — check the file and the context name (kubectl config get-contexts --kubeconfig %s)", e, err, e.Kubeconfig)
	}
	return c.Config, nil
}

// DefaultClassAnnotation marks a cluster's default StorageClass.
const DefaultClassAnnotation = "storageclass.kubernetes.io/is-default-class"

// StorageClass returns the class the run's PVCs use: name when it exists,
// else (name empty) the cluster's default class.
func StorageClass(ctx context.Context, c client.Reader, name string) (string, error) {
	var classes storagev1.StorageClassList
	if err := c.List(ctx, &classes); err != nil {
		return "", fmt.Errorf("listing StorageClasses: %w", err)
	}
	var names, defaults []string
	for _, sc := range classes.Items {
		names = append(names, sc.Name)
		if sc.Annotations[DefaultClassAnnotation] == "true" {
			defaults = append(defaults, sc.Name)
		}
	}
	sort.Strings(names)
	sort.Strings(defaults)
	have := "none"
	if len(names) > 0 {
		have = strings.Join(names, ", ")
	}
	if name != "" {
		for _, n := range names {
			if n == name {
				return name, nil
			}
		}
		return "", fmt.Errorf("--storage-class %s: no StorageClass %q on the cluster (it has: %s); pass one of those", name, name, have)
	}
	switch len(defaults) {
	case 0:
		return "", fmt.Errorf("the cluster has no default StorageClass (it has: %s): pass --storage-class NAME for the suites' PVCs", have)
	case 1:
		return defaults[0], nil
	}
	return "", fmt.Errorf("the cluster marks %d StorageClasses as default (%s): pass --storage-class NAME to choose one", len(defaults), strings.Join(defaults, ", "))
}

// Access is one thing the run must be allowed to do.
type Access struct {
	Verb, Group, Resource, Subresource string
	// Namespace is empty for cluster-scoped resources and for "in every
	// namespace" (the run creates its namespaces).
	Namespace string
}

func (a Access) String() string {
	r := a.Resource
	if a.Group != "" {
		r += "." + a.Group
	}
	if a.Subresource != "" {
		r += "/" + a.Subresource
	}
	return a.Verb + " " + r
}

// RunNeeds is what a run of the suites does on the cluster: create and
// remove its namespaces and everything in them, install the operator's CRD
// and cluster RBAC, and reach pods (exec, port-forward, logs).
func RunNeeds() []Access {
	var out []Access
	for _, v := range []string{"create", "delete", "get", "list"} {
		for _, r := range []Access{
			{Resource: "namespaces"},
			{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
			{Group: "rbac.authorization.k8s.io", Resource: "roles"},
			{Group: "rbac.authorization.k8s.io", Resource: "rolebindings"},
			{Resource: "serviceaccounts"},
			{Resource: "services"},
			{Resource: "configmaps"},
			{Resource: "secrets"},
			{Resource: "pods"},
			{Resource: "persistentvolumeclaims"},
			{Group: "apps", Resource: "deployments"},
			{Group: "apps", Resource: "statefulsets"},
		} {
			r.Verb = v
			out = append(out, r)
		}
	}
	return append(out,
		Access{Verb: "patch", Group: "apps", Resource: "statefulsets"},
		Access{Verb: "patch", Group: "apps", Resource: "deployments"},
		Access{Verb: "create", Resource: "pods", Subresource: "exec"},
		Access{Verb: "create", Resource: "pods", Subresource: "portforward"},
		Access{Verb: "get", Resource: "pods", Subresource: "log"},
		Access{Verb: "list", Resource: "nodes"},
		Access{Verb: "list", Group: "storage.k8s.io", Resource: "storageclasses"},
		Access{Verb: "create", Group: "authorization.k8s.io", Resource: "subjectaccessreviews"},
	)
}

// FluxInstallNeeds is what installing Flux (flux.Render's objects: its
// namespace, CRDs, controllers, RBAC binding cluster-admin to
// kustomize-controller, network policies, a quota), running the Flux
// tier's GitRepository and Kustomizations and removing it all adds to
// RunNeeds. Server-side apply is a patch.
func FluxInstallNeeds() []Access {
	var out []Access
	for _, v := range []string{"create", "delete", "get", "list", "patch"} {
		for _, r := range []Access{
			{Resource: "namespaces"},
			{Group: "apiextensions.k8s.io", Resource: "customresourcedefinitions"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
			{Group: "rbac.authorization.k8s.io", Resource: "clusterrolebindings"},
			{Resource: "serviceaccounts"},
			{Resource: "services"},
			{Resource: "resourcequotas"},
			{Group: "networking.k8s.io", Resource: "networkpolicies"},
			{Group: "apps", Resource: "deployments"},
		} {
			r.Verb = v
			out = append(out, r)
		}
	}
	out = append(out, FluxObjectNeeds()...)
	// Flux's ClusterRoles and the cluster-admin binding of its reconciler
	// grant what the user may have to pass on.
	return append(out,
		Access{Verb: "bind", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
		Access{Verb: "escalate", Group: "rbac.authorization.k8s.io", Resource: "clusterroles"},
	)
}

// FluxObjectNeeds is what the Flux tier's fixture does with Flux's
// objects (its GitRepository and Kustomizations, suspended and removed),
// whoever installed Flux.
func FluxObjectNeeds() []Access {
	var out []Access
	for _, v := range []string{"create", "delete", "get", "list", "patch"} {
		out = append(out,
			Access{Verb: v, Group: "source.toolkit.fluxcd.io", Resource: "gitrepositories"},
			Access{Verb: v, Group: "kustomize.toolkit.fluxcd.io", Resource: "kustomizations"})
	}
	return out
}

// CheckAccess asks the API server (SelfSubjectAccessReview) about every
// need; the error names each one denied.
func CheckAccess(ctx context.Context, c client.Client, needs []Access) error {
	var denied []string
	for _, n := range needs {
		r := &authzv1.SelfSubjectAccessReview{Spec: authzv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authzv1.ResourceAttributes{Verb: n.Verb, Group: n.Group, Resource: n.Resource, Subresource: n.Subresource, Namespace: n.Namespace},
		}}
		if err := c.Create(ctx, r); err != nil {
			return fmt.Errorf("asking the API server whether this user may %s (SelfSubjectAccessReview): %w", n, err)
		}
		if !r.Status.Allowed {
			d := n.String()
			if r.Status.Reason != "" {
				d += " (" + r.Status.Reason + ")"
			}
			denied = append(denied, d)
		}
	}
	if len(denied) > 0 {
		return fmt.Errorf("this user may not %s — the run needs them; use a kubeconfig/context with cluster-admin rights, or grant them", strings.Join(denied, "; "))
	}
	return nil
}

// FindCRD says whether the CRD name exists, and since when.
func FindCRD(ctx context.Context, c client.Reader, name string) (bool, string, error) {
	// Unstructured: the run's clients need no apiextensions scheme.
	crd := &unstructured.Unstructured{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	err := c.Get(ctx, client.ObjectKey{Name: name}, crd)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return false, "", nil
	case err != nil:
		return false, "", fmt.Errorf("looking for CRD %s: %w", name, err)
	}
	detail := "created " + crd.GetCreationTimestamp().UTC().Format("2006-01-02 15:04:05Z")
	if id := crd.GetLabels()[RunLabel]; id != "" {
		detail += " by dfe2e run " + id
	}
	return true, detail, nil
}

// NamespaceFree fails when namespace name exists: the run installs into it
// and would change and empty it. A leftover of a dfe2e run is named so,
// with the command that removes that run's objects.
func NamespaceFree(ctx context.Context, c client.Reader, name string) error {
	return NamespaceFreeFor(ctx, c, name, "the suites install the operator and their instances into it and would change it")
}

// NamespaceFreeFor is NamespaceFree where use says what the run would do
// to the namespace.
func NamespaceFreeFor(ctx context.Context, c client.Reader, name, use string) error {
	var ns corev1.Namespace
	err := c.Get(ctx, client.ObjectKey{Name: name}, &ns)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("looking for namespace %s: %w", name, err)
	}
	if id := ns.Labels[RunLabel]; id != "" {
		return fmt.Errorf("namespace %s is a leftover of an interrupted dfe2e run %s: remove what that run created with kubectl delete namespaces,customresourcedefinitions,clusterroles,clusterrolebindings -l %s=%s, then run again", name, id, RunLabel, id)
	}
	return fmt.Errorf("namespace %s exists and this run did not create it: %s — run on a cluster (or context) without it", name, use)
}

// RunOf is the run id in a FindCRD detail ("" when no dfe2e run made it).
func RunOf(detail string) string {
	_, id, ok := strings.Cut(detail, " by dfe2e run ")
	if !ok {
		return ""
	}
	return id
}

// FluxCRDs are the CRDs whose presence says Flux is installed.
var FluxCRDs = []string{"gitrepositories.source.toolkit.fluxcd.io", "kustomizations.kustomize.toolkit.fluxcd.io"}

// FluxInstalled reports whether Flux's CRDs are on the cluster: all (true),
// none (false), or some (an error: a half-installed Flux is not used).
func FluxInstalled(ctx context.Context, c client.Reader) (bool, string, error) {
	var have, missing []string
	for _, n := range FluxCRDs {
		ok, detail, err := FindCRD(ctx, c, n)
		if err != nil {
			return false, "", err
		}
		if ok {
			have = append(have, n+" ("+detail+")")
		} else {
			missing = append(missing, n)
		}
	}
	switch {
	case len(missing) == 0:
		return true, strings.Join(have, ", "), nil
	case len(have) == 0:
		return false, "", nil
	}
	return false, "", &FluxHalfInstalledError{Have: have, Missing: missing}
}

// FluxHalfInstalledError is a cluster with some of FluxCRDs only: the run
// neither uses nor installs over such a Flux.
type FluxHalfInstalledError struct{ Have, Missing []string }

func (e *FluxHalfInstalledError) Error() string {
	return fmt.Sprintf("Flux is half installed (has %s; lacks %s): repair or remove it, or pass --skip-flux", strings.Join(e.Have, ", "), strings.Join(e.Missing, ", "))
}

// DeletableKinds are the cluster's kinds that can be listed and deleted,
// from discovery (preferred versions), for Cleanup.
func DeletableKinds(cfg *rest.Config) (Kinds, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return Kinds{}, err
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return Kinds{}, fmt.Errorf("discovering the cluster's kinds: %w", err)
	}
	var k Kinds
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !hasVerbs(r.Verbs, "list", "delete") {
				continue
			}
			// Events record what happened; they expire on their own.
			if r.Kind == "Event" {
				continue
			}
			gvk := gv.WithKind(r.Kind)
			if r.Namespaced {
				k.Namespaced = append(k.Namespaced, gvk)
			} else {
				k.ClusterScoped = append(k.ClusterScoped, gvk)
			}
		}
	}
	return k, nil
}

func hasVerbs(have []string, want ...string) bool {
	n := 0
	for _, w := range want {
		for _, h := range have {
			if h == w {
				n++
				break
			}
		}
	}
	return n == len(want)
}
