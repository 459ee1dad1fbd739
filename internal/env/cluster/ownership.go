package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/wait"
)

// The labels on everything a run creates on a cluster it does not own.
// Cleanup selects by RunLabel alone: ManagedByLabel is set only where the
// object carries none of its own (the operator's manifests set it), so it
// says who made the object but cannot tell one run from another.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "dragonfly-e2e"
	RunLabel       = "dragonfly-e2e.io/run"
)

// NewRunID is a label value unique to one run: the start time (UTC, to the
// second) and a random suffix, so two runs started together differ.
func NewRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// RunLabels are the labels an object of run id gets.
func RunLabels(id string) map[string]string {
	return map[string]string{ManagedByLabel: ManagedByValue, RunLabel: id}
}

// RunSelector selects the objects of run id.
func RunSelector(id string) client.MatchingLabels { return client.MatchingLabels{RunLabel: id} }

func addRunLabels(o metav1.Object, id string) {
	l := o.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	if _, ok := l[ManagedByLabel]; !ok {
		l[ManagedByLabel] = ManagedByValue
	}
	l[RunLabel] = id
	o.SetLabels(l)
}

// LabelCreates wraps c so that every object created through it carries the
// run's labels: Create always; a server-side apply when the object does not
// exist yet or is already this run's. An apply over an object the run did
// not create is refused (a Namespace is left as it is), so the run never
// changes what it did not create and cleanup never takes it for the run's.
func LabelCreates(c client.Client, id string) client.Client {
	if id == "" {
		return c
	}
	return &labelling{Client: c, id: id}
}

type labelling struct {
	client.Client
	id string
}

func (l *labelling) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	addRunLabels(obj, l.id)
	return l.Client.Create(ctx, obj, opts...)
}

// unstructuredApply is client.ApplyConfigurationFromUnstructured's value:
// it embeds the *unstructured.Unstructured, whose methods it promotes.
type unstructuredApply interface {
	runtime.ApplyConfiguration
	metav1.Object
	GroupVersionKind() schema.GroupVersionKind
}

func (l *labelling) Apply(ctx context.Context, ac runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	u, ok := ac.(unstructuredApply)
	if !ok {
		return fmt.Errorf("run %s: only unstructured objects may be applied on a cluster the run does not own (their labels are how cleanup finds them); got %T", l.id, ac)
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	err := l.Client.Get(ctx, client.ObjectKey{Namespace: u.GetNamespace(), Name: u.GetName()}, live)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		addRunLabels(u, l.id)
	case err != nil:
		return err
	case live.GetLabels()[RunLabel] == l.id:
		addRunLabels(u, l.id)
	case u.GroupVersionKind().Kind == "Namespace":
		// The user's namespace is used as it is: applying over it would
		// change its labels, and nothing of the run needs them.
		return nil
	default:
		return fmt.Errorf("%s %s already exists and this run did not create it: the run changes nothing it did not create — remove it, or run on another cluster or context", u.GroupVersionKind().Kind, key(u))
	}
	return l.Client.Apply(ctx, ac, opts...)
}

// Kinds are the kinds cleanup looks through: Namespaced ones in every
// namespace, ClusterScoped ones cluster-wide (Namespace included).
type Kinds struct {
	Namespaced, ClusterScoped []schema.GroupVersionKind
}

// Removed is what Cleanup deleted, as "Kind name" or "Kind ns/name".
type Removed []string

