package fakecluster

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestClientHoldsTheObjectsOfBuiltInKinds(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df-0"}}
	c := Client(pod)
	var got corev1.Pod
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(pod), &got); err != nil || got.Name != "df-0" {
		t.Fatalf("pod given to Client: %v", err)
	}
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df"}}
	if err := c.Create(context.Background(), sts); err != nil {
		t.Fatalf("creating a StatefulSet: %v", err)
	}
	var pods corev1.PodList
	if err := Client().List(context.Background(), &pods); err != nil || len(pods.Items) != 0 {
		t.Fatalf("a new client must start empty: %d pods, %v", len(pods.Items), err)
	}
}
