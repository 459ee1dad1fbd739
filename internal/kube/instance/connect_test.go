package instance

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// Without an API server there is no forward: the error names the pod and
// port, and no client is handed out.
func TestConnectNamesThePodItCannotReach(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:1", Timeout: 5 * time.Second}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "df-0"}}
	c, closeAll, err := Connect(ctx, cfg, cs, pod, 6379, 1)
	if err == nil || !strings.Contains(err.Error(), "db/df-0:6379") || c != nil || closeAll != nil {
		t.Fatalf("Connect = %v, %v; want an error naming db/df-0:6379 and no client", c, err)
	}
}