// Cleanup deletes the objects labelled with run id, and nothing else:
// first the namespaced ones (in namespaces the run did not create; a
// namespace it created goes with everything in it), then its namespaces,
// waiting until they are gone, then its cluster-scoped objects (CRDs,
// ClusterRoles, webhooks …). It ends by listing every kind again: an object
// of the run still there is an error naming it.
func Cleanup(ctx context.Context, c client.Client, kinds Kinds, id string, logf func(string, ...any)) (Removed, error) {
	if id == "" {
		return nil, fmt.Errorf("cleanup without a run id would select nothing safely; refusing")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var removed Removed
	del := func(u *unstructured.Unstructured) error {
		// Labels are checked again on the object itself: a selector that a
		// fake or a proxy ignored must not widen what is deleted.
		if u.GetLabels()[RunLabel] != id {
			return nil
		}
		err := c.Delete(ctx, u, client.PropagationPolicy(metav1.DeletePropagationBackground))
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", ref(u), err)
		}
		removed = append(removed, ref(u))
		logf("cleanup: deleted %s", ref(u))
		return nil
	}
	ours := func(gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, l, RunSelector(id)); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				return nil, nil // the kind went with a CRD this run removed
			}
			return nil, fmt.Errorf("listing %s of run %s: %w", gvk.Kind, id, err)
		}
		for i := range l.Items {
			l.Items[i].SetGroupVersionKind(gvk)
		}
		return l.Items, nil
	}
	nsGVK := schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}
	namespaces, err := ours(nsGVK)
	if err != nil {
		return removed, err
	}
	created := map[string]bool{}
	for _, n := range namespaces {
		if n.GetLabels()[RunLabel] == id {
			created[n.GetName()] = true
		}
	}
	var errs []string
	for _, gvk := range kinds.Namespaced {
		items, err := ours(gvk)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for i := range items {
			if created[items[i].GetNamespace()] {
				continue
			}
			if err := del(&items[i]); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	names := make([]string, 0, len(created))
	for n := range created {
		names = append(names, n)
	}
	sort.Strings(names)
	// Listed before the deletion: the namespace controller removes them.
	bound, why := namespaceGoneBound(podsIn(ctx, c, names))
	for i := range namespaces {
		if err := del(&namespaces[i]); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(names) > 0 {
		_, err := wait.ForDuration(ctx, "namespaces "+strings.Join(names, ", ")+" of run "+id+" to be gone (bound "+why+")", bound, func(ctx context.Context) (bool, string, error) {
			left, err := ours(nsGVK)
			if err != nil {
				return false, err.Error(), nil
			}
			if len(left) > 0 {
				return false, fmt.Sprintf("%d left, e.g. %s (%s)", len(left), left[0].GetName(), nsPhase(left[0])), nil
			}
			return true, "", nil
		})
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, gvk := range kinds.ClusterScoped {
		if gvk == nsGVK {
			continue
		}
		items, err := ours(gvk)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		for i := range items {
			if err := del(&items[i]); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("cleanup of run %s: %s", id, strings.Join(errs, "; "))
	}
	// Deletion is asynchronous (a CRD's finalizer removes its objects
	// first): wait until no object of the run is listed.
	var left []string
	_, err = wait.For(ctx, "every object of run "+id+" to be gone", wait.ObjectDeleted, func(ctx context.Context) (bool, string, error) {
		l, err := Leftovers(ctx, c, kinds, id)
		if err != nil {
			return false, err.Error(), nil
		}
		left = l
		return len(l) == 0, fmt.Sprintf("%d left: %s", len(l), strings.Join(l, ", ")), nil
	})
	if err != nil {
		if len(left) == 0 {
			return removed, err
		}
		return removed, fmt.Errorf("cleanup of run %s left %d objects: %s (remove them with kubectl delete … -l %s=%s)", id, len(left), strings.Join(left, ", "), RunLabel, id)
	}
	return removed, nil
}

// Leftovers lists the objects of run id still on the cluster, ignoring
// those already being deleted only when their namespace is going too.
func Leftovers(ctx context.Context, c client.Client, kinds Kinds, id string) ([]string, error) {
	var left []string
	for _, gvk := range append(append([]schema.GroupVersionKind{}, kinds.ClusterScoped...), kinds.Namespaced...) {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, l, RunSelector(id)); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("listing %s of run %s: %w", gvk.Kind, id, err)
		}
		for i := range l.Items {
			l.Items[i].SetGroupVersionKind(gvk)
			if l.Items[i].GetLabels()[RunLabel] == id {
				left = append(left, ref(&l.Items[i]))
			}
		}
	}
	sort.Strings(left)
	return left, nil
}

func key(o metav1.Object) string {
	if o.GetNamespace() != "" {
		return o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetName()
}

func nsPhase(u unstructured.Unstructured) string {
	p, _, _ := unstructured.NestedString(u.Object, "status", "phase")
	if p == "" {
		return "no phase"
	}
	return p
}

func ref(u *unstructured.Unstructured) string {
	if u.GetNamespace() != "" {
		return u.GetKind() + " " + u.GetNamespace() + "/" + u.GetName()
	}
	return u.GetKind() + " " + u.GetName()
}

// defaultGracePeriod is Kubernetes' terminationGracePeriodSeconds default.
const defaultGracePeriod = 30 * time.Second

// podsIn lists the pods of namespaces (none when listing fails: the bound
// then falls back to ObjectDeleted plus the default grace period).
func podsIn(ctx context.Context, c client.Reader, namespaces []string) []unstructured.Unstructured {
	var pods []unstructured.Unstructured
	for _, ns := range namespaces {
		l := &unstructured.UnstructuredList{}
		l.SetGroupVersionKind(schema.GroupVersionKind{Version: "v1", Kind: "PodList"})
		if err := c.List(ctx, l, client.InNamespace(ns)); err == nil {
			pods = append(pods, l.Items...)
		}
	}
	return pods
}

// namespaceGoneBound bounds a deleted namespace disappearing: its pods get
// their termination grace period, all at once, and only then do the
// namespace's finalizers run (ObjectDeleted). why names the longest pod.
func namespaceGoneBound(pods []unstructured.Unstructured) (time.Duration, string) {
	grace, longest := defaultGracePeriod, "the default pod grace period"
	for _, p := range pods {
		g := defaultGracePeriod
		if s, ok, _ := unstructured.NestedInt64(p.Object, "spec", "terminationGracePeriodSeconds"); ok {
			g = time.Duration(s) * time.Second
		}
		if g > grace {
			grace, longest = g, "the grace period of pod "+p.GetNamespace()+"/"+p.GetName()
		}
	}
	od := wait.Timeout(wait.ObjectDeleted)
	return od + grace, fmt.Sprintf("%s %s + %s %s", wait.ObjectDeleted, od, longest, grace)
}
