package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/config"
	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
)

// deadKubeconfig writes a kubeconfig whose server is a closed loopback port.
func deadKubeconfig(t *testing.T) (path, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	path = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, []byte(`apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://`+addr+`", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: prod-eu, context: {cluster: dead, user: u}}]
current-context: prod-eu
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, addr
}

func TestConnectToAClosedPortNamesKubeconfigContextAndWhatToDo(t *testing.T) {
	t.Setenv(config.EnvTimeouts, `{"APIServerReachable":"1s"}`)
	kc, addr := deadKubeconfig(t)
	start := time.Now()
	_, err := Existing{Kubeconfig: kc, Context: "prod-eu"}.Connect(context.Background())
	if err == nil {
		t.Fatal("a closed port must not connect")
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %s; the named timeout is 1s", el)
	}
	for _, want := range []string{addr, kc, "context prod-eu", "does not answer", "check that the cluster runs", "--context"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestConnectWithAnUnknownContextSaysHowToListThem(t *testing.T) {
	kc, _ := deadKubeconfig(t)
	_, err := Existing{Kubeconfig: kc, Context: "nope"}.Connect(context.Background())
	if err == nil || !strings.Contains(err.Error(), "context nope") || !strings.Contains(err.Error(), "kubectl config get-contexts") {
		t.Fatalf("want an error naming the context and how to list them, got %v", err)
	}
}

func TestCheckKubeconfigFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	if err := CheckKubeconfigFile(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "give the path") {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckKubeconfigFile(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if os.Geteuid() != 0 { // root reads a mode-000 file anyway
		f := filepath.Join(dir, "secret")
		os.WriteFile(f, []byte("x"), 0o000)
		if err := CheckKubeconfigFile(f); err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("unreadable file: %v", err)
		}
	}
	if err := CheckKubeconfigFile(""); err == nil || !strings.Contains(err.Error(), "--kubeconfig is empty") {
		t.Errorf("empty: %v", err)
	}
}

func class(name string, def bool) *storagev1.StorageClass {
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Provisioner: "x"}
	if def {
		sc.Annotations = map[string]string{DefaultClassAnnotation: "true"}
	}
	return sc
}

func TestStorageClass(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(class("standard", true), class("fast", false))
	if got, err := StorageClass(ctx, c, ""); err != nil || got != "standard" {
		t.Errorf("default: %q, %v", got, err)
	}
	if got, err := StorageClass(ctx, c, "fast"); err != nil || got != "fast" {
		t.Errorf("named: %q, %v", got, err)
	}
	_, err := StorageClass(ctx, c, "gold")
	if err == nil || !strings.Contains(err.Error(), `no StorageClass "gold"`) || !strings.Contains(err.Error(), "fast, standard") {
		t.Errorf("absent class must be named with the ones there are: %v", err)
	}
	_, err = StorageClass(ctx, fakecluster.Client(class("fast", false)), "")
	if err == nil || !strings.Contains(err.Error(), "no default StorageClass") || !strings.Contains(err.Error(), "--storage-class") {
		t.Errorf("no default must say to pass --storage-class: %v", err)
	}
	_, err = StorageClass(ctx, fakecluster.Client(), "")
	if err == nil || !strings.Contains(err.Error(), "it has: none") {
		t.Errorf("no class at all: %v", err)
	}
	_, err = StorageClass(ctx, fakecluster.Client(class("a", true), class("b", true)), "")
	if err == nil || !strings.Contains(err.Error(), "2 StorageClasses as default (a, b)") {
		t.Errorf("two defaults: %v", err)
	}
}

// reviewer answers SelfSubjectAccessReviews: allowed unless denied names it.
type reviewer struct {
	client.Client
	denied map[string]bool
}

func (r reviewer) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if s, ok := obj.(*authzv1.SelfSubjectAccessReview); ok {
		a := s.Spec.ResourceAttributes
		key := Access{Verb: a.Verb, Group: a.Group, Resource: a.Resource, Subresource: a.Subresource}.String()
		s.Status.Allowed = !r.denied[key]
		if !s.Status.Allowed {
			s.Status.Reason = "RBAC: no rule"
		}
		return nil
	}
	return r.Client.Create(ctx, obj, opts...)
}

func TestCheckAccessNamesEveryDeniedVerbAndResource(t *testing.T) {
	ctx := context.Background()
	ok := reviewer{Client: fakecluster.Client()}
	if err := CheckAccess(ctx, ok, RunNeeds()); err != nil {
		t.Fatalf("everything allowed: %v", err)
	}
	r := reviewer{Client: fakecluster.Client(), denied: map[string]bool{
		"create customresourcedefinitions.apiextensions.k8s.io": true,
		"create pods/exec": true,
	}}
	err := CheckAccess(ctx, r, RunNeeds())
	if err == nil {
		t.Fatal("denied verbs must fail the check")
	}
	for _, want := range []string{"create customresourcedefinitions.apiextensions.k8s.io (RBAC: no rule)", "create pods/exec", "cluster-admin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "delete namespaces") {
		t.Errorf("an allowed verb is named as denied: %v", err)
	}
}

func crd(name string, labels map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	u.SetName(name)
	u.SetLabels(labels)
	return u
}

func TestFindCRDAndFluxInstalled(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(crd("dragonflies.dragonflydb.io", RunLabels("r1")))
	ok, detail, err := FindCRD(ctx, c, "dragonflies.dragonflydb.io")
	if !ok || err != nil || !strings.Contains(detail, "by dfe2e run r1") {
		t.Errorf("present CRD: %v %q %v", ok, detail, err)
	}
	if id := RunOf(detail); id != "r1" {
		t.Errorf("run of %q: %q", detail, id)
	}
	if ok, _, err := FindCRD(ctx, c, "nope.example.com"); ok || err != nil {
		t.Errorf("absent CRD: %v %v", ok, err)
	}
	if ok, _, err := FluxInstalled(ctx, c); ok || err != nil {
		t.Errorf("no Flux: %v %v", ok, err)
	}
	half := fakecluster.Client(crd(FluxCRDs[0], nil))
	if _, _, err := FluxInstalled(ctx, half); err == nil || !strings.Contains(err.Error(), "half installed") || !strings.Contains(err.Error(), FluxCRDs[1]) {
		t.Errorf("half-installed Flux: %v", err)
	}
	full := fakecluster.Client(crd(FluxCRDs[0], nil), crd(FluxCRDs[1], nil))
	if ok, _, err := FluxInstalled(ctx, full); !ok || err != nil {
		t.Errorf("Flux installed: %v %v", ok, err)
	}
}

var testKinds = Kinds{
	Namespaced: []schema.GroupVersionKind{
		{Version: "v1", Kind: "ConfigMap"}, {Version: "v1", Kind: "Pod"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
	},
	ClusterScoped: []schema.GroupVersionKind{
		{Version: "v1", Kind: "Namespace"},
		{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"},
	},
}

func om(ns, name string, labels map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}
}

// cleanupCluster is a cluster after a run "r1": its own namespace and
// objects, and the planted defect — objects it did not create, among them
// an unlabelled ConfigMap in the pre-existing namespace the run used.
func cleanupCluster() (client.Client, []client.Object) {
	run := RunLabels("r1")
	keep := []client.Object{
		&corev1.Namespace{ObjectMeta: om("", "database", nil)},
		&corev1.ConfigMap{ObjectMeta: om("database", "users-settings", map[string]string{"app": "users"})},
		&corev1.ConfigMap{ObjectMeta: om("database", "other-run", RunLabels("r0"))},
		&rbacv1.ClusterRole{ObjectMeta: om("", "users-admin", map[string]string{ManagedByLabel: ManagedByValue})},
		&corev1.Namespace{ObjectMeta: om("", "kube-system", nil)},
	}
	mine := []client.Object{
		&corev1.Namespace{ObjectMeta: om("", "dfe2e-git", run)},
		&corev1.Pod{ObjectMeta: om("dfe2e-git", "git-0", run)},
		&corev1.ConfigMap{ObjectMeta: om("database", "operator-config", run)},
		&rbacv1.RoleBinding{ObjectMeta: om("database", "operator", run), RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "x"}},
		&rbacv1.ClusterRole{ObjectMeta: om("", "dragonfly-operator-manager", run)},
	}
	return namespaceGC{fakecluster.Client(append(append([]client.Object{}, keep...), mine...)...)}, keep
}

// namespaceGC deletes a namespace's pods and ConfigMaps with it, as the
// namespace controller does (the fake client does not).
type namespaceGC struct{ client.Client }

func (n namespaceGC) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if obj.GetObjectKind().GroupVersionKind().Kind == "Namespace" {
		for _, o := range []client.Object{&corev1.Pod{}, &corev1.ConfigMap{}, &rbacv1.RoleBinding{}} {
			if err := n.Client.DeleteAllOf(ctx, o, client.InNamespace(obj.GetName())); err != nil {
				return err
			}
		}
	}
	return n.Client.Delete(ctx, obj, opts...)
}

// removedOf names each of objs that is no longer on the cluster.
func removedOf(ctx context.Context, c client.Reader, objs []client.Object) []string {
	var gone []string
	for _, o := range objs {
		cp := o.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), cp); apierrors.IsNotFound(err) {
			gone = append(gone, fmt.Sprintf("%T %s/%s", o, o.GetNamespace(), o.GetName()))
		}
	}
	return gone
}

func TestCleanupRemovesTheRunsObjectsAndNothingElse(t *testing.T) {
	ctx := context.Background()
	t.Setenv(config.EnvTimeouts, `{"ObjectDeleted":"5s"}`)
	c, keep := cleanupCluster()
	removed, err := Cleanup(ctx, c, testKinds, "r1", t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	if gone := removedOf(ctx, c, keep); len(gone) > 0 {
		t.Fatalf("cleanup removed objects the run did not create: %v", gone)
	}
	got := strings.Join(removed, ", ")
	for _, want := range []string{"ConfigMap database/operator-config", "RoleBinding database/operator", "Namespace dfe2e-git", "ClusterRole dragonfly-operator-manager"} {
		if !strings.Contains(got, want) {
			t.Errorf("removed %q lacks %q", got, want)
		}
	}
	// The pod goes with its namespace, not one by one.
	if strings.Contains(got, "Pod") {
		t.Errorf("a pod in the run's own namespace was deleted on its own: %s", got)
	}
	if left, err := Leftovers(ctx, c, testKinds, "r1"); err != nil || len(left) > 0 {
		t.Errorf("leftovers of r1: %v %v", left, err)
	}
}

// The check above must be able to fail: a cleanup that empties the
// namespaces it used (the naive way) removes the planted object, and the
// survival check names it.
func TestSurvivalCheckNamesAnUnlabelledObjectANaiveCleanupRemoved(t *testing.T) {
	ctx := context.Background()
	c, keep := cleanupCluster()
	if err := c.DeleteAllOf(ctx, &corev1.ConfigMap{}, client.InNamespace("database")); err != nil {
		t.Fatal(err)
	}
	gone := strings.Join(removedOf(ctx, c, keep), ", ")
	if !strings.Contains(gone, "ConfigMap database/users-settings") {
		t.Fatalf("the survival check missed the removed planted object: %q", gone)
	}
}

// ignoringSelector lists without the label selector, as a proxy that drops
// it would: Cleanup's own check of each object's label must still hold.
type ignoringSelector struct{ client.Client }

func (i ignoringSelector) List(ctx context.Context, l client.ObjectList, opts ...client.ListOption) error {
	return i.Client.List(ctx, l)
}

func TestCleanupChecksEachObjectsLabelEvenWhenTheSelectorIsIgnored(t *testing.T) {
	ctx := context.Background()
	t.Setenv(config.EnvTimeouts, `{"ObjectDeleted":"1s"}`)
	c, keep := cleanupCluster()
	_, _ = Cleanup(ctx, ignoringSelector{c}, testKinds, "r1", t.Logf)
	if gone := removedOf(ctx, c, keep); len(gone) > 0 {
		t.Fatalf("with the selector ignored, cleanup removed: %v", gone)
	}
}

func TestCleanupRefusesWithoutARunID(t *testing.T) {
	c, _ := cleanupCluster()
	if _, err := Cleanup(context.Background(), c, testKinds, "", nil); err == nil {
		t.Fatal("an empty run id must be refused")
	}
}

func TestLabelCreates(t *testing.T) {
	ctx := context.Background()
	base := fakecluster.Client(&corev1.ConfigMap{ObjectMeta: om("database", "theirs", map[string]string{"app": "x"})})
	c := LabelCreates(base, "r1")
	cm := &corev1.ConfigMap{ObjectMeta: om("database", "created", map[string]string{ManagedByLabel: "kustomize"})}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	var got corev1.ConfigMap
	must(t, base.Get(ctx, client.ObjectKeyFromObject(cm), &got))
	if got.Labels[RunLabel] != "r1" || got.Labels[ManagedByLabel] != "kustomize" {
		t.Errorf("created object: labels %v (want the run label, the object's own managed-by kept)", got.Labels)
	}
	applyErr := func(kind, ns, name string) error {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind,
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"bundle": "yes"}}}}
		return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("dfe2e"), client.ForceOwnership)
	}
	apply := func(name string) *corev1.ConfigMap {
		must(t, applyErr("ConfigMap", "database", name))
		var got corev1.ConfigMap
		must(t, base.Get(ctx, client.ObjectKey{Namespace: "database", Name: name}, &got))
		return &got
	}
	if l := apply("applied").Labels; l[RunLabel] != "r1" || l[ManagedByLabel] != ManagedByValue {
		t.Errorf("an apply that creates labels the object: %v", l)
	}
	if l := apply("applied").Labels; l[RunLabel] != "r1" {
		t.Errorf("a second apply of the run's object keeps its label: %v", l)
	}
	// Planted: objects of the user's where the run applies its own.
	err := applyErr("ConfigMap", "database", "theirs")
	if err == nil || !strings.Contains(err.Error(), "ConfigMap database/theirs already exists and this run did not create it") {
		t.Errorf("an apply over the user's object must be refused, naming it: %v", err)
	}
	var theirs corev1.ConfigMap
	must(t, base.Get(ctx, client.ObjectKey{Namespace: "database", Name: "theirs"}, &theirs))
	if theirs.Labels[RunLabel] != "" || theirs.Labels["bundle"] != "" || theirs.Labels["app"] != "x" {
		t.Errorf("the user's object was changed: %v", theirs.Labels)
	}
	must(t, base.Create(ctx, &corev1.Namespace{ObjectMeta: om("", "users", map[string]string{"team": "a"})}))
	must(t, applyErr("Namespace", "", "users"))
	var ns corev1.Namespace
	must(t, base.Get(ctx, client.ObjectKey{Name: "users"}, &ns))
	if len(ns.Labels) != 1 || ns.Labels["team"] != "a" {
		t.Errorf("the user's namespace must be used as it is: labels %v", ns.Labels)
	}
	if LabelCreates(base, "") != base {
		t.Error("without a run id the client is not wrapped")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNamespaceFree(t *testing.T) {
	ctx := context.Background()
	c := fakecluster.Client(&corev1.Namespace{ObjectMeta: om("", "database", nil)},
		&corev1.Namespace{ObjectMeta: om("", "left", RunLabels("r9"))})
	if err := NamespaceFree(ctx, c, "free"); err != nil {
		t.Errorf("absent namespace: %v", err)
	}
	if err := NamespaceFree(ctx, c, "database"); err == nil || !strings.Contains(err.Error(), "namespace database exists and this run did not create it") {
		t.Errorf("the user's namespace: %v", err)
	}
	if err := NamespaceFree(ctx, c, "left"); err == nil || !strings.Contains(err.Error(), "leftover of an interrupted dfe2e run r9") || !strings.Contains(err.Error(), "-l "+RunLabel+"=r9") {
		t.Errorf("a leftover: %v", err)
	}
}
