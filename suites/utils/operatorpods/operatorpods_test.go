package operatorpods

import (
	"context"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dragonfly-e2e/dragonfly-e2e/internal/testutil/fakecluster"
	"github.com/dragonfly-e2e/dragonfly-e2e/operator"
)

func pod(ns, name, node string, labels map[string]string, images ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels}, Spec: corev1.PodSpec{NodeName: node}}
	for i, im := range images {
		c := corev1.Container{Name: "c" + string(rune('a'+i)), Image: im}
		if i == 0 {
			p.Spec.InitContainers = append(p.Spec.InitContainers, c)
		} else {
			p.Spec.Containers = append(p.Spec.Containers, c)
		}
	}
	return p
}

func TestListSelectsTheOperatorsPodsOnly(t *testing.T) {
	c := fakecluster.Client(
		pod(operator.Namespace, "op", "n", Labels),
		pod(operator.Namespace, "df", "n", map[string]string{"app": "test-cache"}),
		pod("other", "op-elsewhere", "n", Labels),
	)
	pods, err := List(context.Background(), c)
	if err != nil || len(pods) != 1 || pods[0].Name != "op" {
		t.Fatalf("List = %v, %v; want only %s/op", pods, err, operator.Namespace)
	}
}

func TestImagesNotOnNode(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind-control-plane"},
		Status: corev1.NodeStatus{Images: []corev1.ContainerImage{{Names: []string{"gcr.io/kubebuilder/kube-rbac-proxy:v0.16.0"}}}}}
	c := fakecluster.Client(node)
	pods := []corev1.Pod{
		*pod(operator.Namespace, "a", "kind-control-plane", nil, "busybox:1", "gcr.io/kubebuilder/kube-rbac-proxy:v0.16.0", "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"),
		*pod(operator.Namespace, "b", "kind-control-plane", nil, "busybox:1", "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"),
		*pod(operator.Namespace, "c", "no-such-node", nil, "never-looked-at:1"),
	}
	got := ImagesNotOnNode(context.Background(), c, pods)
	want := []string{"busybox:1", "docker.dragonflydb.io/dragonflydb/operator:v1.6.1"}
	if !slices.Equal(got, want) {
		t.Fatalf("ImagesNotOnNode = %v, want %v (init first, each once, unknown nodes skipped)", got, want)
	}
}

func TestSetImageChangesTheManagerOnly(t *testing.T) {
	ctx := context.Background()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: operator.Namespace, Name: operator.DeploymentName},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "kube-rbac-proxy", Image: "proxy:1"}, {Name: "manager", Image: "operator:old"}}}}}}
	c := fakecluster.Client(d)
	if err := SetImage(ctx, c, "operator:new"); err != nil {
		t.Fatal(err)
	}
	var got appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKeyFromObject(d), &got); err != nil {
		t.Fatal(err)
	}
	if cs := got.Spec.Template.Spec.Containers; cs[0].Image != "proxy:1" || cs[1].Image != "operator:new" {
		t.Fatalf("containers: %+v", cs)
	}
}
